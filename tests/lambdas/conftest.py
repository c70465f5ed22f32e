"""Fixtures for handler tests: moto's server and the Stripe fake on loopback, fresh per test."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from moto.server import ThreadedMotoServer

from tests.support.billing_world import (
    BillingWorld,
    deploy_world,
    load_function,
    reset_runtime_caches,
)
from tests.support.stripe_fake import StripeFake


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
    world, environment = deploy_world(moto_endpoint, stripe_fake)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_runtime_caches()
    world.count_secret_reads()
    yield world
    reset_runtime_caches()


@pytest.fixture
def subscription(world: BillingWorld) -> ModuleType:
    return load_function("subscription")


@pytest.fixture
def webhook(world: BillingWorld) -> ModuleType:
    return load_function("stripe_webhook")
