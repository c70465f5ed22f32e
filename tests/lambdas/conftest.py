"""Fixtures for handler tests: moto's server and the Stripe fake on loopback, fresh per test."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.support.billing_world import (
    BillingWorld,
    deploy_world,
    load_function,
    reset_runtime_caches,
)
from tools.local.emulators import running_moto, running_stripe_fake
from tools.local.stripe_emulator import StripeFake


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with running_moto() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def stripe_fake() -> Iterator[StripeFake]:
    with running_stripe_fake() as fake:
        yield fake


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
