"""One stack's runtime world for handler tests: moto's server, the Stripe fake, the secret, the
tables, the environment a deployed function gets, and fresh handler modules (a cold container).
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.support import openapi
from tools.local.emulators import aws_client
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import fake_stripe_key

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = REPO_ROOT / "lambdas"
REGION = "us-east-1"
#: The stack these tests stand up (`{environment}-{projectName}`), stamped on its Stripe objects.
STACK_ID = "test-saas-billing"
CUSTOMER_INDEX = "stripeCustomerId-index"
_FUNCTION_MODULES = ("handler", "service", "verification", "signature", "reconciliation")


def fake_key(kind: str, tag: str = "FAKE") -> str:
    """A visibly fake Stripe test key, built at run time."""
    return fake_stripe_key(kind, "test", tag)


def fake_webhook_secret(tag: str = "FAKE") -> str:
    return "whsec_" + tag * (24 // len(tag))


def load_function(function_dir: str, module: str = "handler") -> ModuleType:
    """Import lambdas/<function_dir>/<module>.py fresh, as a new container would."""
    for name in _FUNCTION_MODULES:
        sys.modules.pop(name, None)
    path = str(LAMBDAS / function_dir)
    sys.path.insert(0, path)
    try:
        loaded = importlib.import_module(module)
        if module == "handler":
            loaded.handler = openapi.checked(loaded.handler)  # type: ignore[attr-defined]
        return loaded
    finally:
        sys.path.remove(path)
        for name in _FUNCTION_MODULES:
            sys.modules.pop(name, None)


def create_tables(
    dynamodb: Any, users_table: str, events_table: str, index_name: str = CUSTOMER_INDEX
) -> None:
    """The users table (with its customer index) and the processed-events table."""
    dynamodb.create_table(
        TableName=users_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "userId", "AttributeType": "S"},
            {"AttributeName": "stripeCustomerId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index_name,
                "KeySchema": [{"AttributeName": "stripeCustomerId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=events_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}],
    )


@dataclass
class BillingWorld:
    """Handles on everything a handler test touches."""

    aws_endpoint: str
    stripe: StripeFake
    secret_arn: str
    document: dict[str, Any]
    users_table: str = "test-saas-billing-users"
    events_table: str = "test-saas-billing-stripe-events"
    frontend: str = "https://app.example.com"
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

        return users.get_user(user_id)

    def put_user(self, user_id: str, **fields: Any) -> None:
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        item = {"userId": user_id, **fields}
        self.boto("dynamodb").put_item(
            TableName=self.users_table,
            Item={key: serializer.serialize(value) for key, value in item.items()},
        )

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
    ) -> dict[str, Any]:
        """An HTTP API payload-2.0 event, with the claims the JWT authorizer would pass."""
        text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{method} {path}",
            "rawPath": path,
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": method, "path": path}},
            "isBase64Encoded": base64_body,
        }
        if text is not None:
            event["body"] = base64.b64encode(text.encode()).decode() if base64_body else text
        if user_id is not None:
            claims = {"sub": user_id, **({"email": email} if email else {})}
            event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
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


def catalog_document() -> dict[str, Any]:
    """Two plans, as the program writes `stripe_catalog`: basic, and pro with a trial."""

    def price(price_id: str, amount: int, interval: str) -> dict[str, Any]:
        return {"id": price_id, "amount": amount, "interval": interval}

    return {
        "currency": "usd",
        "plans": [
            {
                "id": "basic",
                "name": "Basic",
                "description": None,
                "productId": "prod_basicFAKE",
                "trialDays": None,
                "features": [],
                "prices": {
                    "monthly": price(MONTHLY_PRICE, 999, "month"),
                    "annual": price(ANNUAL_PRICE, 9990, "year"),
                },
            },
            {
                "id": "pro",
                "name": "Pro",
                "description": "For teams",
                "productId": "prod_proFAKE",
                "trialDays": PRO_TRIAL_DAYS,
                "features": list(PRO_FEATURES),
                "prices": {
                    "monthly": price(PRO_MONTHLY_PRICE, 2999, "month"),
                    "annual": price(PRO_ANNUAL_PRICE, 29990, "year"),
                },
            },
        ],
    }


def deploy_world(moto_endpoint: str, stripe: StripeFake) -> tuple[BillingWorld, dict[str, str]]:
    """Reset both emulators and deploy one stack's secret, tables and prices on them.

    Returns the world and the environment a deployed function gets (plus emulator endpoints and
    fake credentials); the caller applies it (monkeypatch in tests, os.environ in benchmarks).
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
    world = BillingWorld(
        aws_endpoint=moto_endpoint, stripe=stripe, secret_arn="", document=dict(document)
    )
    world.secret_arn = world.boto("secretsmanager").create_secret(
        Name="test-saas-billing_secrets", SecretString=json.dumps(document)
    )["ARN"]
    create_tables(world.boto("dynamodb"), world.users_table, world.events_table)
    stripe.state.valid_keys.add(document["stripe_secret_key"])
    stripe.add_price(MONTHLY_PRICE, "month", 999)
    stripe.add_price(ANNUAL_PRICE, "year", 9990)
    stripe.add_price(PRO_MONTHLY_PRICE, "month", 2999)
    stripe.add_price(PRO_ANNUAL_PRICE, "year", 29990)
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "SECRET_ARN": world.secret_arn,
        "USERS_TABLE": world.users_table,
        "EVENTS_TABLE": world.events_table,
        "USERS_CUSTOMER_INDEX": CUSTOMER_INDEX,
        "STACK_ID": STACK_ID,
        "FRONTEND_DOMAIN": world.frontend,
        "STRIPE_API_BASE": stripe.base_url,
        "SECRETS_CACHE_TTL_SECONDS": "300",
    }
    return world, environment


def reset_runtime_caches() -> None:
    """A cold container: no cached clients, secret document or Stripe client."""
    from shared import aws, secrets, stripe_client
    from shared.config import reset_runtime_config

    reset_runtime_config()
    aws.reset_clients()
    secrets.reset_cache()
    stripe_client.reset_client()


def body(response: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])
