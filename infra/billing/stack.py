"""The whole billing stack, wired in dependency order.

HTTP API (and its custom domain) → Stripe catalog → webhook endpoint (needs the API's URL) →
secret version (needs the endpoint's signing secret and the price ids) → tables and layer →
functions (depend on the secret version, so the secret is populated before any traffic; one
table of specs, `FUNCTIONS`) → the reconciliation's schedule → routes → monitoring. No resource
is created in `apply`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from billing.build.packaging import build_function_archive, build_layer_archive
from billing.components.app_secret import AppSecret, AppSecretArgs
from billing.components.domain import CustomDomain, CustomDomainArgs
from billing.components.function import BillingFunction, BillingFunctionArgs, TableAccess
from billing.components.http_api import HttpApi, HttpApiArgs, LambdaRoutes, LambdaRoutesArgs
from billing.components.layer import SharedLayer, SharedLayerArgs
from billing.components.monitoring import Monitoring, MonitoringArgs
from billing.components.schedule import RateSchedule, RateScheduleArgs
from billing.components.stripe_catalog import StripeCatalog, StripeCatalogArgs
from billing.components.stripe_entitlements import (
    PlanFeatures,
    StripeEntitlements,
    StripeEntitlementsArgs,
)
from billing.components.stripe_webhook import StripeWebhook, StripeWebhookArgs
from billing.components.tables import BillingTables, BillingTablesArgs
from billing.components.usage_queue import UsageQueue, UsageQueueArgs
from billing.config import StackSettings
from billing.config.names import FunctionNames, StackNames
from billing.contract import contract

Env = contract.Env
#: Each API function's timeout: below API Gateway's 30 s, above the Stripe client's worst case.
FUNCTION_TIMEOUT_SECONDS = 15
#: The reconciliation pages through Stripe's events and stops cleanly 20 s before this.
RECONCILE_TIMEOUT_SECONDS = 300
#: The usage function sends one batch: a session and one stream request, 5 s each at most.
USAGE_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class BillingStack:
    """What the program exports."""

    alarm_topic_arn: pulumi.Output[str]
    api_url: pulumi.Output[str]
    webhook_url: pulumi.Output[str]
    secret_arn: pulumi.Output[str]
    product_id: pulumi.Output[str]
    """The first plan's product."""
    monthly_price_id: pulumi.Output[str] | None
    annual_price_id: pulumi.Output[str] | None
    catalog: dict[str, Any]
    """Plan id → product and price ids (not secret: price ids are public in Checkout)."""
    subscription_function_name: pulumi.Output[str]
    webhook_function_name: pulumi.Output[str]
    reconcile_function_name: pulumi.Output[str]
    users_table_name: pulumi.Output[str]
    events_table_name: pulumi.Output[str]
    usage_function_name: pulumi.Output[str]
    usage_queue_url: pulumi.Output[str]
    usage_queue_arn: pulumi.Output[str]
    usage_producer_policy_arn: pulumi.Output[str]


