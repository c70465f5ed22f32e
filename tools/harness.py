"""One stack's runtime world, for tests, benchmarks and local tools alike.

What a deployed function stands on, taken from what the program declares (its tables, their
names and index, and every function's environment, read from one recording of the dev stack
under Pulumi's mocks), stood up on moto's server and the Stripe emulator, with a secret
document of visibly fake keys and a catalog written through the contract's `Catalog`. Also:
fresh handler modules (a cold container) and the caches a cold container starts without.
"""

from __future__ import annotations

import base64
import functools
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.contract import Env
from tools.local.emulators import aws_client
from tools.local.stack import table_definition
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import PROJECT, Recording, base_config, fake_stripe_key, run_program

REPO_ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"


def fake_key(kind: str, tag: str = "FAKE") -> str:
    """A visibly fake Stripe test key, built at run time."""
    return fake_stripe_key(kind, "test", tag)


def fake_webhook_secret(tag: str = "FAKE") -> str:
    return "whsec_" + tag * (24 // len(tag))


def load_function(
    function_dir: str,
    module: str = "handler",
    wrap_handler: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
) -> ModuleType:
    """`<function_dir>.<module>` as a new container imports it: its module code run afresh
    (reloaded), and `wrap_handler` around its `handler` (the tests check every answer against
    openapi.yaml)."""
    name = f"{function_dir}.{module}"
    imported_before = name in sys.modules
    loaded = importlib.import_module(name)
    if imported_before:  # a new container runs the module's code again
        loaded = importlib.reload(loaded)
    if module == "handler" and wrap_handler is not None:
        loaded.handler = wrap_handler(loaded.handler)  # type: ignore[attr-defined]
    return loaded


#: Teams on, as the shipped dev stack has them: a token with `org_id` acts for its organisation,
#: and one without it is a user's own account (so every B2C test runs with teams declared too).
TEAMS_CONFIG = {
    f"{PROJECT}:organizationClaim": "org_id",
    f"{PROJECT}:organizationAdminClaim": "org_role",
    f"{PROJECT}:organizationAdminValues": ["admin", "owner"],
}


@functools.cache
def declared() -> Recording:
    """The dev stack as the program declares it (one run per process, under mocks)."""
    return run_program(base_config("dev", **TEAMS_CONFIG))


def declared_environment() -> dict[str, str]:
    """Every variable the program gives any of its functions, as it gives them."""
    variables: dict[str, str] = {}
    for function in declared().of_type("aws:lambda/function:Function"):
        variables.update(function.inputs["environment"]["variables"])
    return variables


def create_tables(dynamodb: Any) -> tuple[str, str]:
    """The tables the program declares, as it declares them: (users table, events table)."""
    names = []
    for table in declared().of_type("aws:dynamodb/table:Table"):
        definition = table_definition(table.inputs)
        dynamodb.create_table(**definition)
        names.append(definition["TableName"])
    users = next(name for name in names if name.endswith("-users"))
    events = next(name for name in names if name.endswith("-stripe-events"))
    return users, events


@dataclass
class BillingWorld:
    """Handles on everything a handler test touches."""

    aws_endpoint: str
    stripe: StripeFake
    secret_arn: str
    document: dict[str, Any]
    users_table: str = ""
    events_table: str = ""
    frontend: str = ""
    secret_reads: list[str] = field(default_factory=list)

    # -- AWS -----------------------------------------------------------------------------

    def boto(self, service: str) -> Any:
        return aws_client(service, self.aws_endpoint, REGION)

    def secret_values(self) -> dict[str, str]:
        """The document's string values (the keys); the catalog object holds no secret."""
        return {key: value for key, value in self.document.items() if isinstance(value, str)}

    def write_secret(self, **changes: str) -> None:
        """Write a new secret version, as `pulumi up` does on rotation."""
        self.document.update(changes)
        self.boto("secretsmanager").put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps(self.document)
        )

    def user(self, user_id: str) -> dict[str, Any] | None:
        from shared import users

        return users.store().get_user(user_id)

    def put_user(self, user_id: str, **fields: Any) -> None:
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        item = {"userId": user_id, **fields}
        if "stripeCustomerId" in fields:  # a stored customer exists in Stripe, as in life
            self.stripe.ensure_customer(fields["stripeCustomerId"], email=fields.get("email"))
        self.boto("dynamodb").put_item(
            TableName=self.users_table,
            Item={key: serializer.serialize(value) for key, value in item.items()},
        )

    def declared_table(self, suffix: str) -> str:
        """The name of the declared table ending in `-{suffix}` (`members`)."""
        for table in declared().of_type("aws:dynamodb/table:Table"):
            if table.inputs["name"].endswith(f"-{suffix}"):
                return str(table.inputs["name"])
        raise LookupError(f"the program declares no {suffix} table")

    def processed_event_ids(self) -> set[str]:
        items = self.boto("dynamodb").scan(TableName=self.events_table)["Items"]
        return {item["eventId"]["S"] for item in items}

    def count_secret_reads(self) -> None:
        """Count GetSecretValue calls the Lambda code's own client makes."""
        from shared import aws

        aws.client("secretsmanager").meta.events.register(
            "before-call.secrets-manager.GetSecretValue",
            lambda **kwargs: self.secret_reads.append("GetSecretValue"),
        )

    # -- events --------------------------------------------------------------------------

    def api_event(
        self,
        method: str,
        path: str,
        body: Any = None,
        user_id: str | None = "user-1",
        email: str | None = "user-1@example.com",
        raw_body: str | None = None,
        base64_body: bool = False,
        claims: Mapping[str, Any] | None = None,
        route: str | None = None,
        path_parameters: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """An HTTP API payload-2.0 event, with the claims the JWT authorizer would pass
        (`claims` adds to `sub` and `email`; `route` is the route key's path template)."""
        text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{method} {route or path}",
            "rawPath": path,
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": method, "path": path}},
            "isBase64Encoded": base64_body,
        }
        if text is not None:
            event["body"] = base64.b64encode(text.encode()).decode() if base64_body else text
        if path_parameters:
            event["pathParameters"] = dict(path_parameters)
        if user_id is not None:
            verified = {"sub": user_id, **({"email": email} if email else {}), **(claims or {})}
            event["requestContext"]["authorizer"] = {"jwt": {"claims": verified, "scopes": None}}
        return event

    def webhook_request(
        self,
        payload: str,
        signature: str | None,
        header_name: str = "Stripe-Signature",
        base64_body: bool = False,
    ) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if signature is not None:
            headers[header_name] = signature
        return {
            "version": "2.0",
            "routeKey": "POST /stripe/webhook",
            "rawPath": "/stripe/webhook",
            "headers": headers,
            "requestContext": {"http": {"method": "POST", "path": "/stripe/webhook"}},
            "body": base64.b64encode(payload.encode()).decode() if base64_body else payload,
            "isBase64Encoded": base64_body,
        }

    def deliver(
        self, webhook: ModuleType, event: Mapping[str, Any], secret: str | None = None
    ) -> dict[str, Any]:
        """Sign `event` with the endpoint's secret and deliver it to the webhook handler."""
        payload, header = self.stripe.signed(
            event, secret or self.document["stripe_webhook_secret"]
        )
        return webhook.handler(self.webhook_request(payload, header), None)


