"""One customer, one deciding subscription; stacks that share an account; same-second order."""

from __future__ import annotations

import json
import logging
import threading
import time
from types import ModuleType
from typing import Any

import pytest

from tests.support.billing_world import (
    MONTHLY_PRICE,
    PRO_FEATURES,
    PRO_MONTHLY_PRICE,
    STACK_ID,
    BillingWorld,
    body,
    load_function,
)
from tools.local.stripe_emulator import SessionNotOpenError

USER = "user-1"
CUSTOMER = "cus_customerFAKE"
OTHER_STACK = "staging-saas-billing"


@pytest.fixture
def known_user(world: BillingWorld) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER, email="user-1@example.com")


def ours(user_id: str = USER) -> dict[str, str]:
    return {"userId": user_id, "stack": STACK_ID}


def subscribe(world: BillingWorld, price: str = MONTHLY_PRICE, **kw: Any) -> dict[str, Any]:
    return world.stripe.create_subscription(CUSTOMER, price, None, metadata=ours(), **kw)


def outcome(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 200, response
    return str(body(response)["outcome"])


class _JsonLines(logging.Handler):
    """Every billing line as the functions print it, formatted when it is logged."""

    def __init__(self) -> None:
        from shared.log import JsonFormatter

        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def caplog(world: BillingWorld) -> Any:
    """The billing lines of the test, as JSON (shadows pytest's caplog on purpose)."""
    handler = _JsonLines()
    billing = logging.getLogger("billing")
    level = billing.level
    billing.setLevel(logging.INFO)
    billing.addHandler(handler)
    yield handler
    billing.removeHandler(handler)
    billing.setLevel(level)


def lines(caplog: Any) -> list[dict[str, Any]]:
    return list(caplog.lines)


# -- item 1: two tabs ---------------------------------------------------------------------


def test_a_second_checkout_expires_the_first_tabs_session_so_it_cannot_be_paid(
    world: BillingWorld, subscription: ModuleType
) -> None:
    first = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": PRO_MONTHLY_PRICE}), None
    )
    time.sleep(1.01)  # Stripe's `created` has one-second resolution
    second = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}), None
    )
    first_id, second_id = body(first)["sessionId"], body(second)["sessionId"]
    assert world.stripe.requests_to("POST", f"/v1/checkout/sessions/{first_id}/expire")
    assert world.stripe.state.objects[first_id]["status"] == "expired"
    assert world.stripe.state.objects[second_id]["status"] == "open"
    with pytest.raises(SessionNotOpenError):
        world.stripe.complete_checkout(first_id)
    world.stripe.complete_checkout(second_id)


def test_racing_tabs_leave_exactly_one_session_open(
    world: BillingWorld, subscription: ModuleType
) -> None:
    event = world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE})
    subscription.handler(event, None)  # the customer exists before the race
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(subscription.handler(event, None)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["statusCode"] for r in results] == [200] * 4
    sessions = [o for o in world.stripe.state.objects.values() if o["object"] == "checkout.session"]
    assert [s["status"] for s in sessions].count("open") == 1


def test_a_duplicate_subscription_never_revokes_access_and_is_reported(
    world: BillingWorld,
    webhook: ModuleType,
    known_user: None,
    caplog: Any,
) -> None:
    pro = subscribe(world, PRO_MONTHLY_PRICE)
    assert outcome(world.deliver(webhook, world.stripe.event("customer.subscription.created", pro)))
    time.sleep(1.01)
    basic = subscribe(world, MONTHLY_PRICE)  # the second tab, paid as well
    world.deliver(webhook, world.stripe.event("customer.subscription.created", basic))
    duplicates = [line for line in lines(caplog) if line.get("outcome") == "duplicate_subscription"]
    assert duplicates and duplicates[0]["level"] == "ERROR"
    assert pro["id"] in duplicates[0]["message"] and basic["id"] in duplicates[0]["message"]

    # The operator refunds and cancels the older one: its deletion revokes nothing.
    canceled = world.stripe.update_subscription(pro["id"], status="canceled")
    world.deliver(webhook, world.stripe.event("customer.subscription.deleted", canceled))
    record = world.user(USER)
    assert record is not None and record["isSubscribed"] is True
    assert record["stripeSubscriptionId"] == basic["id"]


