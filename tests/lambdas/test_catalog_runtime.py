"""The catalog at runtime: any catalog price at checkout, trials once, promotion codes and tax,
and the plan behind every subscription event."""

from __future__ import annotations

import logging
from types import ModuleType

import pytest

from tests.support.billing_world import (
    ANNUAL_PRICE,
    MONTHLY_PRICE,
    PRO_ANNUAL_PRICE,
    PRO_FEATURES,
    PRO_MONTHLY_PRICE,
    PRO_TRIAL_DAYS,
    BillingWorld,
    body,
)
from tools.local.stripe_emulator import RecordedRequest

USER = "user-1"
CUSTOMER = "cus_catalogFAKE"
PLAN_OF = {
    MONTHLY_PRICE: ("basic", "monthly"),
    ANNUAL_PRICE: ("basic", "annual"),
    PRO_MONTHLY_PRICE: ("pro", "monthly"),
    PRO_ANNUAL_PRICE: ("pro", "annual"),
}


def checkout(world: BillingWorld, subscription: ModuleType, price: str) -> dict:
    event = world.api_event("POST", "/subscription/checkout", {"priceId": price})
    return subscription.handler(event, None)


def session_request(world: BillingWorld) -> RecordedRequest:
    (request,) = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    return request


@pytest.mark.parametrize("price", sorted(PLAN_OF))
def test_checkout_accepts_every_price_of_the_catalog(
    world: BillingWorld, subscription: ModuleType, price: str
) -> None:
    response = checkout(world, subscription, price)
    assert response["statusCode"] == 200, response
    assert session_request(world).params["line_items[0][price]"] == price


def test_a_new_customer_gets_the_plans_trial(world: BillingWorld, subscription: ModuleType) -> None:
    assert checkout(world, subscription, PRO_MONTHLY_PRICE)["statusCode"] == 200
    params = session_request(world).params
    assert params["subscription_data[trial_period_days]"] == str(PRO_TRIAL_DAYS)


def test_a_plan_without_a_trial_sends_none(world: BillingWorld, subscription: ModuleType) -> None:
    assert checkout(world, subscription, MONTHLY_PRICE)["statusCode"] == 200
    assert "subscription_data[trial_period_days]" not in session_request(world).params


def test_a_customer_who_had_a_subscription_gets_no_second_trial(
    world: BillingWorld, subscription: ModuleType
) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER, subscriptionStatus="canceled")
    world.stripe.create_subscription(CUSTOMER, PRO_MONTHLY_PRICE, USER, status="canceled")
    assert checkout(world, subscription, PRO_ANNUAL_PRICE)["statusCode"] == 200
    assert "subscription_data[trial_period_days]" not in session_request(world).params
    (listing,) = world.stripe.requests_to("GET", "/v1/subscriptions")
    assert listing.params["customer"] == CUSTOMER and listing.params["status"] == "all"


def test_a_known_customer_with_no_subscription_yet_still_gets_the_trial(
    world: BillingWorld, subscription: ModuleType
) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER)  # abandoned a checkout before
    assert checkout(world, subscription, PRO_MONTHLY_PRICE)["statusCode"] == 200
    assert session_request(world).params["subscription_data[trial_period_days]"] == "14"


def test_an_active_subscription_the_record_does_not_know_yet_is_409(
    world: BillingWorld, subscription: ModuleType
) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER)  # the webhook has not landed yet
    world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER, status="active")
    response = checkout(world, subscription, ANNUAL_PRICE)
    assert response["statusCode"] == 409
    assert len(world.stripe.requests_to("GET", "/v1/subscriptions")) == 1
    assert world.stripe.requests_to("POST", "/v1/checkout/sessions") == []


def test_a_record_that_says_subscribed_costs_no_stripe_call(
    world: BillingWorld, subscription: ModuleType
) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER, subscriptionStatus="active")
    assert checkout(world, subscription, ANNUAL_PRICE)["statusCode"] == 409
    assert world.stripe.state.requests == []


