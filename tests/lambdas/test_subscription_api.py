"""The subscription API handler against moto's server and the Stripe fake, over HTTP."""

from __future__ import annotations

import threading
from types import ModuleType

import pytest

from shared.contract import STRIPE_API_VERSION
from tests.support.billing_world import (
    ANNUAL_PRICE,
    MONTHLY_PRICE,
    PRO_ANNUAL_PRICE,
    PRO_FEATURES,
    STACK_ID,
    BillingWorld,
    body,
    catalog_document,
)


def test_prices_is_public_and_answered_from_the_secret_without_stripe(
    world: BillingWorld, subscription: ModuleType
) -> None:
    anonymous = world.api_event("GET", "/subscription/prices", user_id=None)
    first = subscription.handler(anonymous, None)
    second = subscription.handler(anonymous, None)
    assert first["statusCode"] == 200, first
    assert body(first) == body(second)
    prices = body(first)
    assert prices["monthly"] == MONTHLY_PRICE and prices["annual"] == ANNUAL_PRICE
    assert prices["currency"] == "usd"
    assert prices["plans"] == catalog_document()["plans"]
    assert world.stripe.state.requests == [], "the pricing page never waits for Stripe"
    assert world.secret_reads == ["GetSecretValue"], "one secret read per container"
    assert not any(h.lower().startswith("access-control-") for h in first["headers"]), (
        "API Gateway's CORS configuration answers CORS; an integration's own headers are dropped"
    )


def test_checkout_creates_the_customer_record_and_a_subscription_session(
    world: BillingWorld, subscription: ModuleType
) -> None:
    response = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": ANNUAL_PRICE}), None
    )
    assert response["statusCode"] == 200, response
    result = body(response)
    assert result["sessionId"].startswith("cs_test_")
    assert result["url"].startswith("https://checkout.stripe.com/")
    record = world.user("user-1")
    assert record is not None
    assert record["email"] == "user-1@example.com"
    assert record["stripeCustomerId"].startswith("cus_")
    (request,) = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    params = request.params
    assert params["mode"] == "subscription"
    assert params["customer"] == record["stripeCustomerId"]
    assert params["line_items[0][price]"] == ANNUAL_PRICE
    assert params["client_reference_id"] == "user-1"
    assert params["subscription_data[metadata][userId]"] == "user-1"
    assert params["success_url"].startswith(world.frontend + "/")
    assert params["cancel_url"].startswith(world.frontend + "/")
    assert request.stripe_version == STRIPE_API_VERSION


def test_checkout_reuses_the_stored_customer(world: BillingWorld, subscription: ModuleType) -> None:
    event = world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE})
    subscription.handler(event, None)
    subscription.handler(event, None)
    assert len(world.stripe.requests_to("POST", "/v1/customers")) == 1
    sessions = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    assert len({s.params["customer"] for s in sessions}) == 1


def test_racing_checkouts_end_on_one_customer(
    world: BillingWorld, subscription: ModuleType
) -> None:
    event = world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE})
    responses: list[dict] = []
    threads = [
        threading.Thread(target=lambda: responses.append(subscription.handler(event, None)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["statusCode"] for r in responses] == [200] * 4
    customer_requests = world.stripe.requests_to("POST", "/v1/customers")
    assert {r.idempotency_key for r in customer_requests} == {f"customer-{STACK_ID}-user-1"}
    stored = world.user("user-1")
    assert stored is not None
    sessions = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    assert {s.params["customer"] for s in sessions} == {stored["stripeCustomerId"]}


def test_a_tampered_price_is_refused_before_stripe(
    world: BillingWorld, subscription: ModuleType
) -> None:
    for price in ("price_someoneElses", "", None, 42):
        response = subscription.handler(
            world.api_event("POST", "/subscription/checkout", {"priceId": price}), None
        )
        assert response["statusCode"] == 400, price
    assert world.stripe.state.requests == [], "a tampered price must never reach Stripe"


def test_a_subscribed_caller_gets_409(world: BillingWorld, subscription: ModuleType) -> None:
    for status in ("active", "trialing", "past_due"):
        world.put_user("user-1", stripeCustomerId="cus_x", subscriptionStatus=status)
        response = subscription.handler(
            world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}), None
        )
        assert response["statusCode"] == 409, status
    world.put_user("user-1", stripeCustomerId="cus_x", subscriptionStatus="canceled")
    response = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}), None
    )
    assert response["statusCode"] == 200