def test_deleting_the_recorded_subscription_falls_back_to_another_entitled_one(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    pro = subscribe(world, PRO_MONTHLY_PRICE)
    time.sleep(1.01)
    basic = subscribe(world, MONTHLY_PRICE)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", basic))
    canceled = world.stripe.update_subscription(basic["id"], status="canceled")
    world.deliver(webhook, world.stripe.event("customer.subscription.deleted", canceled))
    record = world.user(USER)
    assert record is not None and record["isSubscribed"] is True
    assert record["stripeSubscriptionId"] == pro["id"] and record["features"] == PRO_FEATURES


def test_an_event_about_another_subscription_rereads_the_customer(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    first = subscribe(world)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", first))
    reads = len(world.stripe.requests_to("GET", "/v1/subscriptions"))
    second = subscribe(world, PRO_MONTHLY_PRICE, status="incomplete")
    world.deliver(webhook, world.stripe.event("customer.subscription.created", second))
    assert len(world.stripe.requests_to("GET", "/v1/subscriptions")) == reads + 1
    record = world.user(USER)
    assert record is not None and record["stripeSubscriptionId"] == first["id"], (
        "an incomplete subscription never replaces an entitled one"
    )


# -- item 2: stacks sharing one Stripe account -------------------------------------------


def test_checkout_stamps_the_stack_on_customer_session_and_subscription(
    world: BillingWorld, subscription: ModuleType
) -> None:
    subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}), None
    )
    (customer,) = world.stripe.requests_to("POST", "/v1/customers")
    (session,) = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    assert customer.params["metadata[stack]"] == STACK_ID
    assert session.params["metadata[stack]"] == STACK_ID
    assert session.params["subscription_data[metadata][stack]"] == STACK_ID


def test_another_stacks_event_for_a_user_of_the_same_name_is_ignored(
    world: BillingWorld, webhook: ModuleType, known_user: None, caplog: Any
) -> None:
    theirs = world.stripe.create_subscription(
        "cus_theirsFAKE", PRO_MONTHLY_PRICE, None, metadata={"userId": USER, "stack": OTHER_STACK}
    )
    before = world.user(USER)
    response = world.deliver(webhook, world.stripe.event("customer.subscription.created", theirs))
    assert outcome(response) == "other_stack"
    assert world.user(USER) == before and world.processed_event_ids() == set()
    assert any(line.get("outcome") == "other_stack" for line in lines(caplog))


