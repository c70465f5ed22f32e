"""Apply a verified Stripe event to the user's record: one function per event type.

Used by the webhook and by the reconciliation alike. `DISPATCH` maps each handled type to a
function that returns the user's new state (or None to ignore). The user is the event's
`metadata.userId` (or a session's `client_reference_id`), else the one whose record holds the
Stripe customer, found through the index. The state and the event id are written in one
transaction (`users.apply_event`), so a duplicate is applied once and an older event never
overwrites newer state.

Before any Stripe call (an event that needs its subscription re-read, or an event rendered in
another API version), the duplicate and staleness checks run first, so a replayed or stale
event costs no Stripe request and an object Stripe no longer has cannot fail it. An event whose
object is malformed is ignored with a log line and writes nothing. An event in another API
version is re-read from Stripe in the pinned one, never half-parsed.

`isSubscribed` is true for `users.ENTITLED_STATUSES` (active, trialing and past_due).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import users
from shared.log import bind, get_logger
from shared.stripe_client import call_stripe
from shared.stripe_version import STRIPE_API_VERSION
from shared.subscription_state import MalformedObjectError, stripe_id, subscription_fields

logger = get_logger("stripe_events")

StateBuilder = Callable[[Mapping[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Handling:
    """How one event type is applied."""

    build: StateBuilder
    calls_stripe: bool
    """True when `build` reads from Stripe: the cheap checks must run before it."""


def _retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    subscription = call_stripe(lambda client: client.v1.subscriptions.retrieve(subscription_id))
    return subscription.to_dict()


def on_checkout_completed(session: Mapping[str, Any]) -> dict[str, Any] | None:
    subscription_id = stripe_id(session.get("subscription"))
    if session.get("mode") != "subscription" or subscription_id is None:
        return None
    state = subscription_fields(_retrieve_subscription(subscription_id))
    state["stripeCustomerId"] = stripe_id(session.get("customer")) or state["stripeCustomerId"]
    return state


def on_subscription_changed(subscription: Mapping[str, Any]) -> dict[str, Any] | None:
    return subscription_fields(subscription)


def on_subscription_deleted(subscription: Mapping[str, Any]) -> dict[str, Any] | None:
    state = subscription_fields(subscription)
    state.update(isSubscribed=False, cancelAtPeriodEnd=False)
    return state


def on_invoice(invoice: Mapping[str, Any]) -> dict[str, Any] | None:
    """Paid, payment succeeded or failed: re-read the subscription for its status and period."""
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    subscription_id = stripe_id((details or {}).get("subscription"))
    if subscription_id is None:
        return None  # not a subscription invoice
    state = subscription_fields(_retrieve_subscription(subscription_id))
    state["stripeCustomerId"] = stripe_id(invoice.get("customer")) or state["stripeCustomerId"]
    return state


def on_customer_updated(customer: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record's email follows the customer's."""
    email = customer.get("email")
    return {"email": email} if isinstance(email, str) and email else None


DISPATCH: dict[str, Handling] = {
    "checkout.session.completed": Handling(on_checkout_completed, calls_stripe=True),
    "customer.subscription.created": Handling(on_subscription_changed, calls_stripe=False),
    "customer.subscription.updated": Handling(on_subscription_changed, calls_stripe=False),
    "customer.subscription.paused": Handling(on_subscription_changed, calls_stripe=False),
    "customer.subscription.resumed": Handling(on_subscription_changed, calls_stripe=False),
    "customer.subscription.deleted": Handling(on_subscription_deleted, calls_stripe=False),
    "invoice.paid": Handling(on_invoice, calls_stripe=True),
    "invoice.payment_succeeded": Handling(on_invoice, calls_stripe=True),
    "invoice.payment_failed": Handling(on_invoice, calls_stripe=True),
    "customer.updated": Handling(on_customer_updated, calls_stripe=False),
}
#: The event types the endpoint subscribes to and the reconciliation replays.
HANDLED_EVENT_TYPES = tuple(DISPATCH)