@dataclass(frozen=True)
class Shared:
    """What every function is built on: settings, the secret, the tables, the layer and the
    usage queue."""

    settings: StackSettings
    secret: AppSecret
    tables: BillingTables
    layer: SharedLayer
    usage_queue: UsageQueue


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the stack: its code, names, environment and table access."""

    name: str
    """The logical name (and the prefix of its children's)."""
    folder: str
    """lambdas/<folder>: the function's own code."""
    names: Callable[[StackNames], FunctionNames]
    environment: Callable[[Shared], Mapping[str, pulumi.Input[str]]]
    table_access: Callable[[BillingTables], list[TableAccess]]
    timeout_seconds: int = FUNCTION_TIMEOUT_SECONDS
    on_request_path: bool = True
    """Serves requests (SnapStart applies when configured); the reconciliation does not."""
    consumes_usage_queue: bool = False


def _subscription_environment(shared: Shared) -> dict[str, pulumi.Input[str]]:
    settings = shared.settings
    paths = settings.api.redirect_paths
    return {
        Env.FRONTEND_DOMAIN: settings.api.frontend_domain,
        Env.ALLOW_PROMOTION_CODES: str(settings.catalog.allow_promotion_codes).lower(),
        Env.AUTOMATIC_TAX: str(settings.catalog.automatic_tax).lower(),
        Env.CHECKOUT_SUCCESS_PATH: paths["checkoutSuccessPath"],
        Env.CHECKOUT_CANCEL_PATH: paths["checkoutCancelPath"],
        Env.PORTAL_RETURN_PATH: paths["portalReturnPath"],
    }


def _organization_environment(shared: Shared) -> dict[str, pulumi.Input[str]]:
    """Teams' settings for the subscription function (none on a B2C stack)."""
    teams, tables = shared.settings.organizations, shared.tables
    if not teams.enabled or tables.members_table_name is None:
        return {}
    return {
        Env.ORGANIZATION_CLAIM: str(teams.claim),
        Env.ORGANIZATION_ADMIN_CLAIM: str(teams.admin_claim),
        Env.ORGANIZATION_ADMIN_VALUES: ",".join(teams.admin_values),
        Env.SEAT_PRORATION_BEHAVIOR: teams.seat_proration_behavior,
        Env.MEMBERS_TABLE: tables.members_table_name,
    }


def _subscription_tables(tables: BillingTables) -> list[TableAccess]:
    """Its record (read, written); with teams, a member's seat and the organisation's record in
    one BatchGetItem, and seat changes as transactions over both tables."""
    access = [TableAccess(["GetItem", "UpdateItem"], [tables.users_table_arn])]
    if tables.members_table_arn is not None:
        both = [tables.users_table_arn, tables.members_table_arn]
        access += [
            TableAccess(["BatchGetItem", "ConditionCheckItem"], both),
            TableAccess(["PutItem", "DeleteItem", "Query"], [tables.members_table_arn]),
        ]
    return access


def _event_environment(shared: Shared) -> dict[str, pulumi.Input[str]]:
    return {
        Env.EVENTS_TABLE: shared.tables.events_table_name,
        Env.USERS_CUSTOMER_INDEX: contract.Table.CUSTOMER_INDEX,
    }


def _event_tables(tables: BillingTables) -> list[TableAccess]:
    """The webhook's and the reconciliation's: the event and the user's state in one
    transaction, the cheap checks before a Stripe call, the customer index, an event's claim
    (put, and deleted on failure)."""
    return [
        TableAccess(["GetItem", "UpdateItem", "BatchGetItem"], [tables.users_table_arn]),
        TableAccess(["Query"], [tables.customer_index_arn]),
        TableAccess(["PutItem", "DeleteItem", "BatchGetItem"], [tables.events_table_arn]),
    ]


FUNCTIONS = (
    FunctionSpec(
        "subscription",
        "subscription",
        lambda names: names.subscription,
        lambda shared: {**_subscription_environment(shared), **_organization_environment(shared)},
        _subscription_tables,
    ),
    FunctionSpec(
        "stripe-webhook",
        "stripe_webhook",
        lambda names: names.webhook,
        _event_environment,
        _event_tables,
    ),
    FunctionSpec(
        "reconcile",
        "reconcile",
        lambda names: names.reconcile,
        _event_environment,
        # Its own progress lives in the events table, under a key of its own.
        lambda tables: [
            *_event_tables(tables),
            TableAccess(["GetItem"], [tables.events_table_arn]),
        ],
        timeout_seconds=RECONCILE_TIMEOUT_SECONDS,
        on_request_path=False,
    ),
    FunctionSpec(
        "usage",
        "usage",
        lambda names: names.usage,
        # Only what every function gets: the secret (key, catalog) and the users table.
        lambda shared: {},
        # One BatchGetItem resolves a batch's users to their Stripe customers.
        lambda tables: [TableAccess(["BatchGetItem"], [tables.users_table_arn])],
        timeout_seconds=USAGE_TIMEOUT_SECONDS,
        on_request_path=False,
        consumes_usage_queue=True,
    ),
)


#: (logical name, function, the routes it serves).
ROUTES = (
    ("subscription-routes", "subscription", contract.SUBSCRIPTION_ROUTES),
    ("webhook-routes", "stripe-webhook", contract.WEBHOOK_ROUTES),
)


def build_stack(settings: StackSettings) -> BillingStack:
    """Declare every resource of one stack from its settings, in dependency order."""
    api, api_url = _api(settings)
    webhook_url = pulumi.Output.concat(api_url, contract.WEBHOOK_PATH)
    catalog = _catalog(settings)
    _entitlements(settings, catalog)
    webhook = _webhook(settings, webhook_url)
    secret = _secret(settings, catalog, webhook)
    usage_queue = _usage_queue(settings)
    shared = Shared(settings, secret, _tables(settings), _layer(settings), usage_queue)
    functions = {spec.name: _function(shared, spec) for spec in FUNCTIONS}
    _schedule(settings, functions["reconcile"])
    usage_queue.feed("usage-source", functions["usage"].arn)
    for name, function, routes in ROUTES:
        _routes(name, api, functions[function], routes)
    if settings.organizations.enabled:
        _routes("organization-routes", api, functions["subscription"], contract.ORGANIZATION_ROUTES)
    monitoring = _monitoring(settings, api, functions)
    return BillingStack(
        alarm_topic_arn=monitoring.topic_arn,
        api_url=pulumi.Output.from_input(api_url),
        webhook_url=webhook_url,
        secret_arn=secret.arn,
        product_id=catalog.plans[0].product_id,
        monthly_price_id=catalog.first_price_id("monthly"),
        annual_price_id=catalog.first_price_id("annual"),
        catalog={
            plan.plan.id: {"productId": plan.product_id, "priceIds": plan.price_ids}
            for plan in catalog.plans
        },
        subscription_function_name=functions["subscription"].name,
        webhook_function_name=functions["stripe-webhook"].name,
        reconcile_function_name=functions["reconcile"].name,
        users_table_name=shared.tables.users_table_name,
        events_table_name=shared.tables.events_table_name,
        usage_function_name=functions["usage"].name,
        usage_queue_url=usage_queue.url,
        usage_queue_arn=usage_queue.arn,
        usage_producer_policy_arn=usage_queue.producer_policy_arn,
    )


def _api(settings: StackSettings) -> tuple[HttpApi, pulumi.Input[str]]:
    """The HTTP API and the URL callers use: its own domain's once that answers."""
    api = HttpApi(
        "billing",
        HttpApiArgs(
            api_name=settings.names.api,
            access_log_group_name=settings.names.api_log_group,
            frontend_origin=settings.api.frontend_domain,
            jwt_issuer=settings.api.jwt_issuer,
            jwt_audience=settings.api.jwt_audience,
            throttle_rate_limit=settings.api.throttle_rate_limit,
            throttle_burst_limit=settings.api.throttle_burst_limit,
            log_retention_days=settings.operations.log_retention_days,
            tags=settings.tags,
        ),
    )
    domain = settings.api.domain
    if domain is None:
        return api, api.api_endpoint
    custom = CustomDomain(
        "api-domain",
        CustomDomainArgs(
            domain_name=domain.name,
            api_id=api.api_id,
            stage=api.stage_name,
            hosted_zone_id=domain.hosted_zone_id,
            certificate_arn=domain.certificate_arn,
            tags=settings.tags,
        ),
    )
    return api, custom.url


def _catalog(settings: StackSettings) -> StripeCatalog:
    return StripeCatalog(
        "stripe",
        StripeCatalogArgs(
            plans=settings.catalog.plans,
            currency=settings.catalog.currency,
            lookup_key_prefix=settings.prefix,
            return_url=settings.api.frontend_domain
            + settings.api.redirect_paths["portalReturnPath"],
            admin_api_key=settings.stripe.provider_key,
            tax_behavior=settings.catalog.tax_behavior,
            meters=settings.catalog.meters,
            event_name_prefix=f"{settings.environment}_{settings.project}_",
        ),
    )


def _entitlements(settings: StackSettings, catalog: StripeCatalog) -> StripeEntitlements | None:
    """Each catalog feature as an entitlement feature on its plans' products (None: no features)."""
    plans = [
        PlanFeatures(plan.plan.id, plan.product_id, plan.plan.features)
        for plan in catalog.plans
        if plan.plan.features
    ]
    if not plans:
        return None
    return StripeEntitlements(
        "stripe-entitlements",
        StripeEntitlementsArgs(plans=plans, lookup_key_prefix=settings.prefix),
    )


def _webhook(settings: StackSettings, url: pulumi.Output[str]) -> StripeWebhook:
    return StripeWebhook(
        "stripe-webhook",
        StripeWebhookArgs(
            url=url,
            api_version=contract.STRIPE_API_VERSION,
            secret_generation=settings.secrets.webhook_secret_generation,
            description=f"{settings.project} ({settings.environment}) subscription events",
        ),
    )


def _secret(settings: StackSettings, catalog: StripeCatalog, webhook: StripeWebhook) -> AppSecret:
    """The secret document (`shared.contract.SecretKey`): keys, Stripe's outputs, app secrets."""
    key = contract.SecretKey
    # The first plan's prices under the keys existing consumers read; an interval no plan has
    # is left out rather than pointing at the wrong price.
    legacy_prices = {
        name: price_id
        for name, interval in (
            (key.STRIPE_MONTHLY_PRICE_ID, "monthly"),
            (key.STRIPE_ANNUAL_PRICE_ID, "annual"),
        )
        if (price_id := catalog.first_price_id(interval)) is not None
    }
    return AppSecret(
        "app-secret",
        AppSecretArgs(
            secret_name=settings.names.secret,
            document={
                **settings.secrets.app_secrets,
                key.STRIPE_SECRET_KEY: settings.stripe.api_key,
                key.STRIPE_PUBLISHABLE_KEY: settings.stripe.publishable_key,
                key.STRIPE_WEBHOOK_SECRET: webhook.signing_secret,
                **legacy_prices,
                key.STRIPE_CATALOG: catalog.document(),
                key.STRIPE_PORTAL_CONFIGURATION_ID: catalog.portal_configuration_id,
            },
            recovery_window_days=settings.secrets.recovery_window_days,
            kms_key_arn=settings.secrets.kms_key_arn,
            tags=settings.tags,
        ),
    )


def _tables(settings: StackSettings) -> BillingTables:
    return BillingTables(
        "tables",
        BillingTablesArgs(
            users_table_name=settings.names.users_table,
            events_table_name=settings.names.events_table,
            kms_key_arn=settings.secrets.kms_key_arn,
            deletion_protection=settings.production,
            tags=settings.tags,
            members_table_name=(
                settings.names.members_table if settings.organizations.enabled else None
            ),
        ),
    )


def _usage_queue(settings: StackSettings) -> UsageQueue:
    return UsageQueue(
        "usage",
        UsageQueueArgs(
            queue_name=settings.names.usage_queue,
            dead_letter_queue_name=settings.names.usage_dead_letter_queue,
            producer_policy_name=settings.names.usage_producer_policy,
            visibility_timeout_seconds=6 * USAGE_TIMEOUT_SECONDS,
            tags=settings.tags,
        ),
    )


def _layer(settings: StackSettings) -> SharedLayer:
    return SharedLayer(
        "shared-layer",
        SharedLayerArgs(layer_name=settings.names.layer, archive=build_layer_archive()),
    )


def _function(shared: Shared, spec: FunctionSpec) -> BillingFunction:
    """One function from its spec; every function gets the environment all of them read."""
    settings, operations = shared.settings, shared.settings.operations
    environment: dict[str, pulumi.Input[str]] = {
        # The stack's identity, stamped on what it makes in Stripe (stacks may share an account).
        Env.STACK_ID: settings.prefix,
        Env.USERS_TABLE: shared.tables.users_table_name,
        Env.SECRETS_CACHE_TTL_SECONDS: str(settings.secrets.cache_ttl_seconds),
        Env.LOG_LEVEL: operations.log_level,
        **spec.environment(shared),
    }
    return BillingFunction(
        spec.name,
        BillingFunctionArgs(
            names=spec.names(settings.names),
            package=spec.folder,
            archive=build_function_archive(spec.folder),
            layer_arn=shared.layer.arn,
            secret_arn=shared.secret.arn,
            environment=environment,
            table_access=spec.table_access(shared.tables),
            log_retention_days=operations.log_retention_days,
            timeout_seconds=spec.timeout_seconds,
            kms_key_arn=settings.secrets.kms_key_arn,
            depends_on=[shared.secret.version],
            consumes_queue_arn=shared.usage_queue.arn if spec.consumes_usage_queue else None,
            snap_start=operations.snap_start and spec.on_request_path,
            log_level=operations.log_level,
            tags=settings.tags,
        ),
    )


def _schedule(settings: StackSettings, reconcile: BillingFunction) -> None:
    RateSchedule(
        "reconcile",
        RateScheduleArgs(
            schedule_name=settings.names.reconcile_schedule,
            role_name=settings.names.reconcile_invoke_role,
            function_arn=reconcile.arn,
            function_name=reconcile.name,
            every_minutes=settings.operations.reconcile_interval_minutes,
            tags=settings.tags,
        ),
    )


def _routes(
    name: str, api: HttpApi, function: BillingFunction, routes: tuple[contract.RouteKey, ...]
) -> None:
    LambdaRoutes(
        name,
        LambdaRoutesArgs(
            api=api,
            function_name=function.name,
            invoke_arn=function.invoke_arn,
            qualifier=function.alias_name,
            routes=routes,
        ),
    )


def _monitoring(
    settings: StackSettings, api: HttpApi, functions: Mapping[str, BillingFunction]
) -> Monitoring:
    names = settings.names
    return Monitoring(
        "monitoring",
        MonitoringArgs(
            prefix=settings.prefix,
            api_id=api.api_id,
            api_functions=[names.subscription_function, names.webhook_function],
            webhook_function=names.webhook_function,
            webhook_log_group=functions["stripe-webhook"].log_group_name,
            outcome_log_groups={
                name: function.log_group_name
                for name, function in functions.items()
                if name != "usage"  # it decides no subscription
            },
            reconcile_function=names.reconcile_function,
            reconcile_interval_minutes=settings.operations.reconcile_interval_minutes,
            # The provider's own region: `aws:region` may be unset (the profile's region).
            region=aws.get_region_output().region,
            alarm_email=settings.operations.alarm_email,
            tags=settings.tags,
            usage_function=names.usage_function,
            usage_dead_letter_queue=names.usage_dead_letter_queue,
            usage_queue=names.usage_queue,
        ),
    )
