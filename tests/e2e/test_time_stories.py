"""Stories that need time to pass, told on the strict emulator's test clocks.

The dev stack runs as the program declares it (functions from their archives, moto, the
emulator); the emulator delivers its events over HTTP to the webhook route as Stripe does, to
an endpoint listening for the events the program declares, in the version it pins. Each
customer the app creates lives on its own test clock (`clock_per_customer`, local mode's
setting), so a story moves one customer's time: a trial ends, a month renews, a card fails.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.conftest import deployed_dev_stack
from tests.e2e.test_money_stories import (
    DEV_PLANS,
    check_out,
    claims_of,
    customer_of,
    price,
    record_of,
    state_of,
)
from tools.local.stack import DeployedStack
from tools.local.stripe_emulator import PINNED_API_VERSION, StripeFake

DAY = 24 * 3600


@pytest.fixture(scope="module")
def stack(
    moto: str, stripe_fake: StripeFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeployedStack]:
    stripe_fake.state.settings.clock_per_customer = True
    root = tmp_path_factory.mktemp("time")
    with deployed_dev_stack(moto, stripe_fake, root, config=DEV_PLANS) as deployed:
        yield deployed
        deployed.stop()


@pytest.fixture(autouse=True)
def fresh_account(stripe_fake: StripeFake) -> Iterator[None]:
    """Each story adds its own webhook endpoint; the account's version is the pinned one."""
    yield
    with stripe_fake.state.lock:
        for endpoint in stripe_fake.state.of_kind("webhook_endpoint"):
            del stripe_fake.state.objects[endpoint["id"]]
        stripe_fake.state.settings.api_version = PINNED_API_VERSION


