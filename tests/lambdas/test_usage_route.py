"""Checkout sells a plan's metered prices, and `GET /subscription/usage` sums what was sent."""

from __future__ import annotations

import time
from types import ModuleType

import stripe

from tests.support.billing_world import BillingWorld, body
from tools.harness import API_CALLS_PRICE, METER_EVENT_NAME, PRO_MONTHLY_PRICE


def test_a_plan_on_usage_is_bought_without_a_quantity(
    world: BillingWorld, subscription: ModuleType
) -> None:
    answer = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": API_CALLS_PRICE}), None
    )
    assert answer["statusCode"] == 200, answer
    (sent,) = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    assert sent.params["line_items[0][price]"] == API_CALLS_PRICE
    assert (
        "line_items[0][quantity]" not in sent.params and "line_items[1][price]" not in sent.params
    )


def test_a_flat_plan_sells_its_flat_price_alone(
    world: BillingWorld, subscription: ModuleType
) -> None:
    subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": PRO_MONTHLY_PRICE}), None
    )
    (sent,) = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    assert (sent.params["line_items[0][price]"], sent.params["line_items[0][quantity]"]) == (
        PRO_MONTHLY_PRICE,
        "1",
    )
    assert "line_items[1][price]" not in sent.params


def test_the_usage_route_sums_what_was_sent_this_period(
    world: BillingWorld, subscription: ModuleType, webhook: ModuleType
) -> None:
    checkout = body(
        subscription.handler(
            world.api_event("POST", "/subscription/checkout", {"priceId": API_CALLS_PRICE}), None
        )
    )
    session, paid = world.stripe.complete_checkout(checkout["sessionId"])
    assert (
        body(world.deliver(webhook, world.stripe.event("customer.subscription.created", paid)))[
            "outcome"
        ]
        == "applied"
    )
    client = stripe.StripeClient(
        world.document["stripe_secret_key"], base_addresses={"api": world.stripe.base_url}
    )
    for n, value in enumerate((120, 30, 50)):
        client.v1.billing.meter_events.create(
            params={
                "event_name": METER_EVENT_NAME,
                "identifier": f"call-{n}",
                "timestamp": int(time.time()),
                "payload": {"stripe_customer_id": session["customer"], "value": str(value)},
            }
        )
    answer = subscription.handler(world.api_event("GET", "/subscription/usage"), None)
    assert answer["statusCode"] == 200, answer
    usage = body(answer)
    item = paid["items"]["data"][0]
    assert (usage["periodStart"], usage["periodEnd"]) == (
        item["current_period_start"],
        item["current_period_end"],
    )
    assert usage["meters"] == [
        {
            "id": "api-calls",
            "name": "API calls",
            "value": 200,
            "unitAmountDecimal": "0.05",
            "amount": 10,
        }
    ]


def test_without_a_plan_on_usage_the_answer_is_empty(
    world: BillingWorld, subscription: ModuleType
) -> None:
    answer = subscription.handler(world.api_event("GET", "/subscription/usage"), None)
    assert body(answer) == {"periodStart": None, "periodEnd": None, "meters": []}
