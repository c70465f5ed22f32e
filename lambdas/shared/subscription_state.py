"""A user's billing state from a Stripe subscription, validated before anything is written.

Shared by every path that writes state (the webhook, `POST /subscription/sync`, the
reconciliation), so they agree field for field. A subscription whose fields are missing or of
the wrong type (no `status`, `items: null`, a non-numeric `current_period_end`, `metadata` that
is not an object) raises `MalformedObjectError`: nothing is written rather than half a state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import catalog
from shared.entitlement import ENTITLED_STATUSES
from shared.log import get_logger
from shared.records import REMOVE

logger = get_logger("subscription_state")

#: Every status the pinned API version gives a subscription.
SUBSCRIPTION_STATUSES = frozenset(
    {
        "incomplete",
        "incomplete_expired",
        "trialing",
        "active",
        "past_due",
        "canceled",
        "unpaid",
        "paused",
    }
)


class MalformedObjectError(ValueError):
    """A Stripe object lacks or mistypes a field the state needs; the message names the field."""


def stripe_id(value: Any) -> str | None:
    """A Stripe reference as an id, whether expanded to an object or not."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _mapping(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedObjectError(f"{where}.{key} is not an object")
    return value


def _timestamp(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedObjectError(f"{where} is not a whole number of seconds")
    return value


def subscription_fields(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """The user's state from a subscription, as the pinned API version shapes it.

    Since 2025-03-31.basil the billing period lives on the subscription items.
    """
    if not isinstance(subscription, Mapping):
        raise MalformedObjectError("the subscription is not an object")
    subscription_id = stripe_id(subscription.get("id"))
    status = subscription.get("status")
    if subscription_id is None:
        raise MalformedObjectError("subscription.id is missing")
    if not isinstance(status, str) or status not in SUBSCRIPTION_STATUSES:
        raise MalformedObjectError("subscription.status is missing or unknown")
    _mapping(subscription, "metadata", "subscription")
    items = subscription.get("items")
    if not isinstance(items, Mapping) or not isinstance(items.get("data"), list):
        raise MalformedObjectError("subscription.items.data is not a list")
    state: dict[str, Any] = {
        "stripeSubscriptionId": subscription_id,
        "stripeCustomerId": stripe_id(subscription.get("customer")),
        "subscriptionStatus": status,
        "isSubscribed": status in ENTITLED_STATUSES,
        "cancelAtPeriodEnd": bool(subscription.get("cancel_at_period_end")),
        # A cancellation on a date (the Dashboard, the API, `min_period_end`): null clears it.
        "cancelAt": _timestamp(subscription.get("cancel_at"), "subscription.cancel_at") or REMOVE,
    }
    period_ends = []
    for index, item in enumerate(items["data"]):
        if not isinstance(item, Mapping):
            raise MalformedObjectError(f"subscription.items.data[{index}] is not an object")
        end = _timestamp(item.get("current_period_end"), f"items.data[{index}].current_period_end")
        if end:
            period_ends.append(end)
    if period_ends:
        state["currentPeriodEnd"] = max(period_ends)
    if items["data"]:
        price = _mapping(items["data"][0], "price", "items.data[0]")
        interval = _mapping(price, "recurring", "items.data[0].price").get("interval")
        if interval in ("month", "year"):
            state["plan"] = "annual" if interval == "year" else "monthly"
        price_id = stripe_id(price)
        if price_id:
            state.update(_plan_fields(price_id, subscription_id, items["data"][0]))
    return state


def _seats(item: Mapping[str, Any]) -> int:
    """A per-seat plan's purchased seats: its item's quantity (changed by the API or portal)."""
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise MalformedObjectError("items.data[0].quantity is not a whole number")
    return quantity


def _plan_fields(price_id: str, subscription_id: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """`priceId`, and through the catalog `planId`, the plan's `features` and, for a per-seat
    plan, `seats` (the item's quantity).

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
        return {"priceId": price_id, "planId": REMOVE, "features": REMOVE, "seats": REMOVE}
    return {
        "priceId": price_id,
        "planId": found.plan_id,
        "features": list(found.features),
        "seats": _seats(item) if found.per_seat else REMOVE,
    }
