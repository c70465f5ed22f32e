"""Every route the emulator serves, called as an app calls it (stripe-python's typed services),
answers what stripe-python parses and the shape Stripe's specification gives that object for
the pinned version; the story below must touch every registered route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from tests.emulator.conftest import Receiver, fake_test_key, listen
from tools.local.stripe_emulator import StripeFake, router
from tools.local.stripe_emulator.schema import params_class
from tools.local.stripe_emulator.spec import response_problems

DAY = 24 * 3600
START = 1769817600


class Checked:
    """Each answer's shape checked against the spec as it arrives; problems are collected."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.kinds: set[str] = set()

    def __call__(self, answer: Any) -> Any:
        self.check(answer.to_dict(for_json=True))
        return answer

    def check(self, payload: dict[str, Any]) -> None:
        if payload.get("deleted") is True:
            assert set(payload) == {"id", "object", "deleted"}, payload
            return
        if payload["object"] == "list":
            for item in payload["data"]:
                self.check(item)
            return
        self.kinds.add(payload["object"])
        self.problems += [
            f"{payload['object']} {p}" for p in response_problems(payload["object"], payload)
        ]
        if payload["object"] == "event":
            self.check(payload["data"]["object"])


@pytest.fixture
def ok() -> Iterator[Checked]:
    checked = Checked()
    yield checked
    assert checked.problems == [], "\n".join(sorted(set(checked.problems)))


def test_every_route_names_a_params_class_of_the_pinned_client() -> None:
    for found in router.ROUTES:
        if found.params is not None:
            params_class(found.params)  # raises for a name stripe-python does not have


