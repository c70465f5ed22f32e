"""End to end: program → AWS emulator → Lambdas → Stripe fake, taking what the program declared
as the truth (`tools.local.stack.DeployedStack`, the same stand-up `make serve` uses)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import deployed_dev_stack
from tests.support.billing_world import fake_webhook_secret
from tools.local.stack import DeployedStack
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import base_config, fake_stripe_key, run_program


@pytest.fixture(scope="module")
def stack(
    moto: str, stripe_fake: StripeFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeployedStack]:
    with deployed_dev_stack(moto, stripe_fake, tmp_path_factory.mktemp("e2e")) as deployed:
        yield deployed
        logs = deployed.stop()
        for value in deployed.document.values():
            if isinstance(value, str):  # the keys; the catalog object is public
                assert value not in logs, "a secret value reached a Lambda's log"


def test_the_whole_story(stack: DeployedStack) -> None:
    assert stack.document["stripe_webhook_secret"].startswith("whsec_")
    status, prices = stack.request("GET", "/subscription/prices")
    assert status == 200 and prices["monthly"] == stack.document["stripe_monthly_price_id"]
    status, public = stack.request("GET", "/subscription/prices", claims=None)
    assert status == 200 and public == prices, "the pricing page needs no sign-in"
    assert stack.request("GET", "/subscription", claims=None)[0] == 401

    status, checkout = stack.request(
        "POST", "/subscription/checkout", {"priceId": prices["annual"]}
    )
    assert status == 200, checkout
    session, sub = stack.emulator.complete_checkout(checkout["sessionId"])
    now = int(time.time())  # each event is created when its change happens, as Stripe does
    assert stack.deliver("checkout.session.completed", session, now)[0] == 200
    assert stack.deliver("customer.subscription.created", sub, now)[0] == 200
    status, state = stack.request("GET", "/subscription")
    assert state["isSubscribed"] is True and state["plan"] == "annual"

    status, portal = stack.request("POST", "/subscription/portal")
    assert status == 200 and portal["url"].startswith("https://billing.stripe.com/")
    (portal_request,) = stack.emulator.requests_to("POST", "/v1/billing_portal/sessions")
    assert (
        portal_request.params["configuration"] == stack.document["stripe_portal_configuration_id"]
    )

    cancelling = stack.emulator.update_subscription(sub["id"], cancel_at_period_end=True)
    assert stack.deliver("customer.subscription.updated", cancelling, int(time.time()))[0] == 200
    assert stack.request("GET", "/subscription")[1]["cancelAtPeriodEnd"] is True

    ended = stack.emulator.update_subscription(sub["id"], status="canceled")
    assert stack.deliver("customer.subscription.deleted", ended, int(time.time()))[0] == 200
    status, state = stack.request("GET", "/subscription")
    assert state["isSubscribed"] is False and state["subscriptionStatus"] == "canceled"
    for container in stack.functions.values():
        assert container.foreign_modules == []


def test_a_forged_webhook_is_refused_through_the_unauthenticated_route(
    stack: DeployedStack,
) -> None:
    event = stack.emulator.event("customer.subscription.updated", {"id": "sub_x"}, int(time.time()))
    payload, header = stack.emulator.signed(event, fake_webhook_secret("FORGED"))
    status, _ = stack.request(
        "POST", "/stripe/webhook", raw=payload, headers={"Stripe-Signature": header}
    )
    assert status == 400


def test_rotating_the_api_key_reaches_the_warm_handler_without_a_redeploy(
    stack: DeployedStack,
) -> None:
    claims = {"sub": "user-rotation", "email": "rotation@example.com"}
    monthly = {"priceId": stack.document["stripe_monthly_price_id"]}
    assert stack.request("POST", "/subscription/checkout", monthly, claims=claims)[0] == 200  # warm
    new_key = fake_stripe_key("sk", "test", "ROTATED")
    rotated = run_program(base_config("dev", **{"stripe:apiKey": new_key}))
    before = {f.urn: f.inputs for f in stack.recording.of_type("aws:lambda/function:Function")}
    after = {f.urn: f.inputs for f in rotated.of_type("aws:lambda/function:Function")}
    assert before == after, "rotation must not change any function's code or configuration"
    stack.write_secret_version(rotated)
    assert stack.document["stripe_secret_key"] == new_key
    stack.emulator.state.valid_keys = {new_key}  # the old key is rolled in Stripe
    status, portal = stack.request("POST", "/subscription/portal", claims=claims)
    assert status == 200, portal
    assert stack.emulator.state.requests[-1].api_key == new_key