@pytest.fixture(scope="module")
def webhook_url(stack: DeployedStack) -> Iterator[str]:
    """An HTTP front for the webhook route, as API Gateway is one for Stripe."""

    class Forward(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            payload = self.rfile.read(int(self.headers["Content-Length"])).decode()
            status, _ = stack.request(
                "POST", "/stripe/webhook", raw=payload,
                headers={"Stripe-Signature": self.headers["Stripe-Signature"]},
            )  # fmt: skip
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook"
    finally:
        server.shutdown()
        server.server_close()


def declared_endpoint(stack: DeployedStack, url: str, pinned: bool = True) -> None:
    """The endpoint `pulumi up` made: the program's events, in its pinned version (or, as
    `stripe listen` forwards them, in the account's default version)."""
    endpoint = stack.recording.one("stripe:index/webhookEndpoint:WebhookEndpoint").inputs
    stack.emulator.add_webhook_endpoint(
        url,
        stack.document["stripe_webhook_secret"],
        endpoint["enabledEvents"],
        endpoint["apiVersion"] if pinned else None,
    )


def subscribe(stack: DeployedStack, user: str, plan: str, card: str = "pm_card_visa") -> str:
    """Check out and pay on the hosted page (its events delivered); the customer's clock."""
    checkout = check_out(stack, user, price(stack, plan))
    stack.emulator.pay_checkout(checkout["sessionId"], payment_method=card)
    return stack.emulator.clock_of(customer_of(stack, checkout))


def test_a_trial_ends_and_converts(stack: DeployedStack, webhook_url: str) -> None:
    declared_endpoint(stack, webhook_url)
    clock = subscribe(stack, "trial-tom", "pro")
    trialing = state_of(stack, "trial-tom")
    assert (trialing["subscriptionStatus"], trialing["isSubscribed"]) == ("trialing", True)
    stack.emulator.advance(clock, 15 * DAY)
    converted = state_of(stack, "trial-tom")
    assert (converted["subscriptionStatus"], converted["isSubscribed"], converted["planId"]) == (
        "active",
        True,
        "pro",
    )
    assert converted["currentPeriodEnd"] > trialing["currentPeriodEnd"]


def test_a_month_renews_and_the_period_moves(stack: DeployedStack, webhook_url: str) -> None:
    declared_endpoint(stack, webhook_url)
    clock = subscribe(stack, "renewing-rita", "basic")
    first = state_of(stack, "renewing-rita")
    stack.emulator.advance(clock, 32 * DAY)
    renewed = state_of(stack, "renewing-rita")
    assert renewed["subscriptionStatus"] == "active"
    assert renewed["currentPeriodEnd"] - first["currentPeriodEnd"] >= 28 * DAY


def test_a_failed_payment_keeps_access_while_past_due_then_loses_it(
    stack: DeployedStack, webhook_url: str
) -> None:
    declared_endpoint(stack, webhook_url)
    clock = subscribe(stack, "failing-fred", "basic", card="pm_card_chargeCustomerFail")
    stack.emulator.advance(clock, 31 * DAY)
    past_due = state_of(stack, "failing-fred")
    assert (past_due["subscriptionStatus"], past_due["isSubscribed"]) == (
        "past_due",
        True,
    )  # the contract's grace
    stack.emulator.advance(clock, 16 * DAY)  # every retry fails: the account cancels
    ended = state_of(stack, "failing-fred")
    assert (ended["subscriptionStatus"], ended["isSubscribed"]) == ("canceled", False)


def test_a_cancellation_at_period_end_takes_effect_when_the_clock_passes_it(
    stack: DeployedStack, webhook_url: str
) -> None:
    declared_endpoint(stack, webhook_url)
    clock = subscribe(stack, "leaving-lea", "basic")
    status, portal = stack.request("POST", "/subscription/portal", claims=claims_of("leaving-lea"))
    assert status == 200
    portal_session = portal["url"].rsplit("/", 1)[1]
    from tools.local.stripe_emulator import portal as portal_actions

    with stack.emulator.state.lock:
        portal_actions.act(stack.emulator.state, portal_session, "cancel", {})
    stack.emulator.deliver()
    ending = state_of(stack, "leaving-lea")
    assert ending["isSubscribed"] is True and ending["cancelAt"] == ending["currentPeriodEnd"]
    stack.emulator.advance(clock, 29 * DAY)
    assert state_of(stack, "leaving-lea")["isSubscribed"] is True
    stack.emulator.advance(clock, 3 * DAY)
    assert state_of(stack, "leaving-lea")["isSubscribed"] is False


def test_a_plan_switched_in_the_portal_reaches_the_record(
    stack: DeployedStack, webhook_url: str
) -> None:
    declared_endpoint(stack, webhook_url)
    subscribe(stack, "upgrading-uma", "basic")
    _, portal = stack.request("POST", "/subscription/portal", claims=claims_of("upgrading-uma"))
    from tools.local.stripe_emulator import portal as portal_actions

    with stack.emulator.state.lock:
        portal_actions.act(
            stack.emulator.state,
            portal["url"].rsplit("/", 1)[1],
            "switch",
            {"price": price(stack, "pro")},
        )
    stack.emulator.deliver()
    switched = state_of(stack, "upgrading-uma")
    assert (switched["planId"], switched["isSubscribed"]) == ("pro", True)
    assert set(switched["features"]) == {"reports", "priority-support"}


def test_an_event_in_another_api_version_is_re_read_and_applied(
    stack: DeployedStack, webhook_url: str
) -> None:
    stack.emulator.state.settings.api_version = "2024-06-20"  # the account's default
    declared_endpoint(stack, webhook_url, pinned=False)  # e.g. `stripe listen` forwarding
    reads_before = len(stack.emulator.requests_to("GET", "/v1/subscriptions"))
    subscribe(stack, "versioned-vic", "basic")
    state = state_of(stack, "versioned-vic")
    assert (state["subscriptionStatus"], state["planId"], state["isSubscribed"]) == (
        "active",
        "basic",
        True,
    )
    delivered = [
        e for e in stack.emulator.state.events if e["type"] == "customer.subscription.created"
    ]
    assert delivered and delivered[-1]["_delivered"] is True
    assert len(stack.emulator.requests_to("GET", "/v1/subscriptions")) > reads_before  # re-read


def test_a_feature_added_in_config_reaches_a_subscriber_through_stripes_entitlements(
    stack: DeployedStack, webhook_url: str
) -> None:
    """`pulumi up` with a new feature on pro makes an entitlement feature and attaches it to the
    product; Stripe grants it from the subscriber's next period and says so in an entitlement
    summary, which the webhook reads into the record."""
    from tools.local.stripe_emulator import entitlements
    from tools.local.stripe_emulator.router import Call

    declared_endpoint(stack, webhook_url)
    clock = subscribe(stack, "growing-gil", "pro")
    before = state_of(stack, "growing-gil")
    assert set(before["features"]) == {"reports", "priority-support"}
    emulator = stack.emulator
    pro = next(p for p in stack.document["stripe_catalog"]["plans"] if p["id"] == "pro")
    with emulator.state.lock:  # what the provider's EntitlementsFeature and ProductFeature do
        feature = entitlements.create_feature(
            Call(emulator, {"name": "exports", "lookup_key": "dev-saas-billing-exports"}, {})
        )
        entitlements.attach_feature(
            Call(emulator, {"entitlement_feature": feature["id"]}, {"product": pro["productId"]})
        )
    stack.emulator.advance(clock, 15 * DAY)  # the trial ends: a new period starts
    after = state_of(stack, "growing-gil")
    assert set(after["features"]) == {"reports", "priority-support", "exports"}
    record = record_of(stack, "growing-gil")
    assert record is not None and {v["S"] for v in record["entitlements"]["L"]} >= {"exports"}