def test_every_route_answers_in_the_specifications_shape(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver, ok: Checked
) -> None:
    v1 = client.v1
    listen(client, receiver)
    endpoint = ok(v1.webhook_endpoints.list()).data[0]
    ok(v1.webhook_endpoints.retrieve(endpoint.id))
    ok(v1.webhook_endpoints.update(endpoint.id, params={"description": "the app"}))
    # The catalog.
    product = ok(v1.products.create(params={"name": "Pro", "metadata": {"stack": "dev"}}))
    ok(v1.products.update(product.id, params={"description": "For teams"}))
    ok(v1.products.retrieve(product.id))
    ok(v1.products.list(params={"active": True}))
    # Entitlements: features attached to the product, granted to whoever subscribes to it.
    exports = ok(
        v1.entitlements.features.create(
            params={"name": "Exports", "lookup_key": "exports", "metadata": {"tier": "pro"}}
        )
    )
    seats = ok(v1.entitlements.features.create(params={"name": "Seats", "lookup_key": "seats"}))
    ok(v1.entitlements.features.retrieve(exports.id))
    ok(v1.entitlements.features.update(exports.id, params={"name": "CSV exports"}))
    ok(v1.entitlements.features.list(params={"lookup_key": "exports"}))
    attached = ok(
        v1.products.features.create(product.id, params={"entitlement_feature": exports.id})
    )
    ok(v1.products.features.create(product.id, params={"entitlement_feature": seats.id}))
    ok(v1.products.features.retrieve(product.id, attached.id))
    ok(v1.products.features.list(product.id))
    price = ok(
        v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 2900,
                "recurring": {"interval": "month"},
                "lookup_key": "dev-pro-monthly",
            }
        )
    )
    annual = ok(
        v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 29000,
                "recurring": {"interval": "year"},
            }
        )
    )
    ok(v1.prices.retrieve(price.id))
    ok(v1.prices.list(params={"lookup_keys": ["dev-pro-monthly"]}))
    ok(v1.prices.update(annual.id, params={"nickname": "Pro (annual)"}))
    coupon = ok(
        v1.coupons.create(
            params={"percent_off": 20, "duration": "repeating", "duration_in_months": 3}
        )
    )
    ok(v1.coupons.retrieve(coupon.id))
    ok(v1.coupons.list())
    code = ok(
        v1.promotion_codes.create(
            params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "SPRING"}
        )
    )
    ok(v1.promotion_codes.retrieve(code.id))
    ok(v1.promotion_codes.list(params={"code": "SPRING"}))
    configuration = ok(
        v1.billing_portal.configurations.create(
            params={
                "features": {
                    "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
                    "subscription_update": {
                        "enabled": True,
                        "default_allowed_updates": ["price"],
                        "products": [{"product": product.id, "prices": [price.id, annual.id]}],
                    },
                }
            }
        )
    )
    ok(v1.billing_portal.configurations.retrieve(configuration.id))
    ok(v1.billing_portal.configurations.list(params={"active": True}))
    ok(
        v1.billing_portal.configurations.update(
            configuration.id, params={"metadata": {"stack": "dev"}}
        )
    )
    # A customer on a clock pays a session with a code, then lives a month and more.
    clock = ok(
        v1.test_helpers.test_clocks.create(params={"frozen_time": START, "name": "conformance"})
    )
    ok(v1.test_helpers.test_clocks.list())
    customer = ok(
        v1.customers.create(
            params={
                "email": "ada@example.test",
                "test_clock": clock.id,
                "metadata": {"userId": "ada"},
            }
        )
    )
    ok(v1.customers.update(customer.id, params={"name": "Ada"}))
    ok(v1.customers.retrieve(customer.id))
    ok(v1.customers.list(params={"email": "ada@example.test"}))
    session = ok(
        v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer.id,
                "allow_promotion_codes": True,
                "line_items": [{"price": price.id, "quantity": 1}],
                "automatic_tax": {"enabled": True},
                "subscription_data": {"metadata": {"userId": "ada"}, "trial_period_days": 7},
                "success_url": "https://app.example.test/done?session_id={CHECKOUT_SESSION_ID}",
            }
        )
    )
    ok(v1.checkout.sessions.list(params={"customer": customer.id}))
    paid = requests.post(
        f"{emulator.base_url}/_emulator/checkout/sessions/{session.id}/pay",
        data={"promotion_code": "SPRING"},
        headers={"Authorization": f"Bearer {fake_test_key()}"},
        timeout=30,
    )
    assert paid.status_code == 200
    ok.check(paid.json())
    completed = ok(v1.checkout.sessions.retrieve(session.id))
    abandoned = ok(
        v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer.id,
                "line_items": [{"price": price.id, "quantity": 1}],
                "success_url": "https://app.example.test/done",
            }
        )
    )
    ok(v1.checkout.sessions.expire(abandoned.id))
    subscription = ok(v1.subscriptions.retrieve(str(completed.subscription)))
    entitled = ok(v1.entitlements.active_entitlements.list(params={"customer": customer.id}))
    assert sorted(e.lookup_key for e in entitled.data) == ["exports", "seats"]
    ok(v1.entitlements.active_entitlements.retrieve(entitled.data[0].id))
    ok(v1.subscriptions.list(params={"customer": customer.id, "status": "all"}))
    item = subscription["items"].data[0]
    ok(v1.subscription_items.list(params={"subscription": subscription.id}))
    ok(v1.subscription_items.retrieve(item.id))
    ok(v1.subscription_items.update(item.id, params={"metadata": {"seat": "1"}}))
    ok(
        v1.billing_portal.sessions.create(
            params={"customer": customer.id, "configuration": configuration.id}
        )
    )
    ok(v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": START + 8 * DAY}))
    emulator.wait_for_clock(clock.id)
    ok(v1.test_helpers.test_clocks.retrieve(clock.id))
    ok(
        v1.subscriptions.update(
            subscription.id,
            params={
                "items": [{"id": item.id, "price": annual.id}],
                "proration_behavior": "always_invoice",
            },
        )
    )
    invoices = ok(v1.invoices.list(params={"customer": customer.id}))
    ok(v1.invoices.retrieve(invoices.data[0].id))
    ok(v1.invoices.line_items.list(invoices.data[0].id))
    # A second customer's card fails; paying the open invoice with a good card settles it.
    failing = ok(
        v1.customers.create(
            params={"test_clock": clock.id, "payment_method": "pm_card_chargeCustomerFail"}
        )
    )
    second = ok(
        v1.subscriptions.create(params={"customer": failing.id, "items": [{"price": price.id}]})
    )
    ok(v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": START + 40 * DAY}))
    emulator.wait_for_clock(clock.id)
    open_invoice = ok(v1.invoices.list(params={"customer": failing.id, "status": "open"})).data[0]
    ok(v1.invoices.pay(open_invoice.id, params={"payment_method": "pm_card_visa"}))
    ok(v1.subscriptions.cancel(second.id))
    ok(v1.products.features.delete(product.id, attached.id))
    ok(v1.entitlements.features.update(seats.id, params={"active": False}))
    ok(v1.entitlements.features.list(params={"archived": True}))
    summaries = ok(
        v1.events.list(params={"type": "entitlements.active_entitlement_summary.updated"})
    )
    assert summaries.data, "no entitlements.active_entitlement_summary.updated event"
    events = ok(v1.events.list(params={"limit": 100}))
    ok(v1.events.retrieve(events.data[0].id))
    _meters(client, emulator, ok, customer.id)
    ok(v1.customers.delete(failing.id))
    ok(v1.webhook_endpoints.delete(endpoint.id))
    ok(v1.test_helpers.test_clocks.delete(clock.id))
    assert ok.kinds >= {
        "checkout.session",
        "subscription",
        "invoice",
        "customer",
        "event",
        "test_helpers.test_clock",
        "billing_portal.session",
        "billing_portal.configuration",
        "promotion_code",
        "coupon",
        "price",
        "product",
        "webhook_endpoint",
        "subscription_item",
        "line_item",
        "entitlements.feature",
        "product_feature",
        "entitlements.active_entitlement",
        "entitlements.active_entitlement_summary",
        "billing.meter",
        "billing.meter_event",
        "billing.meter_event_summary",
    }
    touched = {(r.method, r.path) for r in emulator.state.requests}
    untouched = [
        f"{r.method} /{'/'.join(r.segments)}"
        for r in router.ROUTES
        if not any(
            r.match(method, path.strip("/").split("/")) is not None for method, path in touched
        )
    ]
    assert untouched == [], "routes the conformance story never called"


def _meters(client: stripe.StripeClient, emulator: StripeFake, ok: Checked, customer: str) -> None:
    """Meters, v1 events, the v2 session and stream (on the `meter_events` base), summaries."""
    v1 = client.v1
    meter = ok(v1.billing.meters.create(params={
        "display_name": "API calls", "event_name": "conformance_api_calls",
        "default_aggregation": {"formula": "sum"},
        "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
        "value_settings": {"event_payload_key": "value"},
    }))  # fmt: skip
    ok(v1.billing.meters.retrieve(meter.id))
    ok(v1.billing.meters.list())
    ok(v1.billing.meters.update(meter.id, params={"display_name": "Calls"}))
    ok(v1.billing.meter_events.create(params={
        "event_name": "conformance_api_calls", "identifier": "conformance-1",
        "payload": {"stripe_customer_id": customer, "value": "3"},
    }))  # fmt: skip
    session = client.v2.billing.meter_event_session.create()
    streaming = stripe.StripeClient(
        session.authentication_token, base_addresses={"meter_events": emulator.base_url}
    )
    streaming.v2.billing.meter_event_stream.create(params={"events": [{
        "event_name": "conformance_api_calls", "identifier": "conformance-2",
        "payload": {"stripe_customer_id": customer, "value": "4"},
    }]})  # fmt: skip
    now = int(emulator.state.now(customer))
    ok(v1.billing.meters.event_summaries.list(meter.id, params={
        "customer": customer, "start_time": now - 3600 * 24, "end_time": now + 3600,
    }))  # fmt: skip
    ok(v1.billing.meters.deactivate(meter.id))
    ok(v1.billing.meters.reactivate(meter.id))
