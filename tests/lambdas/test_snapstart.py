"""SnapStart hooks: warm at snapshot init only; nothing secret or unique survives a restore."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from shared import aws, secrets, snapstart, stripe_client
from tests.support.billing_world import BillingWorld, fake_key, load_function


@pytest.fixture
def registered() -> Iterator[list[Any]]:
    """The runtime's own hook registry (`snapshot_restore_py`, as Lambda ships it), emptied."""
    import snapshot_restore_py

    hooks: list[Any] = snapshot_restore_py.get_after_restore()
    hooks.clear()
    yield hooks
    hooks.clear()


def test_an_ordinary_init_warms_nothing(
    monkeypatch: pytest.MonkeyPatch, registered: list[Any]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    warmed: list[str] = []
    assert snapstart.prepare_snapshot(lambda: warmed.append("warm")) is False
    assert warmed == [] and registered == []


def test_a_snapshot_init_warms_and_registers_the_restore_hook(
    world: BillingWorld, monkeypatch: pytest.MonkeyPatch, registered: list[Any]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    load_function("subscription")
    assert [hook for hook, _, _ in registered] == [snapstart.after_restore]
    assert aws.client.cache_info().currsize == 2, "secretsmanager and dynamodb clients"
    assert "stripe" in sys.modules
    assert world.secret_reads == [], "no secret may be read into a snapshot"


def test_restoring_drops_the_secret_clients_and_random_state(
    world: BillingWorld, monkeypatch: pytest.MonkeyPatch, registered: list[Any]
) -> None:
    """The restore runs as Lambda's runtime runs it: its hook runner calls what was registered."""
    runner = pytest.importorskip(
        "awslambdaric.lambda_runtime_hooks_runner",
        reason="Lambda's runtime code ships Linux wheels only",
    )

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    load_function("subscription")
    old_key = world.document["stripe_secret_key"]
    assert secrets.require_secret("stripe_secret_key") == old_key
    stripe_client.stripe_client()
    random.seed(42)
    snapshot_state = random.getstate()
    new_key = fake_key("sk", "ROTATED")
    world.write_secret(stripe_secret_key=new_key)  # rotated after the snapshot was taken

    runner.run_after_restore()

    assert aws.client.cache_info().currsize == 0
    assert stripe_client._client is None
    assert random.getstate() != snapshot_state
    world.secret_reads.clear()
    world.count_secret_reads()  # on the client created after the restore
    assert secrets.require_secret("stripe_secret_key") == new_key
    assert world.secret_reads == ["GetSecretValue"]


def test_without_the_runtime_library_the_hook_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    warmed: list[str] = []
    assert snapstart.prepare_snapshot(lambda: warmed.append("warm")) is True
    assert warmed == ["warm"]
