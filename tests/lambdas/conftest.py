"""Fixtures for handler tests: moto's server and the Stripe fake on loopback, fresh per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from tests.support.billing_world import (
    REGION,
    BillingWorld,
    create_tables,
    fake_key,
    fake_webhook_secret,
    load_function,
)
from tests.support.stripe_fake import StripeFake

MONTHLY_PRICE = "price_monthlyFAKE"
ANNUAL_PRICE = "price_annualFAKE"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def stripe_fake() -> Iterator[StripeFake]:
    fake = StripeFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def world(
    moto_endpoint: str, stripe_fake: StripeFake, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BillingWorld]:
    """A freshly deployed stack: secret, tables, prices, environment, cold caches."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=5).raise_for_status()
    stripe_fake.reset()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    document = {
        "stripe_secret_key": fake_key("sk"),
        "stripe_publishable_key": fake_key("pk"),
        "stripe_webhook_secret": fake_webhook_secret(),
        "stripe_monthly_price_id": MONTHLY_PRICE,
        "stripe_annual_price_id": ANNUAL_PRICE,
        "stripe_portal_configuration_id": "bpc_FAKE",
    }
    secrets_manager = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name=REGION)
    secret_arn = secrets_manager.create_secret(
        Name="test-saas-billing_secrets", SecretString=json.dumps(document)
    )["ARN"]
    world = BillingWorld(
        aws_endpoint=moto_endpoint,
        stripe=stripe_fake,
        secret_arn=secret_arn,
        document=dict(document),
    )
    create_tables(world.boto("dynamodb"), world.users_table, world.events_table)
    for name, value in {
        "SECRET_ARN": secret_arn,
        "USERS_TABLE": world.users_table,
        "EVENTS_TABLE": world.events_table,
        "USERS_CUSTOMER_INDEX": "stripeCustomerId-index",
        "FRONTEND_DOMAIN": world.frontend,
        "STRIPE_API_BASE": stripe_fake.base_url,
        "SECRETS_CACHE_TTL_SECONDS": "300",
    }.items():
        monkeypatch.setenv(name, value)
    stripe_fake.state.valid_keys.add(document["stripe_secret_key"])
    stripe_fake.add_price(MONTHLY_PRICE, "month", 999)
    stripe_fake.add_price(ANNUAL_PRICE, "year", 9990)

    from shared import aws, secrets, stripe_client

    aws.reset_clients()
    secrets.reset_cache()
    stripe_client.reset_client()
    world.count_secret_reads()
    yield world
    aws.reset_clients()
    secrets.reset_cache()
    stripe_client.reset_client()


@pytest.fixture
def subscription(world: BillingWorld) -> ModuleType:
    return load_function("subscription")


@pytest.fixture
def webhook(world: BillingWorld) -> ModuleType:
    return load_function("stripe_webhook")
