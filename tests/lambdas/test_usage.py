"""The usage function against moto and the Stripe emulator: batches cost at most two Stripe
requests, redelivery counts once, failures are reported per message, and a message can only
bill its own user's customer."""

from __future__ import annotations

import json
import time
from types import ModuleType
from typing import Any

import pytest

from tests.support.billing_world import BillingWorld, load_function
from tools.harness import METER_ID

METER = "api-calls"


@pytest.fixture
def usage(world: BillingWorld) -> ModuleType:
    return load_function("usage")


def record(message_id: str, body: Any, sent: float | None = None) -> dict[str, Any]:
    """An SQS record as Lambda's event source hands it over."""
    text = body if isinstance(body, str) else json.dumps(body)
    sent_ms = str(int((sent or time.time()) * 1000))
    return {"messageId": message_id, "body": text, "attributes": {"SentTimestamp": sent_ms}}


def message(user: str, value: float, key: str, **extra: Any) -> dict[str, Any]:
    return {"userId": user, "meter": METER, "value": value, "idempotencyKey": key, **extra}


def stripe_requests(world: BillingWorld) -> int:
    return len(world.stripe.requests_to("POST", "/v2/billing/"))


def billed(world: BillingWorld, customer: str) -> float:
    """What the meter holds for `customer` over the last and next hour."""
    from tools.local.stripe_emulator import meters

    now = int(time.time())
    with world.stripe.state.lock:
        meter = world.stripe.state.objects[METER_ID]
        return float(meters.aggregate(world.stripe.state, meter, customer, now - 3600, now + 3600))


def customers(world: BillingWorld, *users: str) -> None:
    for user in users:
        world.put_user(user, stripeCustomerId=f"cus_{user}")


def test_a_batch_of_100_costs_two_stripe_requests_then_one_when_warm(
    world: BillingWorld, usage: ModuleType
) -> None:
    customers(world, "alice", "bob")
    batch = [record(f"m{n}", message("alice" if n % 2 else "bob", 1, f"k{n}")) for n in range(100)]
    assert usage.handler({"Records": batch}, None) == {"batchItemFailures": []}
    assert stripe_requests(world) == 2  # a session, then one stream request
    assert (billed(world, "cus_alice"), billed(world, "cus_bob")) == (50, 50)
    more = [record(f"n{n}", message("alice", 2, f"j{n}")) for n in range(100)]
    assert usage.handler({"Records": more}, None) == {"batchItemFailures": []}
    assert stripe_requests(world) == 3  # the warm container reuses its session
    assert billed(world, "cus_alice") == 250


def test_a_redelivered_batch_is_counted_once(world: BillingWorld, usage: ModuleType) -> None:
    customers(world, "alice")
    batch = [record(f"m{n}", message("alice", 1.5, f"k{n}")) for n in range(10)]
    usage.handler({"Records": batch}, None)
    usage.handler({"Records": batch}, None)  # SQS delivers at least once
    assert billed(world, "cus_alice") == 15


def test_only_the_messages_that_cannot_apply_are_reported(
    world: BillingWorld, usage: ModuleType
) -> None:
    customers(world, "alice")
    world.put_user("no-customer-yet")
    batch = [
        record("good", message("alice", 3, "a")),
        record("not-json", "{"),
        record("no-key", {"userId": "alice", "meter": METER, "value": 1}),
        record("text-value", message("alice", "3", "b")),  # type: ignore[arg-type]
        record("other-meter", {**message("alice", 1, "c"), "meter": "seats"}),
        record("no-customer", message("no-customer-yet", 1, "d")),
        record("unknown-user", message("mallory", 1, "e")),
    ]
    answer = usage.handler({"Records": batch}, None)
    failed = [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]
    # Malformed and unknown-meter messages are retried into the dead-letter queue; a user
    # without a Stripe customer (known or not) is logged and counted, never retried.
    assert failed == ["not-json", "no-key", "text-value", "other-meter"]
    assert billed(world, "cus_alice") == 3


