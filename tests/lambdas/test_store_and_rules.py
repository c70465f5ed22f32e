"""The store takes the client it is given; the entitlement rules and the records need no AWS."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.entitlement import ENTITLED_STATUSES, deciding_subscription
from shared.users import UserStore
from tests.support.billing_world import BillingWorld

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def test_a_store_reads_through_the_client_it_is_given(world: BillingWorld) -> None:
    client = world.boto("dynamodb")
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb.GetItem", lambda **_: calls.append("get"))
    world.put_user("user-store", stripeCustomerId="cus_storeFAKE")
    store = UserStore(world.users_table, world.events_table, "stripeCustomerId-index", client)
    record = store.get_user("user-store")
    assert record is not None and record["stripeCustomerId"] == "cus_storeFAKE"
    assert calls == ["get"]


@pytest.mark.parametrize("module", ["entitlement.py", "records.py", "contract.py", "config.py"])
def test_the_rules_import_nothing_of_aws_or_stripe(module: str) -> None:
    tree = ast.parse((LAMBDAS / "shared" / module).read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0] for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }  # fmt: skip
    assert not imported & {"boto3", "botocore", "stripe"}
    assert not any(
        isinstance(node, ast.ImportFrom) and node.module in ("shared.aws", "shared.users")
        for node in ast.walk(tree)
    )


@pytest.mark.parametrize(
    ("statuses", "decides"),
    [
        ([("canceled", 3), ("active", 1)], 1),  # entitled beats newer
        ([("active", 1), ("trialing", 2)], 2),  # then the newest
        ([("canceled", 1), ("unpaid", 2)], 2),  # none entitled: the newest
        ([], None),
    ],
)
def test_the_deciding_subscription(statuses: list[tuple[str, int]], decides: int | None) -> None:
    subscriptions = [{"id": created, "status": s, "created": created} for s, created in statuses]
    chosen = deciding_subscription(subscriptions)
    assert (chosen or {}).get("id") == decides
    assert "past_due" in ENTITLED_STATUSES, "past_due keeps access while Stripe retries"