MONTHLY_PRICE = "price_monthlyFAKE"
ANNUAL_PRICE = "price_annualFAKE"
PRO_MONTHLY_PRICE = "price_proMonthlyFAKE"
PRO_ANNUAL_PRICE = "price_proAnnualFAKE"
PRO_FEATURES = ["reports", "priority-support"]
PRO_TRIAL_DAYS = 14
METER_ID = "mtr_apiCallsFAKE"
#: `{environment}_{projectName}_{meter id}`, as the program names it.
METER_EVENT_NAME = "dev_saas-billing_api-calls"


TEAM_MONTHLY_PRICE = "price_teamMonthlyFAKE"
TEAM_ANNUAL_PRICE = "price_teamAnnualFAKE"
TEAM_FEATURES = ["reports", "sso"]
#: The api plan's metered price: 0.05 cents a call, no flat price.
API_CALLS_PRICE = "price_apiCallsFAKE"


def catalog_document() -> dict[str, Any]:
    """Four plans and a meter, written as the program writes `stripe_catalog` (the contract's
    `Catalog`): basic, pro with a trial and features, team (per seat), and api (on usage)."""
    from shared.contract import (
        Catalog,
        CatalogMeter,
        CatalogPlan,
        CatalogPrice,
        CatalogUsagePrice,
    )

    def prices(monthly: tuple[str, int], annual: tuple[str, int]) -> dict[str, CatalogPrice]:
        return {
            "monthly": CatalogPrice(monthly[0], monthly[1], "month"),
            "annual": CatalogPrice(annual[0], annual[1], "year"),
        }

    basic = CatalogPlan(
        "basic", "Basic", "prod_basicFAKE", prices((MONTHLY_PRICE, 999), (ANNUAL_PRICE, 9990))
    )
    pro = CatalogPlan(
        "pro",
        "Pro",
        "prod_proFAKE",
        prices((PRO_MONTHLY_PRICE, 2999), (PRO_ANNUAL_PRICE, 29990)),
        description="For teams",
        trial_days=PRO_TRIAL_DAYS,
        features=tuple(PRO_FEATURES),
    )
    team = CatalogPlan(
        "team",
        "Team",
        "prod_teamFAKE",
        prices((TEAM_MONTHLY_PRICE, 1200), (TEAM_ANNUAL_PRICE, 12000)),
        features=tuple(TEAM_FEATURES),
        per_seat=True,
    )
    api = CatalogPlan(
        "api",
        "API",
        "prod_apiFAKE",
        {},
        usage={"api-calls": {"monthly": CatalogUsagePrice(API_CALLS_PRICE, "0.05")}},
    )
    meter = CatalogMeter("api-calls", "API calls", METER_ID, METER_EVENT_NAME, "sum")
    return Catalog("usd", (basic, pro, team, api), (meter,)).to_document()