def test_an_unstamped_event_whose_customer_is_not_the_users_is_ignored(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    legacy = world.stripe.create_subscription("cus_theirsFAKE", MONTHLY_PRICE, USER)
    for event_type in ("customer.subscription.created", "customer.subscription.deleted"):
        response = world.deliver(webhook, world.stripe.event(event_type, legacy))
        assert outcome(response) == "other_stack"
    record = world.user(USER)
    assert record is not None and "subscriptionStatus" not in record


def test_sync_and_reconciliation_ignore_another_stacks_subscription(
    world: BillingWorld, subscription: ModuleType, known_user: None
) -> None:
    theirs = world.stripe.create_subscription(
        CUSTOMER, PRO_MONTHLY_PRICE, None, metadata={"userId": USER, "stack": OTHER_STACK}
    )
    state = body(subscription.handler(world.api_event("POST", "/subscription/sync"), None))
    assert state["isSubscribed"] is False
    world.stripe.record_event(world.stripe.event("customer.subscription.created", theirs), False)
    reconcile = load_function("reconcile")
    assert reconcile.handler({}, None)["outcomes"] == {"other_stack": 1}


# -- item 3: cancel_at ---------------------------------------------------------------------


def test_a_cancellation_on_a_date_shows_as_cancel_at_and_clears(
    world: BillingWorld, webhook: ModuleType, subscription: ModuleType, known_user: None
) -> None:
    sub = subscribe(world)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", sub))
    dated = world.stripe.update_subscription(sub["id"], cancel_at=1_950_000_000)
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", dated))
    state = body(subscription.handler(world.api_event("GET", "/subscription"), None))
    assert state["cancelAt"] == 1_950_000_000 and state["cancelAtPeriodEnd"] is False
    undone = world.stripe.update_subscription(sub["id"], cancel_at=None)
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", undone))
    assert (
        body(subscription.handler(world.api_event("GET", "/subscription"), None))["cancelAt"]
        is None
    )


# -- item 4: one read per payment ----------------------------------------------------------


def test_invoice_payment_succeeded_is_ignored_and_costs_no_read(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    invoice = world.stripe.invoice_for(subscribe(world), paid=True)
    response = world.deliver(webhook, world.stripe.event("invoice.payment_succeeded", invoice))
    assert outcome(response) == "ignored"
    assert world.stripe.state.requests == []


# -- item 5: same-second order, concurrent copies -----------------------------------------


def test_two_changes_in_one_second_delivered_newest_first_end_on_stripes_state(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    now = int(time.time())
    sub = subscribe(world)
    older = world.stripe.update_subscription(sub["id"], cancel_at_period_end=True)
    newer = world.stripe.update_subscription(sub["id"], cancel_at_period_end=False)
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", newer, now))
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", older, now))
    record = world.user(USER)
    assert record is not None and record["cancelAtPeriodEnd"] is False, "what Stripe says now"


def test_a_sync_whose_read_preceded_a_change_never_writes_the_old_state_back(
    world: BillingWorld,
    webhook: ModuleType,
    subscription: ModuleType,
    known_user: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared import customer_state

    sub = subscribe(world)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", sub))
    read = customer_state.read_subscriptions
    raced: list[bool] = []

    def read_then_cancel(customer_id: str) -> Any:
        found = read(customer_id)
        if not raced:  # the change lands, and its webhook, between the sync's read and write
            raced.append(True)
            ended = world.stripe.update_subscription(sub["id"], status="canceled")
            world.deliver(webhook, world.stripe.event("customer.subscription.deleted", ended))
        return found

    monkeypatch.setattr(customer_state, "read_subscriptions", read_then_cancel)
    state = body(subscription.handler(world.api_event("POST", "/subscription/sync"), None))
    assert state["isSubscribed"] is False and state["subscriptionStatus"] == "canceled"


def test_concurrent_copies_of_an_event_cost_one_stripe_read(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    invoice = world.stripe.invoice_for(subscribe(world), paid=True)
    event = world.stripe.event("invoice.paid", invoice)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(outcome(world.deliver(webhook, event))))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 15
    assert len(world.stripe.requests_to("GET", "/v1/subscriptions")) == 1


# -- item 6: every line of a signed-in request names the user ----------------------------


def test_the_access_line_and_error_line_name_the_user(
    world: BillingWorld,
    subscription: ModuleType,
    webhook: ModuleType,
    known_user: None,
    caplog: Any,
) -> None:
    subscription.handler(world.api_event("GET", "/subscription"), None)
    world.stripe.state.fail_next = 1
    world.stripe.state.valid_keys.clear()  # Stripe refuses: the route fails with 502
    subscription.handler(world.api_event("POST", "/subscription/portal"), None)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", subscribe(world)))
    access = [line for line in lines(caplog) if "status" in line]
    assert len(access) == 3
    assert all(line.get("userId") == USER for line in access), access
    errors = [line for line in lines(caplog) if line["level"] == "ERROR"]
    assert errors and all(line.get("userId") == USER for line in errors)