def test_a_user_without_a_customer_is_logged_and_counted_not_retried(
    world: BillingWorld, usage: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    from usage.ingest import ingest

    world.put_user("no-customer-yet")
    result = ingest(
        [record("m1", message("no-customer-yet", 1, "x")), record("m2", message("bob", 1, "y"))]
    )
    assert (result.failed, result.sent, result.unbilled) == ([], 0, 2)
    lines = [r for r in caplog.records if getattr(r, "outcome", None) == "no_customer"]
    assert [getattr(r, "messageId", None) for r in lines] == ["m1", "m2"]


def test_a_message_cannot_bill_another_users_customer(
    world: BillingWorld, usage: ModuleType
) -> None:
    """The attack: a producer writes the victim's customer into the message."""
    customers(world, "mallory", "victim")
    attack = message("mallory", 1000, "x", stripeCustomerId="cus_victim")
    answer = usage.handler({"Records": [record("attack", attack)]}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "attack"}]}
    assert (billed(world, "cus_victim"), billed(world, "cus_mallory")) == (0, 0)
    usage.handler({"Records": [record("own", message("mallory", 7, "y"))]}, None)
    assert (billed(world, "cus_victim"), billed(world, "cus_mallory")) == (0, 7)


def test_a_stripe_outage_fails_the_batch_and_the_retry_counts_once(
    world: BillingWorld, usage: ModuleType
) -> None:
    customers(world, "alice")
    batch = [record(f"m{n}", message("alice", 1, f"k{n}")) for n in range(5)]
    usage.handler({"Records": batch[:1]}, None)  # a session is open
    world.stripe.state.fail_next = 1  # the stream request fails
    answer = usage.handler({"Records": batch}, None)
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [
        r["messageId"] for r in batch
    ]
    assert usage.handler({"Records": batch}, None) == {"batchItemFailures": []}
    assert billed(world, "cus_alice") == 5  # m0 was accepted before the outage: once


def test_a_session_about_to_expire_is_replaced_before_use(
    world: BillingWorld, usage: ModuleType
) -> None:
    customers(world, "alice")
    usage.handler({"Records": [record("a", message("alice", 1, "a"))]}, None)
    world.stripe.travel(15 * 60 - 30)  # the token has 30 s left: too little to trust
    from usage import stream

    assert stream._session is not None
    stream._session = stream._Session(stream._session.client, time.time() + 30)
    usage.handler({"Records": [record("b", message("alice", 1, "b"))]}, None)
    sessions = world.stripe.requests_to("POST", "/v2/billing/meter_event_session")
    assert len(sessions) == 2
    assert billed(world, "cus_alice") == 2


def test_usage_is_billed_when_it_happened_not_when_it_was_read(
    world: BillingWorld, usage: ModuleType
) -> None:
    customers(world, "alice")
    sent = time.time() - 2 * 3600
    usage.handler({"Records": [record("late", message("alice", 4, "late"), sent=sent)]}, None)
    assert billed(world, "cus_alice") == 0  # outside the last hour: it happened two hours ago
    event = world.stripe.state.meter_events[-1]
    assert event["timestamp"] == int(sent)


def test_100_messages_with_10_repeated_keys_make_90_meter_events_in_two_requests(
    world: BillingWorld, usage: ModuleType
) -> None:
    """SQS delivers at least once: 10 of the 100 messages carry the idempotency key of an
    earlier one (a producer's retry), and Stripe's identifiers keep one event per key."""
    customers(world, "alice")
    keys = [f"k{n}" for n in range(90)] + [f"k{n}" for n in range(10)]
    batch = [record(f"m{n}", message("alice", 1, key)) for n, key in enumerate(keys)]
    assert usage.handler({"Records": batch}, None) == {"batchItemFailures": []}
    assert stripe_requests(world) <= 2
    identifiers = [event["identifier"] for event in world.stripe.state.meter_events]
    assert len(identifiers) == len(set(identifiers)) == 90
    assert billed(world, "cus_alice") == 90
