"""The cached secrets helper: one GetSecretValue per container per TTL window, clear errors."""

from __future__ import annotations

import threading
import time

import pytest

from shared import secrets
from shared.secrets import SecretsCache, SecretsError
from tests.support.billing_world import BillingWorld, fake_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_fetch(calls: list[int]):  # type: ignore[no-untyped-def]
    def fetch() -> dict[str, str]:
        calls.append(1)
        return {"value": str(len(calls))}

    return fetch


def test_a_thousand_warm_reads_cost_one_fetch_per_ttl_window() -> None:
    calls: list[int] = []
    clock = Clock()
    cache = SecretsCache(counting_fetch(calls), ttl_seconds=300, clock=clock)
    for _ in range(1000):
        cache.get()
    assert len(calls) == 1
    clock.now += 299
    cache.get()
    assert len(calls) == 1
    clock.now += 2
    assert cache.get() == {"value": "2"}, "an expired cache is fetched again"
    for _ in range(1000):
        cache.get()
    assert len(calls) == 2


def test_concurrent_cold_callers_share_one_fetch() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def slow_fetch() -> dict[str, str]:
        gate.wait(1)
        calls.append(1)
        return {"value": "x"}

    cache = SecretsCache(slow_fetch, ttl_seconds=300)
    threads = [threading.Thread(target=cache.get) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


def test_refresh_fetches_now_and_forced_refreshes_are_rate_limited() -> None:
    calls: list[int] = []
    clock = Clock()
    cache = SecretsCache(
        counting_fetch(calls), ttl_seconds=300, forced_refresh_interval=60, clock=clock
    )
    cache.get()
    assert cache.refresh() == {"value": "2"}
    assert cache.refresh_if_allowed() is True
    assert [cache.refresh_if_allowed() for _ in range(100)] == [False] * 100
    assert len(calls) == 3
    clock.now += 61
    assert cache.refresh_if_allowed() is True
    assert len(calls) == 4


def test_module_helpers_read_the_document_named_by_secret_arn(world: BillingWorld) -> None:
    for key in ("stripe_secret_key", "stripe_publishable_key", "stripe_monthly_price_id"):
        assert secrets.get_secret(key) == world.document[key]
    assert secrets.require_object("stripe_catalog") == world.document["stripe_catalog"]
    assert secrets.get_secret("no_such_key") is None
    assert len(world.secret_reads) == 1


def test_a_new_version_is_read_after_the_ttl_or_a_refresh(world: BillingWorld) -> None:
    assert secrets.get_secret("stripe_secret_key") == fake_key("sk")
    world.write_secret(stripe_secret_key=fake_key("sk", "NEWKEY"))
    assert secrets.get_secret("stripe_secret_key") == fake_key("sk"), "cached within the TTL"
    assert secrets.refresh_secrets_if_allowed() is True
    assert secrets.get_secret("stripe_secret_key") == fake_key("sk", "NEWKEY")


def test_a_missing_secret_arn_is_a_clear_error(
    world: BillingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.harness import reset_runtime_caches

    monkeypatch.delenv("SECRET_ARN")
    reset_runtime_caches()
    secrets.reset_cache()
    with pytest.raises(SecretsError, match="SECRET_ARN is not set"):
        secrets.get_secret("stripe_secret_key")


def test_a_missing_key_is_a_clear_error_without_values(world: BillingWorld) -> None:
    with pytest.raises(SecretsError, match="no 'stripe_tax_key'") as raised:
        secrets.require_secret("stripe_tax_key")
    for value in world.secret_values().values():
        assert value not in str(raised.value)


def test_an_aws_error_is_a_clear_error(
    world: BillingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.boto("secretsmanager").delete_secret(
        SecretId=world.secret_arn, ForceDeleteWithoutRecovery=True
    )
    with pytest.raises(SecretsError, match="could not read the billing secret: ResourceNotFound"):
        secrets.get_secret("stripe_secret_key")


def test_an_unreachable_secrets_manager_is_a_clear_error(
    world: BillingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared import aws

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws.reset_clients()
    with pytest.raises(SecretsError, match="could not reach Secrets Manager"):
        secrets.get_secret("stripe_secret_key")