def test_missing_jwt_is_401_on_every_signed_in_route(
    world: BillingWorld, subscription: ModuleType
) -> None:
    for method, path in (
        ("POST", "/subscription/checkout"),
        ("POST", "/subscription/portal"),
        ("GET", "/subscription"),
    ):
        event = world.api_event(method, path, {"priceId": MONTHLY_PRICE}, user_id=None)
        assert subscription.handler(event, None)["statusCode"] == 401, path
    assert world.stripe.state.requests == []


def test_the_user_id_comes_from_the_jwt_never_the_body(
    world: BillingWorld, subscription: ModuleType
) -> None:
    event = world.api_event(
        "POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE, "userId": "victim"}
    )
    assert subscription.handler(event, None)["statusCode"] == 200
    assert world.user("victim") is None
    (request,) = world.stripe.requests_to("POST", "/v1/checkout/sessions")
    assert request.params["client_reference_id"] == "user-1"


def test_malformed_or_missing_json_is_400(world: BillingWorld, subscription: ModuleType) -> None:
    for raw in ("{not json", "", "[1, 2]", "null"):
        event = world.api_event("POST", "/subscription/checkout", raw_body=raw)
        assert subscription.handler(event, None)["statusCode"] == 400, raw


def test_a_base64_encoded_body_is_decoded(world: BillingWorld, subscription: ModuleType) -> None:
    event = world.api_event(
        "POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}, base64_body=True
    )
    assert subscription.handler(event, None)["statusCode"] == 200


def test_portal_opens_the_callers_own_customer_with_the_stack_configuration(
    world: BillingWorld, subscription: ModuleType
) -> None:
    world.put_user("user-1", stripeCustomerId="cus_mine")
    world.put_user("user-2", stripeCustomerId="cus_theirs")
    event = world.api_event("POST", "/subscription/portal", {"customer": "cus_theirs"})
    response = subscription.handler(event, None)
    assert response["statusCode"] == 200
    assert body(response)["url"].startswith("https://billing.stripe.com/")
    (request,) = world.stripe.requests_to("POST", "/v1/billing_portal/sessions")
    assert request.params["customer"] == "cus_mine", "never another user's customer"
    assert request.params["configuration"] == "bpc_FAKE"
    assert request.params["return_url"].startswith(world.frontend)


def test_portal_without_a_customer_is_400(world: BillingWorld, subscription: ModuleType) -> None:
    response = subscription.handler(world.api_event("POST", "/subscription/portal"), None)
    assert response["statusCode"] == 400
    assert world.stripe.state.requests == []


def test_subscription_state_without_a_record_is_not_subscribed(
    world: BillingWorld, subscription: ModuleType
) -> None:
    response = subscription.handler(world.api_event("GET", "/subscription"), None)
    assert response["statusCode"] == 200
    assert body(response) == {
        "isSubscribed": False,
        "plan": None,
        "planId": None,
        "priceId": None,
        "features": [],
        "subscriptionStatus": None,
        "currentPeriodEnd": None,
        "cancelAtPeriodEnd": False,
        "cancelAt": None,
        "organizationId": None,
    }
    assert world.secret_reads == [], "GET /subscription reads DynamoDB and nothing else"


def test_subscription_state_shows_the_stored_record_and_its_plans_features(
    world: BillingWorld, subscription: ModuleType
) -> None:
    world.put_user(
        "user-1",
        isSubscribed=True,
        plan="annual",
        planId="pro",
        priceId=PRO_ANNUAL_PRICE,
        features=PRO_FEATURES,
        subscriptionStatus="active",
        currentPeriodEnd=1_900_000_000,
        cancelAtPeriodEnd=True,
        cancelAt=1_900_000_000,
    )
    assert body(subscription.handler(world.api_event("GET", "/subscription"), None)) == {
        "isSubscribed": True,
        "plan": "annual",
        "planId": "pro",
        "priceId": PRO_ANNUAL_PRICE,
        "features": PRO_FEATURES,
        "subscriptionStatus": "active",
        "currentPeriodEnd": 1_900_000_000,
        "cancelAtPeriodEnd": True,
        "cancelAt": 1_900_000_000,
        "organizationId": None,
    }


@pytest.mark.parametrize("status", ["canceled", "unpaid", "incomplete_expired"])
def test_features_are_empty_once_the_subscription_no_longer_entitles(
    world: BillingWorld, subscription: ModuleType, status: str
) -> None:
    world.put_user(
        "user-1",
        isSubscribed=False,
        planId="pro",
        features=PRO_FEATURES,
        subscriptionStatus=status,
    )
    state = body(subscription.handler(world.api_event("GET", "/subscription"), None))
    assert state["planId"] == "pro" and state["features"] == []


def test_an_unknown_route_is_404(world: BillingWorld, subscription: ModuleType) -> None:
    assert subscription.handler(world.api_event("GET", "/admin"), None)["statusCode"] == 404
