"""Apply a verified Stripe event to the user's record: one function per event type.

`DISPATCH` maps each handled type to a function that returns the user's new state (or None to
ignore). The user is the event's `metadata.userId` (or a session's `client_reference_id`), else
the one whose record holds the Stripe customer, found through the index. The state and the
event id are written in one transaction (see `users.apply_event`), so a duplicate is applied
once and an older event never overwrites newer state.

`isSubscribed` is true for `users.ENTITLED_STATUSES` (active, trialing and past_due).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared import catalog, users
from shared.log import get_logger
from shared.stripe_client import call_stripe

logger = get_logger("stripe_webhook")

StateBuilder = Callable[[Mapping[str, Any]], dict[str, Any] | None]


def _id(value: Any) -> str | None:
    """A Stripe reference as an id, whether expanded to an object or not."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def subscription_fields(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """The user's state from a subscription, as the pinned API version shapes it.

    Since 2025-03-31.basil the billing period lives on the subscription items.
    """
    items = subscription.get("items", {}).get("data") or []
    interval = None
    period_end = None
    price_id = None
    if items:
        price = items[0].get("price") or {}
        interval = (price.get("recurring") or {}).get("interval")
        price_id = _id(price)
        period_end = max(int(item.get("current_period_end") or 0) for item in items) or None
    status = str(subscription.get("status"))
    state: dict[str, Any] = {
        "stripeSubscriptionId": _id(subscription.get("id")),
        "stripeCustomerId": _id(subscription.get("customer")),
        "subscriptionStatus": status,
        "isSubscribed": status in users.ENTITLED_STATUSES,
        "cancelAtPeriodEnd": bool(subscription.get("cancel_at_period_end")),
    }
    if interval:
        state["plan"] = "annual" if interval == "year" else "monthly"
    if price_id:
        state.update(_plan_fields(price_id, _id(subscription.get("id"))))
    if period_end:
        state["currentPeriodEnd"] = period_end
    return state


def _plan_fields(price_id: str, subscription_id: str | None) -> dict[str, Any]:
    """`priceId`, and through the catalog `planId` and the plan's `features`.

    The features are copied onto the record so that `GET /subscription` reads DynamoDB alone;
    a changed catalog reaches a record with its next event (or `POST /subscription/sync`).
    A price the catalog does not know removes both, with a warning: never a failure.
    """
    found = catalog.find_price(price_id)
    if found is None:
        logger.warning(
            "subscription %s is on price %s, which the catalog does not know: no planId",
            subscription_id,
            price_id,
        )
        return {"priceId": price_id, "planId": users.REMOVE, "features": users.REMOVE}
    return {"priceId": price_id, "planId": found.plan_id, "features": list(found.features)}


def _retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    subscription = call_stripe(lambda client: client.v1.subscriptions.retrieve(subscription_id))
    return subscription.to_dict()


def on_checkout_completed(session: Mapping[str, Any]) -> dict[str, Any] | None:
    subscription_id = _id(session.get("subscription"))
    if session.get("mode") != "subscription" or subscription_id is None:
        return None
    state = subscription_fields(_retrieve_subscription(subscription_id))
    state["stripeCustomerId"] = _id(session.get("customer")) or state["stripeCustomerId"]
    return state


def on_subscription_changed(subscription: Mapping[str, Any]) -> dict[str, Any] | None:
    return subscription_fields(subscription)


def on_subscription_deleted(subscription: Mapping[str, Any]) -> dict[str, Any] | None:
    state = subscription_fields(subscription)
    state.update(isSubscribed=False, cancelAtPeriodEnd=False)
    return state


def on_invoice(invoice: Mapping[str, Any]) -> dict[str, Any] | None:
    """Payment succeeded or failed: re-read the invoice's subscription for its status and period."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription_id = _id(details.get("subscription"))
    if subscription_id is None:
        return None  # not a subscription invoice
    state = subscription_fields(_retrieve_subscription(subscription_id))
    state["stripeCustomerId"] = _id(invoice.get("customer")) or state["stripeCustomerId"]
    return state


DISPATCH: dict[str, StateBuilder] = {
    "checkout.session.completed": on_checkout_completed,
    "customer.subscription.created": on_subscription_changed,
    "customer.subscription.updated": on_subscription_changed,
    "customer.subscription.deleted": on_subscription_deleted,
    "invoice.payment_succeeded": on_invoice,
    "invoice.payment_failed": on_invoice,
}


def user_id_for(event_type: str, obj: Mapping[str, Any]) -> str | None:
    """The user an event names, or None (then the customer index decides)."""
    metadata = obj.get("metadata") or {}
    if event_type.startswith("invoice."):
        details = (obj.get("parent") or {}).get("subscription_details") or {}
        metadata = details.get("metadata") or {}
    named = metadata.get("userId") or (
        obj.get("client_reference_id") if event_type == "checkout.session.completed" else None
    )
    return named if isinstance(named, str) and named else None


def process_event(event: Mapping[str, Any]) -> str:
    """Apply one verified event; returns what happened (for the log and the response)."""
    event_type = event["type"]
    builder = DISPATCH.get(event_type)
    if builder is None:
        return "ignored"
    obj = event["data"]["object"]
    customer_id = _id(obj.get("customer"))
    user_id = user_id_for(event_type, obj)
    if user_id is None and customer_id:
        user_id = users.find_user_id_by_customer(customer_id)
    if user_id is None:
        logger.info("%s %s: no user for this customer", event_type, event["id"])
        return users.EventOutcome.UNKNOWN_USER.value
    state = builder(obj)
    if state is None:
        return "ignored"
    state = {key: value for key, value in state.items() if value is not None}
    outcome = users.apply_event(user_id, state, event["id"], event_type, event["created"])
    logger.info("%s %s: %s", event_type, event["id"], outcome.value)
    return outcome.value
