"""Checkout Sessions: create, retrieve, list, expire, and paying one as the hosted page does.

What a subscription-mode session decides lands where Stripe puts it: `subscription_data`'s
metadata (never the session's) on the subscription, `trial_period_days` as a trial,
a promotion code the customer typed (only with `allow_promotion_codes`) as a discount,
`automatic_tax` as tax on the invoices. A completed or expired session cannot be paid.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tools.local.stripe_emulator import billing
from tools.local.stripe_emulator.catalog import redeemable
from tools.local.stripe_emulator.customers import add_customer
from tools.local.stripe_emulator.errors import StripeError, invalid
from tools.local.stripe_emulator.events import emit
from tools.local.stripe_emulator.objects import fixture, list_page, new_id, public
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState
from tools.local.stripe_emulator.subscriptions import recurring_price, start_subscription

if TYPE_CHECKING:
    pass

DAY = billing.DAY


def _line_items(state: StripeState, items: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    """Recurring prices, one currency; a licensed price needs its quantity, a metered none."""
    found: list[tuple[str, int | None]] = []
    currencies = set()
    for n, item in enumerate(items):
        param = f"line_items[{n}]"
        price = recurring_price(
            state,
            item.get("price"),
            f"{param}[price]",
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
        )
        if billing.metered(price):
            if "quantity" in item:
                raise invalid(
                    "Quantity should not be specified where usage_type is `metered`. Remove "
                    "quantity from `line_items[{n}]`.".replace("{n}", str(n)),
                    f"{param}[quantity]",
                )
        elif "quantity" not in item:
            raise invalid(
                f"Quantity is required. Add `quantity` to `{param}`",
                f"{param}[quantity]",
                "parameter_missing",
            )
        currencies.add(price["currency"])
        found.append((price["id"], item.get("quantity")))
    if len(currencies) > 1:
        raise invalid("All prices on a Checkout Session must share one currency.", "line_items")
    return found


def _check(call: Call) -> None:
    p = call.params
    if p.get("mode") != "subscription":
        raise invalid("This emulator serves subscription-mode Checkout Sessions only.", "mode")
    if p.get("ui_mode", "hosted_page") == "hosted_page" and not p.get("success_url"):
        raise invalid("Missing required param: success_url.", "success_url", "parameter_missing")
    if p.get("allow_promotion_codes") and p.get("discounts"):
        raise invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            "allow_promotion_codes",
            "parameters_exclusive",
        )
    if p.get("customer") and p.get("customer_email"):
        raise invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            "customer",
            "parameters_exclusive",
        )
    if p.get("customer"):
        call.state.get("customer", p["customer"], "customer")
    trial = (p.get("subscription_data") or {}).get("trial_period_days")
    if trial is not None and not 1 <= trial <= 730:
        raise invalid(
            "The trial period must be between 1 and 730 days.",
            "subscription_data[trial_period_days]",
        )


@route("POST", "/v1/checkout/sessions", "checkout.SessionCreateParams")
def create_session(call: Call) -> dict[str, Any]:
    _check(call)
    p = call.params
    items = _line_items(call.state, p.get("line_items") or [])
    now = int(time.time())
    expires_at = p.get("expires_at", now + DAY)
    if not now + 1800 <= expires_at <= now + DAY:
        raise invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
            "Checkout Session creation.",
            "expires_at",
        )
    session = fixture("checkout.session")
    session_id = "cs_test_" + new_id("a").removeprefix("a_")
    subtotal = sum(
        int(call.state.objects[price]["unit_amount"] or 0) * (qty or 0) for price, qty in items
    )
    session.update(
        id=session_id,
        created=now,
        expires_at=expires_at,
        mode="subscription",
        customer=p.get("customer"),
        customer_email=p.get("customer_email"),
        client_reference_id=p.get("client_reference_id"),
        metadata=dict(p.get("metadata") or {}),
        success_url=p.get("success_url"),
        cancel_url=p.get("cancel_url"),
        allow_promotion_codes=p.get("allow_promotion_codes"),
        ui_mode=p.get("ui_mode", "hosted_page"),
        billing_address_collection=p.get("billing_address_collection"),
        currency=call.state.objects[items[0][0]]["currency"],
        amount_subtotal=subtotal,
        amount_total=subtotal,
        automatic_tax={
            "enabled": bool((p.get("automatic_tax") or {}).get("enabled")),
            "liability": None,
            "provider": None,
            "status": None,
        },
        url=call.emulator.checkout_url(session_id),
        locale=p.get("locale"),
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        _items=items,
        _params=p,
    )
    call.state.objects[session_id] = session
    return public(session)


@route("GET", "/v1/checkout/sessions/{id}", "checkout.SessionRetrieveParams")
def retrieve_session(call: Call) -> dict[str, Any]:
    return public(_current(call.state, call.id()))


def _current(state: StripeState, session_id: str, param: str = "session") -> dict[str, Any]:
    """The session, expired first if its `expires_at` has passed (as Stripe's sweeper does)."""
    session = state.get("checkout.session", session_id, param)
    if session["status"] == "open" and session["expires_at"] <= time.time():
        session["status"] = "expired"
        emit(state, "checkout.session.expired", session)
    return session


@route("GET", "/v1/checkout/sessions", "checkout.SessionListParams")
def list_sessions(call: Call) -> dict[str, Any]:
    p = call.params
    found = [
        _current(call.state, s["id"])
        for s in call.state.of_kind("checkout.session")
        if s.get("customer") == p.get("customer", s.get("customer"))
        and s.get("subscription") == p.get("subscription", s.get("subscription"))
    ]
    found = [s for s in found if s["status"] == p.get("status", s["status"])]
    found.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
    return list_page(found, p, "/v1/checkout/sessions")


@route("POST", "/v1/checkout/sessions/{id}/expire", "checkout.SessionExpireParams")
def expire_session(call: Call) -> dict[str, Any]:
    session = _current(call.state, call.id(), "session")
    if session["status"] != "open":
        raise invalid(
            'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f'Session has a status of "{session["status"]}".',
        )
    session["status"] = "expired"
    emit(call.state, "checkout.session.expired", session)
    return public(session)


def pay(
    state: StripeState,
    session_id: str,
    payment_method: str = "pm_card_visa",
    promotion_code: str | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """What the hosted page's Pay button does: charge the card, start the subscription,
    complete the session. Refusals are Stripe's (`StripeError`), and change nothing."""
    session = _current(state, session_id)
    if session["status"] != "open":
        raise invalid(
            f"This Checkout Session is {session['status']}: it cannot be paid.",
            "session",
            "checkout_session_not_open",
        )
    if payment_method not in billing.CARDS:
        raise invalid(
            f"No such PaymentMethod: '{payment_method}'", "payment_method", "resource_missing"
        )
    if billing.CARDS[payment_method] == "declined":
        raise StripeError(
            402, "card_error", "Your card was declined.", "card_declined", "payment_method"
        )
    p = session["_params"]
    customer_id = (
        session["customer"] or add_customer(state, email or session["customer_email"])["id"]
    )
    now = state.now(customer_id)
    promotion = None
    if promotion_code:
        if not session.get("allow_promotion_codes"):
            raise invalid(
                "This Checkout Session does not accept promotion codes.", "promotion_code"
            )
        promotion = redeemable(state, promotion_code, customer_id, now)
    coupon = promotion["promotion"]["coupon"] if promotion else None
    for entry in p.get("discounts") or []:
        coupon = (
            entry.get("coupon") or state.objects[entry["promotion_code"]]["promotion"]["coupon"]
        )
    state.objects[customer_id]["_card"] = payment_method
    state.objects[customer_id]["invoice_settings"]["default_payment_method"] = payment_method
    data = p.get("subscription_data") or {}
    trial_end = (
        now + int(data["trial_period_days"]) * DAY
        if data.get("trial_period_days")
        else data.get("trial_end")
    )
    subscription = start_subscription(
        state,
        customer_id,
        session["_items"],
        data.get("metadata"),
        trial_end,
        coupon,
        promotion["id"] if promotion else None,
        session["automatic_tax"]["enabled"],
    )
    invoice = state.objects[subscription["latest_invoice"]]
    session.update(
        status="complete",
        payment_status="paid" if invoice["amount_paid"] else "no_payment_required",
        subscription=subscription["id"],
        customer=customer_id,
        invoice=invoice["id"],
        amount_subtotal=invoice["subtotal"],
        amount_total=invoice["total"],
        discounts=[{"coupon": coupon, "promotion_code": promotion["id"] if promotion else None}]
        if coupon
        else [],
        total_details={
            "amount_discount": invoice["subtotal"] - invoice["total_excluding_tax"],
            "amount_shipping": 0,
            "amount_tax": invoice["total"] - invoice["total_excluding_tax"],
        },
    )
    if session["automatic_tax"]["enabled"]:
        session["automatic_tax"].update(status="complete", provider="stripe")
    emit(state, "checkout.session.completed", session)
    return session


def success_url(session: dict[str, Any]) -> str:
    return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session["id"])


@route("POST", "/_emulator/checkout/sessions/{id}/pay", None)
def pay_route(call: Call) -> dict[str, Any]:
    """The emulator-only route the hosted page's Pay button calls."""
    extra = set(call.params) - {"payment_method", "promotion_code", "email"}
    if extra:
        name = sorted(extra)[0]
        raise invalid(f"Received unknown parameter: {name}", name, "parameter_unknown")
    session = pay(
        call.state,
        call.id(),
        call.params.get("payment_method", "pm_card_visa"),
        call.params.get("promotion_code"),
        call.params.get("email"),
    )
    return public(session)