def deploy_world(moto_endpoint: str, stripe: StripeFake) -> tuple[BillingWorld, dict[str, str]]:
    """Reset both emulators and deploy one stack's secret, tables and prices on them.

    Returns the world and the environment a deployed function gets (the program's own, with
    the emulators' endpoints and fake credentials); the caller applies it (monkeypatch in
    tests, os.environ in benchmarks).
    """
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=5).raise_for_status()
    stripe.reset()
    document: dict[str, Any] = {
        "stripe_secret_key": fake_key("sk"),
        "stripe_publishable_key": fake_key("pk"),
        "stripe_webhook_secret": fake_webhook_secret(),
        "stripe_monthly_price_id": MONTHLY_PRICE,
        "stripe_annual_price_id": ANNUAL_PRICE,
        "stripe_portal_configuration_id": "bpc_FAKE",
        "stripe_catalog": catalog_document(),
    }
    declared_secret = declared().one("aws:secretsmanager/secret:Secret").inputs["name"]
    world = BillingWorld(
        aws_endpoint=moto_endpoint, stripe=stripe, secret_arn="", document=dict(document)
    )
    world.secret_arn = world.boto("secretsmanager").create_secret(
        Name=declared_secret, SecretString=json.dumps(document)
    )["ARN"]
    world.users_table, world.events_table = create_tables(world.boto("dynamodb"))
    stripe.stock(document, STACK_ID)
    environment = {
        **declared_environment(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
        Env.SECRET_ARN: world.secret_arn,
        Env.STRIPE_API_BASE: stripe.base_url,
        Env.STRIPE_METER_EVENTS_BASE: stripe.base_url,
    }
    world.frontend = environment[Env.FRONTEND_DOMAIN]
    assert environment[Env.STACK_ID] == STACK_ID, "the program's stack identity"
    return world, environment


#: The stack the harness stands up (`{environment}-{projectName}`), stamped on its Stripe objects.
STACK_ID = "dev-saas-billing"


def reset_runtime_caches() -> None:
    """A cold container: no configuration, cached clients, secret document or Stripe client."""
    from usage import stream

    from shared import aws, secrets, stripe_client, users
    from shared.config import reset_runtime_config

    reset_runtime_config()
    users.reset_store()
    aws.reset_clients()
    secrets.reset_cache()
    stripe_client.reset_client()
    stream.reset_session()


def body(response: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])
