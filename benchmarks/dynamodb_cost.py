"""DynamoDB cost per webhook event, as the users table grows.

Requests are counted on the Lambda code's own client. Capacity units are COMPUTED from item
sizes with DynamoDB's published sizing rules (reads in 4 KB units, half for eventually consistent
reads; writes in 1 KB units, doubled in a transaction): the emulator's own figures are not real.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from benchmarks.naive import naive_find_user_by_scan, naive_update_user
from tools.harness import MONTHLY_PRICE, BillingWorld


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value (wire format)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = len(str(Decimal(raw)).replace("-", "").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in raw)
    return len(str(raw).encode())


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def read_units(total_bytes: int, consistent: bool = False) -> float:
    units = max(1, math.ceil(total_bytes / 4096))
    return units if consistent else units / 2


def write_units(size: int, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / 1024))
    return units * (2 if transactional else 1)


@contextmanager
def count_requests() -> Iterator[list[str]]:
    """Every DynamoDB operation the Lambda code's client sends, in order."""
    from shared import aws

    seen: list[str] = []
    events = aws.client("dynamodb").meta.events

    def record(model: Any, **kwargs: Any) -> None:
        seen.append(model.name)

    events.register("before-call.dynamodb", record)
    try:
        yield seen
    finally:
        events.unregister("before-call.dynamodb", record)


def populate(world: BillingWorld, users: int) -> None:
    """`users` realistic records, written in batches (not counted)."""
    client = world.boto("dynamodb")
    now = str(int(time.time()))
    for start in range(0, users, 25):
        batch = [
            {
                "PutRequest": {
                    "Item": {
                        "userId": {"S": f"user-{index:06d}"},
                        "email": {"S": f"user-{index:06d}@example.com"},
                        "stripeCustomerId": {"S": f"cus_{index:014d}"},
                        "stripeSubscriptionId": {"S": f"sub_{index:024d}"},
                        "isSubscribed": {"BOOL": True},
                        "plan": {"S": "monthly"},
                        "subscriptionStatus": {"S": "active"},
                        "currentPeriodEnd": {"N": str(1_900_000_000 + index)},
                        "cancelAtPeriodEnd": {"BOOL": False},
                        "createdAt": {"N": now},
                        "updatedAt": {"N": now},
                    }
                }
            }
            for index in range(start, min(start + 25, users))
        ]
        client.batch_write_item(RequestItems={world.users_table: batch})


@dataclass(frozen=True)
class EventCost:
    requests: list[str]
    read_units: float
    write_units: float


def follow(world: BillingWorld, user_id: str, subscription_id: str) -> None:
    """Make the record follow `subscription_id` (not counted): an event about the subscription a
    record follows is applied from its own object; another one re-reads the customer."""
    world.boto("dynamodb").update_item(
        TableName=world.users_table,
        Key={"userId": {"S": user_id}},
        UpdateExpression="SET stripeSubscriptionId = :subscription",
        ExpressionAttributeValues={":subscription": {"S": subscription_id}},
    )


def cost_of_update(world: BillingWorld, webhook: Any, users: int, named: bool) -> EventCost:
    """Deliver one customer.subscription.updated for an existing user; count and compute."""
    index = users // 2 + (0 if named else 1)  # another user: events a second apart are ordered
    user_id, customer = f"user-{index:06d}", f"cus_{index:014d}"
    world.stripe.add_price(MONTHLY_PRICE, "month", 999)
    subscription = world.stripe.create_subscription(
        customer, MONTHLY_PRICE, user_id=user_id if named else None
    )
    follow(world, user_id, subscription["id"])
    event = world.stripe.event("customer.subscription.updated", subscription)
    with count_requests() as requests:
        response = world.deliver(webhook, event)
    assert response["statusCode"] == 200 and '"applied"' in response["body"], response
    client = world.boto("dynamodb")
    user = client.get_item(TableName=world.users_table, Key={"userId": {"S": user_id}})["Item"]
    record = client.get_item(TableName=world.events_table, Key={"eventId": {"S": event["id"]}})
    reads = 0.0 if named else read_units(len(user_id) + len(customer) + 32)  # keys-only entry
    writes = write_units(item_size(user), True) + write_units(item_size(record["Item"]), True)
    return EventCost(list(requests), reads, writes)


def naive_cost_of_update(world: BillingWorld, users: int) -> EventCost:
    """NAIVE: Scan for the customer, then a plain update."""
    index = users // 2
    user_id, pages = naive_find_user_by_scan(f"cus_{index:014d}")
    assert user_id == f"user-{index:06d}"
    naive_update_user(user_id, "active")
    client = world.boto("dynamodb")
    scanned = sum(
        item_size(item)
        for page in client.get_paginator("scan").paginate(TableName=world.users_table)
        for item in page["Items"]
    )
    user = client.get_item(TableName=world.users_table, Key={"userId": {"S": user_id}})["Item"]
    computed_pages = max(1, math.ceil(scanned / (1024 * 1024)))
    requests_computed = ["Scan"] * computed_pages + ["UpdateItem"]
    del pages  # moto does not page at 1 MB like DynamoDB; the page count is computed
    return EventCost(requests_computed, read_units(scanned), write_units(item_size(user)))


@dataclass(frozen=True)
class ReconcileCost:
    events: int
    per_event: dict[str, float]
    """DynamoDB operation → requests per replayed event (the run's own bookkeeping apart)."""
    bookkeeping: list[str]


def cost_of_reconciliation(world: BillingWorld, events: int) -> ReconcileCost:
    """One reconciliation run replaying `events` undelivered subscription events."""
    from tools.harness import load_function

    now = int(time.time())
    for index in range(events):
        user, customer = f"user-{index:06d}", f"cus_{index:014d}"
        subscription = world.stripe.create_subscription(customer, MONTHLY_PRICE, user_id=user)
        follow(world, user, subscription["id"])
        event = world.stripe.event("customer.subscription.updated", subscription, now - index)
        world.stripe.record_event(event, delivered=False)
    reconciliation = load_function("reconcile", "reconciliation")
    with count_requests() as seen:
        result = reconciliation.reconcile(now + 1, lambda: 60_000)
    assert result.complete and result.outcomes == {"applied": events}, result
    bookkeeping = [seen[0], seen[-1]]  # read the progress first, save it last
    replay = seen[1:-1]
    per_event = {name: replay.count(name) / events for name in sorted(set(replay))}
    return ReconcileCost(events, per_event, bookkeeping)
