"""The subscription API's use cases, as plain functions of the caller and the request.

A caller whose status is entitled (`users.ENTITLED_STATUSES`, past_due included) gets 409 at
checkout: plans change through the billing portal. Prices, trials and features come from the
catalog in the secret document (`shared.catalog`), so no route asks Stripe for them.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from shared import catalog, secrets, users
from shared.http import Caller, HttpError
from shared.log import get_logger
from shared.stripe_client import call_stripe
from shared.subscription_state import (
    MalformedObjectError,
    deciding_subscription,
    subscription_fields,
)

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams
    from stripe.params.checkout import SessionCreateParams

logger = get_logger("subscription")


def _frontend() -> str:
    return os.environ["FRONTEND_DOMAIN"].rstrip("/")


def _redirect(variable: str, default: str) -> str:
    """A URL on the frontend, at the path the stack configured (checkoutSuccessPath, ...)."""
    return _frontend() + os.environ.get(variable, default)


def _enabled(variable: str) -> bool:
    return os.environ.get(variable, "false").lower() == "true"


def create_checkout(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """A Checkout Session for a price of this stack's catalog, on the caller's one customer.

    The plan's trial applies only to a customer who never had a subscription (one trial per
    customer, ever). A customer Stripe already knows is checked with one list call: an
    entitled subscription there is a 409 even before its webhook has reached the record.
    """
    price_id = body.get("priceId")
    if not isinstance(price_id, str) or not price_id:
        raise HttpError(400, "priceId must be one of this service's prices")
    price = catalog.find_price(price_id)
    if price is None:
        raise HttpError(400, "priceId must be one of this service's prices")
    record = users.get_user(caller.user_id) or {}
    if record.get("subscriptionStatus") in users.ENTITLED_STATUSES:
        raise _already_subscribed()
    customer_id = record.get("stripeCustomerId")
    had_subscription = False
    if customer_id:
        statuses = {str(s.get("status")) for s in customer_subscriptions(customer_id)}
        if users.ENTITLED_STATUSES.intersection(statuses):
            raise _already_subscribed()
        had_subscription = bool(statuses)
    else:
        customer_id = _create_customer(caller)
    params: SessionCreateParams = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "client_reference_id": caller.user_id,
        "metadata": {"userId": caller.user_id},
        "subscription_data": {"metadata": {"userId": caller.user_id}},
        "success_url": _redirect("CHECKOUT_SUCCESS_PATH", "/billing/success")
        + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": _redirect("CHECKOUT_CANCEL_PATH", "/billing/cancel"),
    }
    if price.trial_days and not had_subscription:
        params["subscription_data"]["trial_period_days"] = price.trial_days
    if _enabled("ALLOW_PROMOTION_CODES"):
        params["allow_promotion_codes"] = True
    if _enabled("AUTOMATIC_TAX"):
        # Stripe Tax needs the customer's address: collect it and save it on the customer.
        params["automatic_tax"] = {"enabled": True}
        params["billing_address_collection"] = "required"
        params["customer_update"] = {"address": "auto", "name": "auto"}
    session = call_stripe(lambda client: client.v1.checkout.sessions.create(params=params))
    return {"sessionId": session.id, "url": session.url}


def _already_subscribed() -> HttpError:
    return HttpError(409, "Already subscribed: use the billing portal to change plans")


def customer_subscriptions(customer_id: str) -> list[dict[str, Any]]:
    """Every subscription the customer has ever had, newest first (one list call, at most 100)."""
    page = call_stripe(
        lambda client: client.v1.subscriptions.list(
            params={"customer": customer_id, "status": "all", "limit": 100}
        )
    )
    return [subscription.to_dict() for subscription in page.data]


def sync(caller: Caller) -> dict[str, Any]:
    """Read the caller's subscriptions from Stripe, store the deciding one, answer the record.

    A success page calls it on return from Checkout, so nobody waits for the webhook. The
    write goes through the webhook's ordering (`users.apply_state`): stamped with the time of
    the read, so an older event arriving later never overwrites it, and a newer one still does.
    """
    record = users.get_user(caller.user_id) or {}
    customer_id = record.get("stripeCustomerId")
    if not customer_id:
        return public_state(record)
    read_at = int(time.time())
    chosen = deciding_subscription(customer_subscriptions(customer_id))
    if chosen is None:
        return public_state(record)
    try:
        state = subscription_fields(chosen)
    except MalformedObjectError as error:
        logger.warning("sync for %s: subscription ignored: %s", caller.user_id, error)
        return public_state(record)
    users.apply_state(caller.user_id, {k: v for k, v in state.items() if v is not None}, read_at)
    return public_state(users.get_user(caller.user_id) or {})


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
                "return_url": _redirect("PORTAL_RETURN_PATH", "/account"),
            }
        )
    )
    return {"url": session.url}


def subscription_state(caller: Caller) -> dict[str, Any]:
    """The caller's record (one DynamoDB read, nothing else), features only while subscribed."""
    return public_state(users.get_user(caller.user_id) or {})


def public_state(record: dict[str, Any]) -> dict[str, Any]:
    """What `GET /subscription` answers for a stored record."""
    subscribed = bool(record.get("isSubscribed", False))
    return {
        "isSubscribed": subscribed,
        "plan": record.get("plan"),
        "planId": record.get("planId"),
        "priceId": record.get("priceId"),
        "features": list(record.get("features") or []) if subscribed else [],
        "subscriptionStatus": record.get("subscriptionStatus"),
        "currentPeriodEnd": record.get("currentPeriodEnd"),
        "cancelAtPeriodEnd": bool(record.get("cancelAtPeriodEnd", False)),
    }


def prices() -> dict[str, Any]:
    """The catalog for a pricing page, from the secret document alone (no Stripe, no JWT)."""
    return catalog.public_prices()
