"""The hosted pages: Checkout's payment page and the customer portal (plain HTML forms).

Checkout: the amount (and trial), a test card to choose, a promotion code field when the
session allows codes, Pay. A completed or expired session says so and cannot be paid.
Portal: the current plan and what the configuration offers (cancel, resume, switch plan,
quantity), each a form that changes the subscription, then the return link.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from tools.local.stripe_emulator import billing, checkout, portal
from tools.local.stripe_emulator.errors import StripeError

if TYPE_CHECKING:
    from tools.local.stripe_emulator.emulator import StripeFake

Page = tuple[int, dict[str, str], bytes]
HTML = {"Content-Type": "text/html; charset=utf-8"}


def _html(title: str, body: str, status: int = 200) -> Page:
    head = f"<!doctype html><meta charset='utf-8'><title>{escape(title)} (Stripe emulator)</title>"
    page = head + body
    return status, HTML, page.encode()


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"


def serve(emulator: StripeFake, method: str, path: str, form: Mapping[str, str]) -> Page | None:
    """The page at `path`, or None when `path` is not a hosted page."""
    parts = path.strip("/").split("/")
    match method, parts:
        case (("GET" | "POST"), ["c", "pay", session_id]):
            return checkout_page(emulator, method, session_id, form)
        case "GET", ["p", "session", session_id]:
            return portal_page(emulator, session_id)
        case "POST", ["p", "session", session_id, action]:
            return portal_action(emulator, session_id, action, form)
    return None


def checkout_page(
    emulator: StripeFake, method: str, session_id: str, form: Mapping[str, str]
) -> Page:
    state = emulator.state
    error = ""
    with state.lock:
        session = state.objects.get(session_id)
        if session is None or session.get("object") != "checkout.session":
            return 404, {"Content-Type": "text/plain"}, b"No such checkout session"
        session = checkout._current(state, session_id)
        if session["status"] != "open":
            message = f"This Checkout Session is {session['status']}: it cannot be paid."
            return _html("Checkout", f"<p id='closed'>{escape(message)}</p>", 400)
        if method == "POST":
            try:
                paid = checkout.pay(
                    state,
                    session_id,
                    form.get("payment_method") or "pm_card_visa",
                    form.get("promotion_code") or None,
                )
            except StripeError as refused:
                error = refused.message
            else:
                location = checkout.success_url(paid)
                emulator.after_response(emulator.deliver)
                return 303, {"Location": location}, b""
        body = _checkout_form(state, session, error)
    return _html("Checkout", body, 402 if error else 200)


def _checkout_form(state: Any, session: Mapping[str, Any], error: str) -> str:
    amount = _money(session["amount_total"] or 0, session["currency"] or "usd")
    trial = (session["_params"].get("subscription_data") or {}).get("trial_period_days")
    promo = (
        "<label>Promotion code <input id='promotion-code' name='promotion_code'></label>"
        if session.get("allow_promotion_codes")
        else ""
    )
    button = "Start trial" if trial else f"Pay {amount}"
    cards = "".join(f"<option value='{c}'>{c}</option>" for c in billing.CARDS)
    return (
        "<h1>Checkout</h1><p>Stripe emulator: no card is charged.</p>"
        f"<p id='amount'>{escape(amount)}</p>"
        + (f"<p id='trial'>{trial}-day free trial, then {escape(amount)}</p>" if trial else "")
        + (f"<p id='error' role='alert'>{escape(error)}</p>" if error else "")
        + "<form method='post'>"
        f"<label>Card <select id='card' name='payment_method'>{cards}</select></label>{promo}"
        f"<button id='pay' type='submit'>{escape(button)}</button></form>"
        f"<p><a id='cancel' href='{escape(str(session['cancel_url'] or '/'))}'>Back</a></p>"
    )


def portal_page(emulator: StripeFake, session_id: str, notice: str = "") -> Page:
    state = emulator.state
    with state.lock:
        session = state.objects.get(session_id)
        if session is None or session.get("object") != "billing_portal.session":
            return 404, {"Content-Type": "text/plain"}, b"No such portal session"
        configuration = state.objects[session["configuration"]]
        subscription = portal.current_subscription(state, session["customer"])
        body = ["<h1 id='portal'>Billing portal</h1><p>Stripe emulator: manage your plan here.</p>"]
        if notice:
            body.append(f"<p id='notice' role='status'>{escape(notice)}</p>")
        if subscription is None:
            body.append("<p id='plan'>No current subscription.</p>")
        else:
            body.append(_subscription_forms(state, session_id, subscription, configuration))
    body.append(
        f"<p><a id='return' href='{escape(str(session['return_url'] or '/'))}'>Return</a></p>"
    )
    return _html("Billing portal", "".join(body))


def _subscription_forms(
    state: Any, session_id: str, subscription: Mapping[str, Any], configuration: Mapping[str, Any]
) -> str:
    item = subscription["items"]["data"][0]
    price = item["price"]
    end = billing.period(subscription)[1]
    action = f"/p/session/{escape(session_id)}"
    parts = [
        f"<p id='plan'>{escape(price.get('nickname') or price['id'])}: "
        f"<span id='sub-status'>{escape(subscription['status'])}</span>, period ends "
        f"<span id='period-end'>{end}</span>"
        + (
            f", cancels at <span id='cancels-at'>{subscription['cancel_at']}</span>"
            if subscription["cancel_at"]
            else ""
        )
        + "</p>"
    ]
    features = configuration["features"]
    if subscription["cancel_at"]:
        parts.append(
            f"<form method='post' action='{action}/resume'><button id='resume'>Renew "
            "plan</button></form>"
        )
    elif features["subscription_cancel"].get("enabled"):
        parts.append(
            f"<form method='post' action='{action}/cancel'><button id='cancel-plan'>Cancel "
            "plan</button></form>"
        )
    offered = [p for p in portal.offered_prices(state, configuration) if p["id"] != price["id"]]
    if offered:
        options = "".join(
            f"<option value='{escape(p['id'])}'>{escape(p.get('nickname') or p['id'])}</option>"
            for p in offered
        )
        parts.append(
            f"<form method='post' action='{action}/switch'><select id='switch-price' "
            f"name='price'>{options}</select><button id='switch'>Switch plan</button></form>"
        )
    if "quantity" in (
        features["subscription_update"].get("default_allowed_updates") or []
    ) and features["subscription_update"].get("enabled"):
        parts.append(
            f"<form method='post' action='{action}/quantity'><input id='quantity' "
            f"name='quantity' value='{item.get('quantity', 1)}'><button "
            "id='update-quantity'>Update quantity</button></form>"
        )
    return "".join(parts)


def portal_action(
    emulator: StripeFake, session_id: str, action: str, form: Mapping[str, str]
) -> Page:
    state = emulator.state
    with state.lock:
        try:
            portal.act(state, session_id, action, form)
        except StripeError as refused:
            _, headers, page = portal_page(emulator, session_id, refused.message)
            return 400, headers, page
    emulator.after_response(emulator.deliver)
    return 303, {"Location": f"/p/session/{session_id}"}, b""
