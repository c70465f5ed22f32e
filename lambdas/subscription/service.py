"""The subscription API's use cases, as plain functions of the caller and the request.

A caller whose status is entitled (`users.ENTITLED_STATUSES`, past_due included) gets 409 at
checkout: plans change through the billing portal.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from shared import secrets, users
from shared.http import Caller, HttpError
from shared.log import get_logger
from shared.stripe_client import call_stripe

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams

PLANS = ("monthly", "annual")

logger = get_logger("subscription")


def _frontend() -> str:
    return os.environ["FRONTEND_DOMAIN"].rstrip("/")


def price_ids() -> dict[str, str]:
    """This stack's two price ids, from the secret document."""
    return {plan: secrets.require_secret(f"stripe_{plan}_price_id") for plan in PLANS}


def create_checkout(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """A Checkout Session for one of this stack's prices, on the caller's one Stripe customer."""
    price_id = body.get("priceId")
    if not isinstance(price_id, str) or price_id not in price_ids().values():
        raise HttpError(400, "priceId must be one of this service's prices")
    record = users.get_user(caller.user_id) or {}
    if record.get("subscriptionStatus") in users.ENTITLED_STATUSES:
        raise HttpError(409, "Already subscribed: use the billing portal to change plans")
    customer_id = record.get("stripeCustomerId") or _create_customer(caller)
    session = call_stripe(
        lambda client: client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer_id,
                "line_items": [{"price": price_id, "quantity": 1}],
                "client_reference_id": caller.user_id,
                "metadata": {"userId": caller.user_id},
                "subscription_data": {"metadata": {"userId": caller.user_id}},
                "success_url": f"{_frontend()}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
                "cancel_url": f"{_frontend()}/billing/cancel",
            }
        )
    )
    return {"sessionId": session.id, "url": session.url}


def _create_customer(caller: Caller) -> str:
    """Create the caller's Stripe customer once, even when two requests race.

    The idempotency key makes Stripe return the same customer to both requests (for 24 h);
    the conditional write keeps whichever id was stored first.
    """
    params: CustomerCreateParams = {"metadata": {"userId": caller.user_id}}
    if caller.email:
        params["email"] = caller.email
    customer = call_stripe(
        lambda client: client.v1.customers.create(
            params=params, options={"idempotency_key": f"customer-{caller.user_id}"}
        )
    )
    return users.save_customer(caller.user_id, caller.email, customer.id)


def create_portal_session(caller: Caller) -> dict[str, Any]:
    """A Billing Portal session for the caller's own customer, with this stack's configuration."""
    record = users.get_user(caller.user_id) or {}
    customer_id = record.get("stripeCustomerId")
    if not customer_id:
        raise HttpError(400, "No billing account yet: subscribe first")
    configuration = secrets.require_secret("stripe_portal_configuration_id")
    session = call_stripe(
        lambda client: client.v1.billing_portal.sessions.create(
            params={
                "customer": customer_id,
                "configuration": configuration,
                "return_url": f"{_frontend()}/account",
            }
        )
    )
    return {"url": session.url}


def subscription_state(caller: Caller) -> dict[str, Any]:
    """The caller's subscription as stored by the webhook."""
    record = users.get_user(caller.user_id) or {}
    return {
        "isSubscribed": bool(record.get("isSubscribed", False)),
        "plan": record.get("plan"),
        "subscriptionStatus": record.get("subscriptionStatus"),
        "currentPeriodEnd": record.get("currentPeriodEnd"),
        "cancelAtPeriodEnd": bool(record.get("cancelAtPeriodEnd", False)),
    }


class _PriceDetailsCache:
    """Amounts, currency and interval of the two prices, fetched once per TTL window.

    Keyed by the ids, so a new price in the secret document is fetched at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[str, ...], float, dict[str, Any]] | None = None

    def get(self, ids: dict[str, str]) -> dict[str, Any]:
        key = tuple(ids[plan] for plan in PLANS)
        ttl = float(os.environ.get("SECRETS_CACHE_TTL_SECONDS", secrets.DEFAULT_TTL_SECONDS))
        with self._lock:
            entry = self._entry
            if entry is not None and entry[0] == key and time.monotonic() < entry[1]:
                return entry[2]
            details = {plan: _price_details(ids[plan]) for plan in PLANS}
            self._entry = (key, time.monotonic() + ttl, details)
            return details

    def clear(self) -> None:
        with self._lock:
            self._entry = None


def _price_details(price_id: str) -> dict[str, Any]:
    price = call_stripe(lambda client: client.v1.prices.retrieve(price_id))
    recurring = price.recurring
    return {
        "amount": price.unit_amount,
        "currency": price.currency,
        "interval": recurring.interval if recurring else None,
    }


price_details_cache = _PriceDetailsCache()


def prices() -> dict[str, Any]:
    """The two price ids, and their details when Stripe can be reached (else without them)."""
    import stripe  # imported on first use: see shared.stripe_client

    ids = price_ids()
    result: dict[str, Any] = dict(ids)
    try:
        result["details"] = price_details_cache.get(ids)
    except stripe.StripeError as error:
        logger.warning("price details unavailable: %s", type(error).__name__)
    return result
