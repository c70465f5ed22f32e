"""State that heals itself: sync, reconciliation of missed webhooks, and malformed events."""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
from types import ModuleType
from typing import Any

import pytest

from shared.contract import STRIPE_API_VERSION
from tests.support.billing_world import (
    ANNUAL_PRICE,
    MONTHLY_PRICE,
    PRO_MONTHLY_PRICE,
    BillingWorld,
    body,
    load_function,
)

USER = "user-1"
CUSTOMER = "cus_healFAKE"


@pytest.fixture
def reconcile(world: BillingWorld) -> ModuleType:
    return load_function("reconcile")


@pytest.fixture
def known_user(world: BillingWorld) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER, email="old@example.com")


def checkout_and_pay(world: BillingWorld, subscription: ModuleType, price: str) -> dict[str, Any]:
    """A checkout completed in Stripe whose webhook never arrives."""
    event = world.api_event("POST", "/subscription/checkout", {"priceId": price})
    response = subscription.handler(event, None)
    assert response["statusCode"] == 200, response
    _, sub = world.stripe.complete_checkout(body(response)["sessionId"])
    return sub


def sync(world: BillingWorld, subscription: ModuleType) -> dict[str, Any]:
    response = subscription.handler(world.api_event("POST", "/subscription/sync"), None)
    assert response["statusCode"] == 200, response
    return body(response)


# -- sync -------------------------------------------------------------------------------------


def test_sync_repairs_a_checkout_whose_webhook_was_lost(
    world: BillingWorld, subscription: ModuleType
) -> None:
    before = body(subscription.handler(world.api_event("GET", "/subscription"), None))
    assert before["isSubscribed"] is False
    sub = checkout_and_pay(world, subscription, PRO_MONTHLY_PRICE)
    state = sync(world, subscription)
    assert state["isSubscribed"] is True and state["planId"] == "pro"
    assert state == body(subscription.handler(world.api_event("GET", "/subscription"), None))
    record = world.user(USER)
    assert record is not None and record["stripeSubscriptionId"] == sub["id"]


def test_sync_without_a_customer_is_not_subscribed_and_calls_no_stripe(
    world: BillingWorld, subscription: ModuleType
) -> None:
    assert sync(world, subscription)["isSubscribed"] is False
    assert world.stripe.state.requests == []


def test_an_older_event_arriving_after_a_sync_never_overwrites_it(
    world: BillingWorld, subscription: ModuleType, webhook: ModuleType
) -> None:
    sub = checkout_and_pay(world, subscription, MONTHLY_PRICE)
    assert sync(world, subscription)["subscriptionStatus"] == "active"
    incomplete = dict(copy.deepcopy(sub), status="incomplete")
    old = world.stripe.event("customer.subscription.created", incomplete, int(time.time()) - 60)
    assert body(world.deliver(webhook, old))["outcome"] == "stale"
    record = world.user(USER)
    assert record is not None and record["subscriptionStatus"] == "active"
    newer = world.stripe.update_subscription(sub["id"], status="past_due")
    later = world.stripe.event("customer.subscription.updated", newer, int(time.time()) + 5)
    assert body(world.deliver(webhook, later))["outcome"] == "applied"


def test_a_second_checkout_is_refused_during_the_webhook_lag(
    world: BillingWorld, subscription: ModuleType
) -> None:
    checkout_and_pay(world, subscription, MONTHLY_PRICE)
    again = world.api_event("POST", "/subscription/checkout", {"priceId": ANNUAL_PRICE})
    assert subscription.handler(again, None)["statusCode"] == 409


# -- reconciliation ---------------------------------------------------------------------------


def test_one_reconciliation_run_repairs_a_lost_webhook(
    world: BillingWorld, subscription: ModuleType, reconcile: ModuleType
) -> None:
    sub = checkout_and_pay(world, subscription, PRO_MONTHLY_PRICE)
    world.stripe.record_event(world.stripe.event("customer.subscription.created", sub), False)
    result = reconcile.handler({}, None)
    assert result["complete"] is True and result["outcomes"] == {"applied": 1}
    record = world.user(USER)
    assert record is not None and record["isSubscribed"] is True and record["planId"] == "pro"