#: Object types re-read in the pinned API version when an event was rendered in another.
_RETRIEVE: dict[str, Callable[[Any, str], Any]] = {
    "subscription": lambda client, object_id: client.v1.subscriptions.retrieve(object_id),
    "invoice": lambda client, object_id: client.v1.invoices.retrieve(object_id),
    "checkout.session": lambda client, object_id: client.v1.checkout.sessions.retrieve(object_id),
    "customer": lambda client, object_id: client.v1.customers.retrieve(object_id),
}


def user_id_for(event_type: str, obj: Mapping[str, Any]) -> str | None:
    """The user an event names, or None (then the customer index decides)."""
    metadata = obj.get("metadata")
    if event_type.startswith("invoice."):
        parent = obj.get("parent")
        details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
        metadata = (details or {}).get("metadata") if isinstance(details, Mapping) else None
    if metadata is not None and not isinstance(metadata, Mapping):
        raise MalformedObjectError("metadata is not an object")
    named = (metadata or {}).get("userId") or (
        obj.get("client_reference_id") if event_type == "checkout.session.completed" else None
    )
    return named if isinstance(named, str) and named else None


def _customer_of(event_type: str, obj: Mapping[str, Any]) -> str | None:
    if event_type == "customer.updated":
        return stripe_id(obj.get("id"))
    return stripe_id(obj.get("customer"))


def _in_pinned_version(event: Mapping[str, Any], obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's object as the pinned API version renders it (re-read when it differs)."""
    if event.get("api_version") in (None, STRIPE_API_VERSION):
        return obj
    retrieve = _RETRIEVE.get(str(obj.get("object")))
    object_id = stripe_id(obj.get("id"))
    if retrieve is None or object_id is None:
        raise MalformedObjectError(
            f"rendered in API version {event.get('api_version')}, and a "
            f"{obj.get('object')!r} cannot be re-read in {STRIPE_API_VERSION}"
        )
    logger.info(
        "rendered in API version %s: re-reading it in %s",
        event.get("api_version"), STRIPE_API_VERSION,
    )  # fmt: skip
    fresh: dict[str, Any] = call_stripe(lambda client: retrieve(client, object_id)).to_dict()
    return fresh


def _gone_from_stripe(error: Exception) -> bool:
    """Stripe answered that the object no longer exists (checked without importing stripe)."""
    return type(error).__module__.startswith("stripe") and (
        getattr(error, "code", None) == "resource_missing"
    )


def process_event(event: Mapping[str, Any]) -> str:
    """Apply one verified event; returns what happened (logged once, with its outcome)."""
    with bind(eventId=event["id"], eventType=event["type"]):
        outcome, user_id = _process(event)
        logger.info("event %s", outcome, extra={"outcome": outcome, "userId": user_id})
    return outcome


def _process(event: Mapping[str, Any]) -> tuple[str, str | None]:
    """(outcome, the user it concerned, when known)."""
    event_type = event["type"]
    handling = DISPATCH.get(event_type)
    if handling is None:
        return "ignored", None
    obj = event["data"]["object"]
    user_id: str | None = None
    try:
        customer_id = _customer_of(event_type, obj)
        user_id = user_id_for(event_type, obj)
        if user_id is None and customer_id:
            user_id = users.find_user_id_by_customer(customer_id)
        if user_id is None:
            logger.info("no user for this customer")
            return users.EventOutcome.UNKNOWN_USER.value, None
        with bind(userId=user_id):
            return _apply(event, handling, obj, user_id), user_id
    except MalformedObjectError as error:
        with bind(userId=user_id):
            logger.warning("ignored, nothing written: %s", error)
        return "malformed", user_id


def _apply(event: Mapping[str, Any], handling: Handling, obj: Any, user_id: str) -> str:
    reread = event.get("api_version") not in (None, STRIPE_API_VERSION)
    if handling.calls_stripe or reread:
        early = users.precheck_event(user_id, event["id"], event["created"])
        if early is not None:
            return early.value
    try:
        state = handling.build(_in_pinned_version(event, obj))
    except Exception as error:
        if not _gone_from_stripe(error):
            raise
        logger.warning("its object is gone from Stripe; ignored")
        return "ignored"
    if state is None:
        return "ignored"
    state = {key: value for key, value in state.items() if value is not None}
    return users.apply_event(user_id, state, event["id"], event["type"], event["created"]).value