def test_promotion_codes_and_tax_are_off_unless_configured(
    world: BillingWorld, subscription: ModuleType
) -> None:
    assert checkout(world, subscription, MONTHLY_PRICE)["statusCode"] == 200
    params = session_request(world).params
    for name in ("allow_promotion_codes", "automatic_tax[enabled]", "customer_update[address]"):
        assert name not in params, name


def test_promotion_codes_and_automatic_tax_reach_checkout(
    world: BillingWorld, subscription: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_PROMOTION_CODES", "true")
    monkeypatch.setenv("AUTOMATIC_TAX", "true")
    from tools.harness import reset_runtime_caches

    reset_runtime_caches()
    assert checkout(world, subscription, MONTHLY_PRICE)["statusCode"] == 200
    params = session_request(world).params
    assert params["allow_promotion_codes"] == "true"
    assert params["automatic_tax[enabled]"] == "true"
    assert params["billing_address_collection"] == "required"
    assert params["customer_update[address]"] == "auto"


# -- the webhook finds the plan -----------------------------------------------------------------


@pytest.fixture
def known_user(world: BillingWorld) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER)


@pytest.mark.parametrize("price", sorted(PLAN_OF))
def test_every_plans_price_records_its_plan(
    world: BillingWorld, webhook: ModuleType, known_user: None, price: str
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, price, USER)
    event = world.stripe.event("customer.subscription.created", sub)
    assert world.deliver(webhook, event)["statusCode"] == 200
    record = world.user(USER)
    assert record is not None
    assert (record["planId"], record["plan"]) == PLAN_OF[price]
    assert record["priceId"] == price
    assert record["features"] == (PRO_FEATURES if PLAN_OF[price][0] == "pro" else [])


def test_an_unknown_price_records_no_plan_and_warns_without_failing(
    world: BillingWorld,
    webhook: ModuleType,
    known_user: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    known = world.stripe.create_subscription(CUSTOMER, PRO_MONTHLY_PRICE, USER)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", known, 100))
    world.stripe.add_price("price_legacyFAKE", "month", 500)
    moved = world.stripe.update_subscription(known["id"])
    moved["items"]["data"][0]["price"] = world.stripe.state.objects["price_legacyFAKE"]
    response = world.deliver(
        webhook, world.stripe.event("customer.subscription.updated", moved, 200)
    )
    assert response["statusCode"] == 200
    record = world.user(USER)
    assert record is not None
    assert "planId" not in record and "features" not in record, "stale features would leak"
    assert record["priceId"] == "price_legacyFAKE" and record["isSubscribed"] is True
    assert any("catalog does not know" in r.getMessage() for r in caplog.records)


def test_a_plan_change_in_the_portal_shows_in_the_next_event(
    world: BillingWorld, webhook: ModuleType, subscription: ModuleType, known_user: None
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, USER)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", sub, 100))
    upgraded = world.stripe.update_subscription(sub["id"])
    upgraded["items"]["data"][0]["price"] = world.stripe.state.objects[PRO_ANNUAL_PRICE]
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", upgraded, 200))
    state = body(subscription.handler(world.api_event("GET", "/subscription"), None))
    assert (state["planId"], state["plan"], state["priceId"]) == ("pro", "annual", PRO_ANNUAL_PRICE)
    assert state["features"] == PRO_FEATURES


def test_checkout_and_portal_return_to_the_configured_paths(
    world: BillingWorld, subscription: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECKOUT_SUCCESS_PATH", "/welcome")
    monkeypatch.setenv("CHECKOUT_CANCEL_PATH", "/pricing")
    monkeypatch.setenv("PORTAL_RETURN_PATH", "/settings/billing")
    from tools.harness import reset_runtime_caches

    reset_runtime_caches()
    assert checkout(world, subscription, MONTHLY_PRICE)["statusCode"] == 200
    params = session_request(world).params
    assert params["success_url"] == world.frontend + "/welcome?session_id={CHECKOUT_SESSION_ID}"
    assert params["cancel_url"] == world.frontend + "/pricing"
    portal = subscription.handler(world.api_event("POST", "/subscription/portal"), None)
    assert portal["statusCode"] == 200
    (request,) = world.stripe.requests_to("POST", "/v1/billing_portal/sessions")
    assert request.params["return_url"] == world.frontend + "/settings/billing"