def test_reconciliation_replays_only_failed_deliveries_of_handled_types(
    world: BillingWorld, reconcile: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    delivered = world.stripe.event("customer.subscription.updated", sub)
    world.stripe.record_event(delivered, True)
    world.stripe.record_event(world.stripe.event("charge.refunded", {"id": "ch_x"}), False)
    assert reconcile.handler({}, None)["outcomes"] == {}
    (listing,) = world.stripe.requests_to("GET", "/v1/events")
    assert listing.params["delivery_success"] == "false"
    assert "customer.subscription.updated" in listing.params.values()


def test_events_the_webhook_already_applied_are_not_applied_twice(
    world: BillingWorld, reconcile: ModuleType, webhook: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    event = world.stripe.event("customer.subscription.created", sub)
    world.deliver(webhook, event)  # delivered late, after Stripe had marked it failed
    world.stripe.record_event(event, False)
    assert reconcile.handler({}, None)["outcomes"] == {"duplicate": 1}


def test_the_first_run_looks_back_three_days_and_later_runs_start_at_the_watermark(
    world: BillingWorld, reconcile: ModuleType, known_user: None
) -> None:
    now = int(time.time())
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    too_old = world.stripe.event("customer.subscription.created", sub, now - 4 * 24 * 3600)
    recent = world.stripe.event("customer.subscription.updated", sub, now - 2 * 24 * 3600)
    world.stripe.record_event(too_old, False)
    world.stripe.record_event(recent, False)
    assert reconcile.handler({}, None)["outcomes"] == {"applied": 1}
    (first,) = world.stripe.requests_to("GET", "/v1/events")
    assert abs(int(first.params["created[gte]"]) - (now - 3 * 24 * 3600)) <= 5
    reconcile.handler({}, None)
    second = world.stripe.requests_to("GET", "/v1/events")[1]
    assert int(second.params["created[gte]"]) >= now


def test_a_run_out_of_time_stops_cleanly_and_the_next_resumes(
    world: BillingWorld, reconcile: ModuleType
) -> None:
    reconciliation = load_function("reconcile", "reconciliation")
    now = int(time.time())
    for index in range(230):  # three pages of 100
        user, customer = f"user-{index}", f"cus_many{index}"
        world.put_user(user, stripeCustomerId=customer)
        sub = world.stripe.create_subscription(customer, MONTHLY_PRICE, user)
        world.stripe.record_event(
            world.stripe.event("customer.subscription.created", sub, now - 3600 + index), False
        )
    budget = iter([60_000] * 120 + [1_000] * 1000)
    first = reconciliation.reconcile(now, lambda: next(budget))
    assert first.complete is False and first.outcomes == {"applied": 120}
    assert first.progress.window_end == now and first.progress.after_event
    second = reconciliation.reconcile(now + 30, lambda: 60_000)
    assert second.complete is True and second.outcomes == {"applied": 110}
    assert second.progress.watermark == now, "the resumed window ends where it started"
    pages = world.stripe.requests_to("GET", "/v1/events")
    assert len(pages) >= 3 and "starting_after" in pages[-1].params
    assert all(world.user(f"user-{i}")["subscriptionStatus"] == "active" for i in range(230))  # type: ignore[index]


def test_a_failure_mid_run_keeps_the_place_and_fails_the_run(
    world: BillingWorld, reconcile: ModuleType, known_user: None
) -> None:
    reconciliation = load_function("reconcile", "reconciliation")
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    world.stripe.record_event(world.stripe.event("customer.subscription.created", sub), False)

    def broken(event: Any) -> str:
        raise RuntimeError("DynamoDB is down")

    working = reconciliation.process_event
    reconciliation.process_event = broken  # type: ignore[attr-defined]
    try:
        with pytest.raises(RuntimeError):
            reconciliation.reconcile(int(time.time()), lambda: 60_000)
    finally:
        reconciliation.process_event = working  # type: ignore[attr-defined]
    assert reconciliation.reconcile(int(time.time()), lambda: 60_000).outcomes == {"applied": 1}


# -- more event types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "status", "subscribed"),
    [
        ("customer.subscription.paused", "paused", False),
        ("customer.subscription.resumed", "active", True),
    ],
)
def test_paused_and_resumed_set_the_status(
    world: BillingWorld,
    webhook: ModuleType,
    known_user: None,
    event_type: str,
    status: str,
    subscribed: bool,
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER, status=status)
    assert world.deliver(webhook, world.stripe.event(event_type, sub))["statusCode"] == 200
    record = world.user(USER)
    assert record is not None
    assert (record["subscriptionStatus"], record["isSubscribed"]) == (status, subscribed)


def test_invoice_paid_refreshes_the_state_through_the_subscription(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, ANNUAL_PRICE, USER, period_end=1_960_000_000)
    event = world.stripe.event("invoice.paid", world.stripe.invoice_for(sub, paid=True))
    assert body(world.deliver(webhook, event))["outcome"] == "applied"
    record = world.user(USER)
    assert record is not None and record["currentPeriodEnd"] == 1_960_000_000


def test_customer_updated_makes_the_record_follow_the_email(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    customer = {"id": CUSTOMER, "object": "customer", "email": "new@example.com", "metadata": {}}
    assert (
        world.deliver(webhook, world.stripe.event("customer.updated", customer))["statusCode"]
        == 200
    )
    record = world.user(USER)
    assert record is not None and record["email"] == "new@example.com"


# -- robustness ------------------------------------------------------------------------------


def _broken(sub: dict[str, Any], change: str) -> dict[str, Any]:
    broken = copy.deepcopy(sub)
    match change:
        case "no status":
            del broken["status"]
        case "items null":
            broken["items"] = None
        case "period end not a number":
            broken["items"]["data"][0]["current_period_end"] = "soon"
        case "metadata not an object":
            broken["metadata"] = "userId=user-1"
    return broken


@pytest.mark.parametrize(
    "change", ["no status", "items null", "period end not a number", "metadata not an object"]
)
def test_a_signed_malformed_object_writes_nothing(
    world: BillingWorld,
    webhook: ModuleType,
    known_user: None,
    change: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    before = world.user(USER)
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    event = world.stripe.event("customer.subscription.updated", _broken(sub, change))
    response = world.deliver(webhook, event)
    assert response["statusCode"] == 200 and body(response)["outcome"] == "malformed"
    assert world.user(USER) == before, "nothing may be written, not even part of the state"
    assert world.processed_event_ids() == set()
    assert any("nothing written" in record.getMessage() for record in caplog.records)


def test_an_event_whose_data_is_null_is_a_400(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    event = world.stripe.event("customer.subscription.updated", {})
    event["data"] = None
    assert world.deliver(webhook, event)["statusCode"] == 400
    assert world.processed_event_ids() == set()


def test_an_event_in_another_api_version_is_reread_in_the_pinned_one(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER, status="past_due")
    legacy_shape = {"id": sub["id"], "object": "subscription", "status": "active",
                    "customer": CUSTOMER, "metadata": {"userId": USER},
                    "current_period_end": 123, "plan": {"interval": "month"}}  # fmt: skip
    event = world.stripe.event("customer.subscription.updated", legacy_shape)
    event["api_version"] = "2020-08-27"
    assert body(world.deliver(webhook, event))["outcome"] == "applied"
    record = world.user(USER)
    assert record is not None and record["subscriptionStatus"] == "past_due", "Stripe's truth"
    (read,) = world.stripe.requests_to("GET", "/v1/subscriptions")
    assert read.stripe_version == STRIPE_API_VERSION and read.params["customer"] == CUSTOMER


def test_an_object_that_cannot_be_reread_is_refused_with_a_log_line(
    world: BillingWorld, webhook: ModuleType, known_user: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    no_customer = {"id": "sub_x", "object": "subscription", "metadata": {"userId": USER}}
    event = world.stripe.event("customer.subscription.updated", no_customer)
    event["api_version"] = "2020-08-27"
    assert body(world.deliver(webhook, event))["outcome"] == "malformed"
    assert any("cannot be re-read" in r.getMessage() for r in caplog.records)


def test_a_duplicate_invoice_event_costs_no_stripe_call(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    event = world.stripe.event("invoice.paid", world.stripe.invoice_for(sub, paid=True))
    assert body(world.deliver(webhook, event))["outcome"] == "applied"
    reads = len(world.stripe.state.requests)
    assert body(world.deliver(webhook, event))["outcome"] == "duplicate"
    assert len(world.stripe.state.requests) == reads


def test_a_stale_event_whose_subscription_is_gone_is_answered_without_stripe(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    world.deliver(
        webhook, world.stripe.event("customer.subscription.updated", sub, int(time.time()))
    )
    invoice = world.stripe.invoice_for(sub, paid=False)
    del world.stripe.state.objects[sub["id"]]
    response = world.deliver(webhook, world.stripe.event("invoice.payment_failed", invoice, 1_000))
    assert response["statusCode"] == 200 and body(response)["outcome"] == "stale"
    assert not [r for r in world.stripe.state.requests if r.path.startswith("/v1/subscriptions")]


def test_a_fresh_event_whose_subscription_is_gone_is_ignored_not_retried_for_days(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    invoice = world.stripe.invoice_for(sub, paid=True)
    del world.stripe.state.objects[sub["id"]]
    response = world.deliver(webhook, world.stripe.event("invoice.paid", invoice))
    assert response["statusCode"] == 200 and body(response)["outcome"] == "ignored"


def test_a_body_flagged_base64_that_is_not_is_a_400(
    world: BillingWorld, webhook: ModuleType, subscription: ModuleType
) -> None:
    request = world.webhook_request("not base64 at all!", "t=1,v1=abc")
    request["isBase64Encoded"] = True
    assert webhook.handler(request, None)["statusCode"] == 400
    checkout = world.api_event("POST", "/subscription/checkout", raw_body="{not base64}")
    checkout["isBase64Encoded"] = True
    assert subscription.handler(checkout, None)["statusCode"] == 400
    valid = base64.b64encode(json.dumps({"priceId": MONTHLY_PRICE}).encode()).decode()
    checkout["body"] = valid
    assert subscription.handler(checkout, None)["statusCode"] == 200


@pytest.mark.parametrize("null_part", ["requestContext", "authorizer", "jwt", "claims"])
def test_a_null_identity_part_is_a_401(
    world: BillingWorld, subscription: ModuleType, null_part: str
) -> None:
    event = world.api_event("GET", "/subscription")
    parts = ["requestContext", "authorizer", "jwt", "claims"]
    holder: dict[str, Any] = event
    for part in parts[: parts.index(null_part)]:
        holder = holder[part]
    holder[null_part] = None
    assert subscription.handler(event, None)["statusCode"] == 401


def test_get_logger_returns_the_logger_asked_for() -> None:
    from shared.log import get_logger

    assert get_logger("reconcile").name == "billing.reconcile"
    assert get_logger("subscription").name == "billing.subscription"
