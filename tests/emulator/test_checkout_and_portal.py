"""Checkout and the portal as Stripe runs them: what a session decides lands on the
subscription, and each page action changes it and tells the webhook."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
import stripe

from tests.emulator.conftest import Receiver, listen, monthly_price
from tools.local.stripe_emulator import StripeFake


def session_for(
    client: stripe.StripeClient, price: str, customer: str, **more: Any
) -> stripe.checkout.Session:
    params: Any = {
        "mode": "subscription",
        "customer": customer,
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": "https://app.example.test/done?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.test/pricing",
        **more,
    }
    return client.v1.checkout.sessions.create(params=params)


def pay_page(session: stripe.checkout.Session, **form: str) -> requests.Response:
    return requests.post(str(session.url), data=form, allow_redirects=False, timeout=30)


def test_subscription_data_metadata_lands_on_the_subscription_not_the_sessions(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create().id
    session = session_for(
        client,
        monthly_price(client),
        customer,
        metadata={"from": "session"},
        subscription_data={"metadata": {"userId": "u-1", "stack": "dev-app"}},
    )
    assert pay_page(session).status_code == 303
    subscription = client.v1.subscriptions.list(params={"customer": customer}).data[0]
    assert subscription.metadata.to_dict() == {"userId": "u-1", "stack": "dev-app"}


def test_a_trial_makes_a_trialing_subscription_with_its_end(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create().id
    session = session_for(
        client, monthly_price(client), customer, subscription_data={"trial_period_days": 14}
    )
    page = requests.get(str(session.url), timeout=30)
    assert "14-day free trial" in page.text
    pay_page(session)
    subscription = client.v1.subscriptions.list(params={"customer": customer}).data[0]
    assert subscription.status == "trialing"
    assert subscription.trial_end is not None and subscription.trial_start is not None
    assert subscription.trial_end - subscription.trial_start == 14 * 24 * 3600
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "no_payment_required"


def promotion(
    client: stripe.StripeClient, duration: Any = "forever", code: str = "LAUNCH25"
) -> str:
    coupon = client.v1.coupons.create(params={"percent_off": 25, "duration": duration})
    return client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code}
    ).id


def test_a_promotion_code_typed_on_the_page_discounts_the_subscription(
    client: stripe.StripeClient,
) -> None:
    promotion(client)
    customer = client.v1.customers.create().id
    session = session_for(client, monthly_price(client, 2000), customer, allow_promotion_codes=True)
    assert "promotion-code" in requests.get(str(session.url), timeout=30).text
    wrong = pay_page(session, promotion_code="NOPE")
    assert wrong.status_code == 402 and "This code is invalid." in wrong.text
    assert pay_page(session, promotion_code="launch25").status_code == 303
    subscription = client.v1.subscriptions.list(params={"customer": customer}).data[0]
    assert len(subscription.discounts) == 1
    invoice = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (2000, 1500, 1500)
    assert invoice.discounts == subscription.discounts


def test_a_once_coupon_leaves_the_subscription_after_its_first_invoice(
    client: stripe.StripeClient,
) -> None:
    promotion(client, duration="once")
    customer = client.v1.customers.create().id
    session = session_for(client, monthly_price(client, 2000), customer, allow_promotion_codes=True)
    pay_page(session, promotion_code="LAUNCH25")
    subscription = client.v1.subscriptions.list(params={"customer": customer}).data[0]
    assert subscription.discounts == []
    assert client.v1.invoices.retrieve(str(subscription.latest_invoice)).total == 1500


def test_a_code_is_refused_where_the_session_does_not_allow_codes(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    promotion(client)
    session = session_for(client, monthly_price(client), client.v1.customers.create().id)
    assert "promotion-code" not in requests.get(str(session.url), timeout=30).text
    answer = requests.post(
        f"{emulator.base_url}/_emulator/checkout/sessions/{session.id}/pay",
        data={"promotion_code": "LAUNCH25"},
        headers={"Authorization": "Bearer sk_test_" + "FAKE" * 6},
        timeout=30,
    )
    assert answer.status_code == 400


def test_automatic_tax_adds_tax_to_the_invoice(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    customer = client.v1.customers.create().id
    session = session_for(
        client, monthly_price(client, 1000), customer, automatic_tax={"enabled": True}
    )
    pay_page(session)
    invoice = client.v1.invoices.retrieve(
        str(client.v1.checkout.sessions.retrieve(session.id).invoice)
    )
    rate = emulator.state.settings.tax_rate_basis_points
    assert invoice.total == 1000 + 1000 * rate // 10000
    assert invoice.total_taxes is not None and invoice.total_taxes[0].amount == invoice.total - 1000
    assert invoice.automatic_tax.enabled and invoice.automatic_tax.status == "complete"


def portal_for(client: stripe.StripeClient, customer: str, prices: list[str]) -> str:
    product = client.v1.prices.retrieve(prices[0]).product
    configuration = client.v1.billing_portal.configurations.create(
        params={
            "features": {
                "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
                "subscription_update": {
                    "enabled": True,
                    "default_allowed_updates": ["price"],
                    "products": [{"product": str(product), "prices": prices}],
                },
            }
        }
    )
    session = client.v1.billing_portal.sessions.create(
        params={
            "customer": customer,
            "configuration": configuration.id,
            "return_url": "https://app.example.test/account",
        }
    )
    return session.url


def two_prices(client: stripe.StripeClient) -> tuple[str, str]:
    product = client.v1.products.create(params={"name": "Plan"}).id
    made = [
        client.v1.prices.create(
            params={
                "product": product,
                "currency": "usd",
                "unit_amount": amount,
                "nickname": name,
                "recurring": {"interval": "month"},
            }
        ).id
        for amount, name in ((1000, "Basic"), (3000, "Pro"))
    ]
    return made[0], made[1]


def subscribed_customer(client: stripe.StripeClient, price: str) -> tuple[str, str]:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"}).id
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price}]}
    ).id
    return customer, subscription


def test_the_portal_cancels_at_period_end_then_resumes(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    basic, pro = two_prices(client)
    customer, subscription = subscribed_customer(client, basic)
    listen(client, receiver)
    url = portal_for(client, customer, [basic, pro])
    page = requests.get(url, timeout=30).text
    assert "cancel-plan" in page and "Return" in page
    assert requests.post(url + "/cancel", timeout=30, allow_redirects=False).status_code == 303
    ending = client.v1.subscriptions.retrieve(subscription)
    assert ending.cancel_at_period_end and ending.status == "active"
    assert "resume" in requests.get(url, timeout=30).text
    requests.post(url + "/resume", timeout=30)
    assert client.v1.subscriptions.retrieve(subscription).cancel_at is None
    emulator.deliver()
    changes = [
        e["data"]["previous_attributes"] for e in receiver.of_type("customer.subscription.updated")
    ]
    assert (
        changes[0]["cancel_at_period_end"] is False and changes[1]["cancel_at_period_end"] is True
    )


def test_the_portal_switches_plan_with_proration_on_the_next_invoice(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    basic, pro = two_prices(client)
    customer, subscription = subscribed_customer(client, basic)
    listen(client, receiver)
    url = portal_for(client, customer, [basic, pro])
    assert re.search(f"value='{pro}'", requests.get(url, timeout=30).text)
    requests.post(url + "/switch", data={"price": pro}, timeout=30)
    switched = client.v1.subscriptions.retrieve(subscription)
    assert switched["items"].data[0].price.id == pro
    emulator.deliver()
    previous = receiver.of_type("customer.subscription.updated")[-1]["data"]["previous_attributes"]
    assert previous["items"]["data"][0]["price"]["id"] == basic
    pending = emulator.state.objects[subscription]["_pending_lines"]
    assert sum(line["amount"] for line in pending) == pytest.approx(
        2000, abs=2
    )  # 30 - 10, a whole period left


def test_an_api_price_change_with_always_invoice_bills_the_difference_now(
    client: stripe.StripeClient,
) -> None:
    basic, pro = two_prices(client)
    _, subscription = subscribed_customer(client, basic)
    item = client.v1.subscriptions.retrieve(subscription)["items"].data[0].id
    updated = client.v1.subscriptions.update(
        subscription,
        params={"items": [{"id": item, "price": pro}], "proration_behavior": "always_invoice"},
    )
    invoice = client.v1.invoices.retrieve(str(updated.latest_invoice))
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    assert invoice.total == pytest.approx(2000, abs=2)
    assert all(line.parent.subscription_item_details.proration for line in invoice.lines.data)  # type: ignore[union-attr]


def test_delete_cancels_now_and_says_so(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    basic, _ = two_prices(client)
    _, subscription = subscribed_customer(client, basic)
    listen(client, receiver)
    canceled = client.v1.subscriptions.cancel(subscription)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    emulator.deliver()
    assert receiver.types() == ["customer.subscription.deleted"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(subscription)
    assert client.v1.subscriptions.list(params={"status": "canceled"}).data[0].id == subscription
    assert client.v1.subscriptions.list().data == []


def test_a_fresh_active_subscription_has_stripes_nulls(client: stripe.StripeClient) -> None:
    basic, _ = two_prices(client)
    _, subscription = subscribed_customer(client, basic)
    fresh = client.v1.subscriptions.retrieve(subscription)
    assert (
        fresh.cancel_at,
        fresh.canceled_at,
        fresh.ended_at,
        fresh.trial_end,
        fresh.pause_collection,
    ) == (None, None, None, None, None)
    invoice = client.v1.invoices.retrieve(str(fresh.latest_invoice)).to_dict()
    assert "subscription" not in invoice  # basil moved it under parent
    assert invoice["parent"]["subscription_details"]["subscription"] == subscription
