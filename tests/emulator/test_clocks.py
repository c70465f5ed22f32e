"""Test clocks: moving time runs billing, and each moment's events arrive as it happens."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.emulator.conftest import Receiver, listen, monthly_price
from tools.local.stripe_emulator import StripeFake
from tools.local.stripe_emulator.periods import nth_period_end

DAY = 24 * 3600
#: 2026-01-31 00:00 UTC: a month from it is February 28, then March 31.
START = 1769817600


def on_clock(client: stripe.StripeClient, card: str = "pm_card_visa") -> tuple[str, str]:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": START})
    customer = client.v1.customers.create(params={"test_clock": clock.id, "payment_method": card})
    return clock.id, customer.id


def subscribe(
    client: stripe.StripeClient, customer: str, price: str, **params: Any
) -> stripe.Subscription:
    create: Any = {"customer": customer, "items": [{"price": price}], **params}
    return client.v1.subscriptions.create(params=create)


def advance(client: stripe.StripeClient, emulator: StripeFake, clock: str, to: int) -> None:
    answer = client.v1.test_helpers.test_clocks.advance(clock, params={"frozen_time": to})
    assert answer.status == "advancing"  # as Stripe answers: the work happens after
    emulator.wait_for_clock(clock)
    assert client.v1.test_helpers.test_clocks.retrieve(clock).frozen_time == to


def period_of(subscription: stripe.Subscription) -> tuple[int, int]:
    item = subscription["items"].data[0]
    return item.current_period_start, item.current_period_end


def test_the_anchor_day_comes_back_after_a_short_month() -> None:
    ends = [nth_period_end(START, "month", 1, n) for n in (1, 2, 12)]
    assert ends == [1772236800, 1774915200, 1801353600]  # Feb 28, Mar 31, Jan 31 2027


def test_a_trial_ends_and_converts(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    clock, customer = on_clock(client)
    price = monthly_price(client, 1500)
    subscription = subscribe(client, customer, price, trial_period_days=7)
    assert (subscription.status, subscription.trial_end) == ("trialing", START + 7 * DAY)
    advance(client, emulator, clock, START + 8 * DAY)
    converted = client.v1.subscriptions.retrieve(subscription.id)
    assert converted.status == "active"
    assert period_of(converted)[0] == START + 7 * DAY
    updated = receiver.of_type("customer.subscription.updated")
    assert updated[0]["data"]["previous_attributes"]["status"] == "trialing"
    paid = [e["data"]["object"] for e in receiver.of_type("invoice.paid")]
    assert [i["amount_paid"] for i in paid] == [
        0,
        1500,
    ]  # the trial's invoice, then the first month's
    assert paid[1]["billing_reason"] == "subscription_cycle"


def test_every_period_renews_with_a_paid_invoice(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    clock, customer = on_clock(client)
    subscription = subscribe(client, customer, monthly_price(client, 1500))
    first_end = period_of(subscription)[1]
    assert first_end == nth_period_end(START, "month", 1, 1)
    advance(client, emulator, clock, first_end + 3600)
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert period_of(renewed) == (first_end, nth_period_end(START, "month", 1, 2))
    invoices = client.v1.invoices.list(params={"subscription": subscription.id}).data
    assert [i.billing_reason for i in invoices] == ["subscription_cycle", "subscription_create"]
    assert all(i.status == "paid" for i in invoices)
    assert receiver.types().count("invoice.paid") == 2


@pytest.mark.parametrize(
    ("after_final_failure", "ends_as"), [("cancel", "canceled"), ("unpaid", "unpaid")]
)
def test_a_failing_card_goes_past_due_then_retries_then_ends_per_the_account(
    client: stripe.StripeClient,
    emulator: StripeFake,
    receiver: Receiver,
    after_final_failure: str,
    ends_as: str,
) -> None:
    emulator.state.settings.after_final_failure = after_final_failure  # type: ignore[assignment]
    listen(client, receiver)
    clock, customer = on_clock(client, "pm_card_chargeCustomerFail")
    subscription = subscribe(client, customer, monthly_price(client))
    assert subscription.status == "active"  # the first charge succeeds, later ones fail
    renewal = period_of(subscription)[1]
    advance(client, emulator, clock, renewal + 60)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "past_due"
    failed = receiver.of_type("invoice.payment_failed")
    assert failed[0]["data"]["object"]["next_payment_attempt"] == renewal + 3 * DAY
    advance(client, emulator, clock, renewal + 4 * DAY)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "past_due"  # a retry failed
    advance(client, emulator, clock, renewal + 16 * DAY)
    final = client.v1.subscriptions.retrieve(subscription.id)
    assert final.status == ends_as
    attempts = [
        e["data"]["object"]["attempt_count"] for e in receiver.of_type("invoice.payment_failed")
    ]
    assert attempts == [1, 2, 3, 4]
    if ends_as == "canceled":
        assert receiver.types()[-2:] == [
            "customer.subscription.deleted",
            "test_helpers.test_clock.ready",
        ]


def test_a_card_updated_while_past_due_is_charged_at_the_next_retry(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    clock, customer = on_clock(client, "pm_card_chargeCustomerFail")
    subscription = subscribe(client, customer, monthly_price(client))
    renewal = period_of(subscription)[1]
    advance(client, emulator, clock, renewal + 60)
    client.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": "pm_card_visa"}}
    )
    advance(client, emulator, clock, renewal + 3 * DAY + 60)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


def test_a_cancellation_at_period_end_happens_when_the_clock_passes_it(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    clock, customer = on_clock(client)
    subscription = subscribe(client, customer, monthly_price(client))
    end = period_of(subscription)[1]
    ending = client.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})
    assert (ending.status, ending.cancel_at, ending.canceled_at) == ("active", end, START)
    advance(client, emulator, clock, end - 60)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"
    advance(client, emulator, clock, end + 60)
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert (ended.status, ended.ended_at) == ("canceled", end)
    assert (
        receiver.of_type("customer.subscription.deleted")[0]["data"]["object"]["id"]
        == subscription.id
    )
    assert (
        "invoice.created"
        not in receiver.types()[receiver.types().index("customer.subscription.updated") :]
    )


def test_time_only_moves_forward_and_at_most_two_intervals_at_once(
    client: stripe.StripeClient,
) -> None:
    clock, customer = on_clock(client)
    subscribe(client, customer, monthly_price(client))
    with pytest.raises(stripe.InvalidRequestError) as backwards:
        client.v1.test_helpers.test_clocks.advance(clock, params={"frozen_time": START - 1})
    assert backwards.value.param == "frozen_time"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.test_helpers.test_clocks.advance(clock, params={"frozen_time": START + 70 * DAY})


def test_a_clock_holds_three_customers_at_most(client: stripe.StripeClient) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": START})
    for _ in range(3):
        client.v1.customers.create(params={"test_clock": clock.id})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(params={"test_clock": clock.id})


def test_deleting_a_clock_deletes_its_customers(client: stripe.StripeClient) -> None:
    clock, customer = on_clock(client)
    assert client.v1.test_helpers.test_clocks.delete(clock).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer)
    assert client.v1.test_helpers.test_clocks.list().data == []


def test_deliveries_come_in_the_order_events_happened(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    clock, customer = on_clock(client)
    subscription = subscribe(client, customer, monthly_price(client), trial_period_days=3)
    advance(client, emulator, clock, period_of(subscription)[1] + 40 * DAY)
    listed = [e.id for e in client.v1.events.list(params={"limit": 100}).data]
    assert [e["id"] for e in receiver.events] == list(reversed(listed))


def test_delivery_success_reflects_what_the_endpoint_answered(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    receiver.answer = 500
    _, customer = on_clock(client)
    subscribe(client, customer, monthly_price(client))
    emulator.deliver()
    failed = client.v1.events.list(params={"delivery_success": False, "limit": 100}).data
    assert {e.type for e in failed} >= {"customer.subscription.created", "invoice.paid"}
    assert client.v1.events.list(params={"delivery_success": True}).data == []


def test_events_render_in_the_endpoints_version_else_the_accounts(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    emulator.state.settings.api_version = "2024-06-20"
    listen(client, receiver)
    _, customer = on_clock(client)
    subscription = subscribe(client, customer, monthly_price(client))
    emulator.deliver()
    created = receiver.of_type("customer.subscription.created")[0]
    assert created["api_version"] == "2024-06-20"
    old_shape = created["data"]["object"]
    assert old_shape["current_period_end"] == period_of(subscription)[1]  # acacia's top level
    assert "current_period_end" not in old_shape["items"]["data"][0]
    paid = receiver.of_type("invoice.paid")[0]["data"]["object"]
    assert paid["subscription"] == subscription.id and "parent" not in paid
    listed = client.v1.events.list(params={"limit": 1}).data[0]
    assert listed.api_version == "2024-06-20"
    # The object itself always answers in the version the request asks for: the pinned one.
    assert (
        period_of(client.v1.subscriptions.retrieve(subscription.id))[1]
        == period_of(subscription)[1]
    )


def test_a_year_of_monthly_renewals(client: stripe.StripeClient, emulator: StripeFake) -> None:
    clock, customer = on_clock(client)
    subscription = subscribe(client, customer, monthly_price(client, 1000))
    for month in range(1, 13):
        advance(client, emulator, clock, nth_period_end(START, "month", 1, month) + 60)
    invoices = client.v1.invoices.list(params={"subscription": subscription.id, "limit": 100}).data
    assert len(invoices) == 13 and sum(i.amount_paid for i in invoices) == 13 * 1000
    assert period_of(client.v1.subscriptions.retrieve(subscription.id))[0] == nth_period_end(
        START, "month", 1, 12
    )


def test_paused_collection_voids_the_renewal_invoice_until_it_resumes(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    clock, customer = on_clock(client)
    subscription = subscribe(client, customer, monthly_price(client, 1500))
    first_end = period_of(subscription)[1]
    resumes = first_end + 10 * DAY
    paused = client.v1.subscriptions.update(
        subscription.id, params={"pause_collection": {"behavior": "void", "resumes_at": resumes}}
    )
    assert paused.pause_collection is not None and paused.pause_collection.behavior == "void"
    advance(client, emulator, clock, first_end + 60)
    voided = client.v1.invoices.list(params={"subscription": subscription.id}).data[0]
    assert (voided.billing_reason, voided.status, voided.amount_paid) == (
        "subscription_cycle",
        "void",
        0,
    )
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"
    advance(client, emulator, clock, nth_period_end(START, "month", 1, 2) + 60)
    resumed = client.v1.subscriptions.retrieve(subscription.id)
    assert resumed.pause_collection is None
    latest = client.v1.invoices.retrieve(str(resumed.latest_invoice))
    assert (latest.status, latest.amount_paid) == ("paid", 1500)
