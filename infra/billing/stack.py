"""The whole billing stack, wired in dependency order.

HTTP API → webhook endpoint (needs the API URL) → secret version (needs the endpoint's
signing secret and the price ids) → functions (depend on the secret version, so the secret is
populated before any traffic) → integrations and routes. No resource is created in `apply`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from billing.app_secret import AppSecret, AppSecretArgs
from billing.contract import STACK_ID_VARIABLE
from billing.domain import CustomDomain, CustomDomainArgs
from billing.function import BillingFunction, BillingFunctionArgs, TableAccess
from billing.http_api import HttpApi, HttpApiArgs, LambdaRoutes, LambdaRoutesArgs
from billing.layer import SharedLayer, SharedLayerArgs
from billing.monitoring import Monitoring, MonitoringArgs
from billing.names import FunctionNames
from billing.packaging import build_function_archive, build_layer_archive
from billing.routes import SUBSCRIPTION_ROUTES, WEBHOOK_PATH, WEBHOOK_ROUTES
from billing.schedule import RateSchedule, RateScheduleArgs
from billing.settings import StackSettings
from billing.stripe_catalog import StripeCatalog, StripeCatalogArgs
from billing.stripe_version import STRIPE_API_VERSION
from billing.stripe_webhook import StripeWebhook, StripeWebhookArgs
from billing.tables import CUSTOMER_INDEX_NAME, BillingTables, BillingTablesArgs

#: Each API function's timeout: below API Gateway's 30 s, above the Stripe client's worst case.
FUNCTION_TIMEOUT_SECONDS = 15
#: The reconciliation pages through Stripe's events and stops cleanly 20 s before this.
RECONCILE_TIMEOUT_SECONDS = 300


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


def build_stack(settings: StackSettings) -> BillingStack:
    """Declare every resource of one stack from its settings."""
    api = HttpApi(
        "billing",
        HttpApiArgs(
            api_name=settings.names.api,
            access_log_group_name=settings.names.api_log_group,
            frontend_origin=settings.frontend_domain,
            jwt_issuer=settings.jwt_issuer,
            jwt_audience=settings.jwt_audience,
            throttle_rate_limit=settings.throttle_rate_limit,
            throttle_burst_limit=settings.throttle_burst_limit,
            log_retention_days=settings.log_retention_days,
            tags=settings.tags,
        ),
    )
    api_url: pulumi.Input[str] = api.api_endpoint
    if settings.api_domain is not None:
        domain = CustomDomain(
            "api-domain",
            CustomDomainArgs(
                domain_name=settings.api_domain.name,
                api_id=api.api_id,
                stage=api.stage_name,
                hosted_zone_id=settings.api_domain.hosted_zone_id,
                certificate_arn=settings.api_domain.certificate_arn,
                tags=settings.tags,
            ),
        )
        api_url = domain.url
    # Stripe calls the webhook where the frontend calls the API: the custom domain when set.
    webhook_url = pulumi.Output.concat(api_url, WEBHOOK_PATH)

    catalog = StripeCatalog(
        "stripe",
        StripeCatalogArgs(
            plans=settings.catalog.plans,
            currency=settings.catalog.currency,
            lookup_key_prefix=settings.prefix,
            return_url=settings.frontend_domain + settings.redirect_paths["portalReturnPath"],
            admin_api_key=settings.stripe_provider_key,
            tax_behavior=settings.catalog.tax_behavior,
        ),
    )
    # The first plan's prices under the keys existing consumers read; an interval no plan has
    # is left out rather than pointing at the wrong price.
    legacy_price_keys = {
        f"stripe_{interval}_price_id": price_id
        for interval in ("monthly", "annual")
        if (price_id := catalog.first_price_id(interval)) is not None
    }
    webhook = StripeWebhook(
        "stripe-webhook",
        StripeWebhookArgs(
            url=webhook_url,
            api_version=STRIPE_API_VERSION,
            secret_generation=settings.webhook_secret_generation,
            description=f"{settings.project} ({settings.environment}) subscription events",
        ),
    )
    secret = AppSecret(
        "app-secret",
        AppSecretArgs(
            secret_name=settings.names.secret,
            document={
                **settings.app_secrets,
                "stripe_secret_key": settings.stripe_api_key,
                "stripe_publishable_key": settings.stripe_publishable_key,
                "stripe_webhook_secret": webhook.signing_secret,
                **legacy_price_keys,
                "stripe_catalog": catalog.document(),
                "stripe_portal_configuration_id": catalog.portal_configuration_id,
            },
            recovery_window_days=settings.secret_recovery_window_days,
            kms_key_arn=settings.secret_kms_key_arn,
            tags=settings.tags,
        ),
    )
    tables = BillingTables(
        "tables",
        BillingTablesArgs(
            users_table_name=settings.names.users_table,
            events_table_name=settings.names.events_table,
            kms_key_arn=settings.secret_kms_key_arn,
            deletion_protection=settings.production,
            tags=settings.tags,
        ),
    )
    layer = SharedLayer(
        "shared-layer",
        SharedLayerArgs(layer_name=settings.names.layer, archive=build_layer_archive()),
    )

    common_environment: dict[str, pulumi.Input[str]] = {
        # The stack's identity, stamped on what it makes in Stripe (stacks may share an account).
        STACK_ID_VARIABLE: settings.prefix,
        "USERS_TABLE": tables.users_table_name,
        "SECRETS_CACHE_TTL_SECONDS": str(settings.secrets_cache_ttl_seconds),
        "LOG_LEVEL": settings.log_level,
    }

    def billing_function(
        name: str,
        folder: str,
        physical: FunctionNames,
        environment: dict[str, pulumi.Input[str]],
        table_access: list[TableAccess],
        timeout_seconds: int = FUNCTION_TIMEOUT_SECONDS,
        snap_start: bool = settings.snap_start,
    ) -> BillingFunction:
        return BillingFunction(
            name,
            BillingFunctionArgs(
                names=physical,
                archive=build_function_archive(folder),
                layer_arn=layer.arn,
                secret_arn=secret.arn,
                environment={**common_environment, **environment},
                table_access=table_access,
                log_retention_days=settings.log_retention_days,
                timeout_seconds=timeout_seconds,
                kms_key_arn=settings.secret_kms_key_arn,
                depends_on=[secret.version],
                snap_start=snap_start,
                log_level=settings.log_level,
                tags=settings.tags,
            ),
        )

    subscription = billing_function(
        "subscription",
        "subscription",
        settings.names.subscription,
        {
            "FRONTEND_DOMAIN": settings.frontend_domain,
            "ALLOW_PROMOTION_CODES": str(settings.catalog.allow_promotion_codes).lower(),
            "AUTOMATIC_TAX": str(settings.catalog.automatic_tax).lower(),
            "CHECKOUT_SUCCESS_PATH": settings.redirect_paths["checkoutSuccessPath"],
            "CHECKOUT_CANCEL_PATH": settings.redirect_paths["checkoutCancelPath"],
            "PORTAL_RETURN_PATH": settings.redirect_paths["portalReturnPath"],
        },
        [TableAccess(["GetItem", "UpdateItem"], [tables.users_table_arn])],
    )
    # The webhook and the reconciliation apply events through the same code and need the same
    # table access: the event and the user's state in one transaction, the cheap checks before
    # a Stripe call, the customer index, and an event's claim (put, and deleted on failure).
    event_tables = [
        TableAccess(["GetItem", "UpdateItem", "BatchGetItem"], [tables.users_table_arn]),
        TableAccess(["Query"], [tables.customer_index_arn]),
        TableAccess(["PutItem", "DeleteItem", "BatchGetItem"], [tables.events_table_arn]),
    ]
    event_environment: dict[str, pulumi.Input[str]] = {
        "EVENTS_TABLE": tables.events_table_name,
        "USERS_CUSTOMER_INDEX": CUSTOMER_INDEX_NAME,
    }
    webhook_function = billing_function(
        "stripe-webhook",
        "stripe_webhook",
        settings.names.webhook,
        event_environment,
        event_tables,
    )
    reconcile = billing_function(
        "reconcile",
        "reconcile",
        settings.names.reconcile,
        event_environment,
        # Its own progress lives in the events table, under a key of its own.
        [*event_tables, TableAccess(["GetItem"], [tables.events_table_arn])],
        timeout_seconds=RECONCILE_TIMEOUT_SECONDS,
        snap_start=False,  # invoked by a schedule, not on anyone's request path
    )
    RateSchedule(
        "reconcile",
        RateScheduleArgs(
            schedule_name=settings.names.reconcile_schedule,
            role_name=settings.names.reconcile_invoke_role,
            function_arn=reconcile.arn,
            function_name=reconcile.name,
            every_minutes=settings.reconcile_interval_minutes,
            tags=settings.tags,
        ),
    )
    for name, function, routes in (
        ("subscription-routes", subscription, SUBSCRIPTION_ROUTES),
        ("webhook-routes", webhook_function, WEBHOOK_ROUTES),
    ):
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

    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            prefix=settings.prefix,
            api_id=api.api_id,
            api_functions=[settings.names.subscription_function, settings.names.webhook_function],
            webhook_function=settings.names.webhook_function,
            webhook_log_group=webhook_function.log_group_name,
            outcome_log_groups={
                "stripe-webhook": webhook_function.log_group_name,
                "reconcile": reconcile.log_group_name,
                "subscription": subscription.log_group_name,
            },
            reconcile_function=settings.names.reconcile_function,
            reconcile_interval_minutes=settings.reconcile_interval_minutes,
            # The provider's own region: `aws:region` may be unset (the profile's region).
            region=aws.get_region_output().region,
            alarm_email=settings.alarm_email,
            tags=settings.tags,
        ),
    )

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
        subscription_function_name=subscription.name,
        webhook_function_name=webhook_function.name,
        reconcile_function_name=reconcile.name,
        users_table_name=tables.users_table_name,
        events_table_name=tables.events_table_name,
    )
