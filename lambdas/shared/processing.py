"""Apply a verified Stripe event to the user's record: one handling per event type.

Used by the webhook and by the reconciliation alike. The user is the object's `metadata.userId`
(or a session's `client_reference_id`), else the one whose record holds the Stripe customer,
found through the index. Stacks may share a Stripe account, so an object stamped with another
stack (`metadata.stack`), or whose customer is not the user's `stripeCustomerId`, is ignored
(`other_stack`).

The cheap checks run first, in one BatchGetItem and before any Stripe call: a duplicate, an
unknown user, another customer, an event surely older than the stored state. A subscription
event then settles the state from its own object only when that is safe: the same subscription
as the record's, still entitled, surely newer than the stored state, in the pinned API
version. Anything else (a payment, a completed Checkout, another subscription than the
recorded one, a revocation, an event as old as the stored state) claims the event, so that
concurrent copies cost one Stripe call, and writes the customer's deciding subscription as
Stripe has it now (`shared.customer_state`). The state and the event id are written in one
transaction, so a duplicate is applied once. A malformed object is ignored with a log line and
writes nothing.

`isSubscribed` follows `shared.entitlement` (active, trialing and past_due).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import contract, customer_state, entitlements, event_claims, users
from shared.contract import STRIPE_API_VERSION, Event
from shared.log import bind, get_logger
from shared.stripe_client import call_stripe
from shared.subscription_state import MalformedObjectError, stripe_id, subscription_fields

logger = get_logger("stripe_events")

StateBuilder = Callable[[Mapping[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Handling:
    """How one event type is applied."""

    concerns: Callable[[Mapping[str, Any]], bool]
    """Whether the object is about a subscription of this stack's kind at all."""
    from_object: StateBuilder | None = None
    """The state from the event's own object, when it can settle it; else Stripe is read."""


@dataclass(frozen=True)
class EventResult:
    """What applying one event did, and to whom."""

    outcome: str
    user_id: str | None


def _invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    return stripe_id((details or {}).get("subscription") if isinstance(details, Mapping) else None)


def _is_subscription_checkout(session: Mapping[str, Any]) -> bool:
    subscription_id = stripe_id(session.get("subscription"))
    return session.get("mode") == "subscription" and subscription_id is not None


def _always(obj: Mapping[str, Any]) -> bool:
    return True


def on_subscription_deleted(subscription: Mapping[str, Any]) -> dict[str, Any] | None:
    state = subscription_fields(subscription)
    state.update(isSubscribed=False, cancelAtPeriodEnd=False)
    return state


_SUBSCRIPTION = Handling(_always, subscription_fields)
_PAYMENT = Handling(lambda invoice: _invoice_subscription(invoice) is not None)
_CUSTOMER_UPDATED = Event.CUSTOMER_UPDATED

DISPATCH: dict[str, Handling] = {
    Event.CHECKOUT_COMPLETED: Handling(_is_subscription_checkout),
    Event.SUBSCRIPTION_CREATED: _SUBSCRIPTION,
    Event.SUBSCRIPTION_UPDATED: _SUBSCRIPTION,
    Event.SUBSCRIPTION_PAUSED: _SUBSCRIPTION,
    Event.SUBSCRIPTION_RESUMED: _SUBSCRIPTION,
    Event.SUBSCRIPTION_DELETED: Handling(_always, on_subscription_deleted),
    Event.INVOICE_PAID: _PAYMENT,
    Event.INVOICE_PAYMENT_FAILED: _PAYMENT,
    _CUSTOMER_UPDATED: Handling(_always),
    Event.ENTITLEMENTS_UPDATED: Handling(_always),
}
if set(DISPATCH) != set(contract.WEBHOOK_EVENTS):  # pragma: no cover - a programming error
    raise RuntimeError("DISPATCH must handle exactly contract.WEBHOOK_EVENTS")
#: The event types the endpoint subscribes to and the reconciliation replays.
HANDLED_EVENT_TYPES = contract.WEBHOOK_EVENTS


def _metadata_of(event_type: str, obj: Mapping[str, Any]) -> Any:
    if event_type.startswith("invoice."):
        parent = obj.get("parent")
        details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
        return (details or {}).get("metadata") if isinstance(details, Mapping) else None
    return obj.get("metadata")


def user_id_for(event_type: str, obj: Mapping[str, Any]) -> str | None:
    """The user an event names, or None (then the customer index decides)."""
    metadata = _metadata_of(event_type, obj)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise MalformedObjectError("metadata is not an object")
    named = (metadata or {}).get(contract.USER_METADATA_KEY) or (
        obj.get("client_reference_id") if event_type == Event.CHECKOUT_COMPLETED else None
    )
    return named if isinstance(named, str) and named else None


def _customer_of(event_type: str, obj: Mapping[str, Any]) -> str | None:
    if event_type == _CUSTOMER_UPDATED:
        return stripe_id(obj.get("id"))
    return stripe_id(obj.get("customer"))


def process_event(event: Mapping[str, Any]) -> EventResult:
    """Apply one verified event; returns what happened (logged once, with its outcome)."""
    with bind(eventId=event["id"], eventType=event["type"]):
        outcome, user_id = _process(event)
        logger.info("event %s", outcome, extra={"outcome": outcome, "userId": user_id})
    return EventResult(outcome, user_id)


def _process(event: Mapping[str, Any]) -> tuple[str, str | None]:
    """(outcome, the user it concerned, when known)."""
    event_type = event["type"]
    handling = DISPATCH.get(event_type)
    if handling is None:
        return "ignored", None
    obj = event["data"]["object"]
    user_id: str | None = None
    try:
        if customer_state.of_other_stack(_metadata_of(event_type, obj)):
            return users.EventOutcome.OTHER_STACK.value, None
        customer_id = _customer_of(event_type, obj)
        user_id = user_id_for(event_type, obj)
        if user_id is None and customer_id:
            user_id = users.store().find_user_id_by_customer(customer_id)
        if user_id is None:
            logger.info("no user for this customer")
            return users.EventOutcome.UNKNOWN_USER.value, None
        with bind(userId=user_id):
            return _apply(event, handling, obj, user_id, customer_id), user_id
    except MalformedObjectError as error:
        with bind(userId=user_id):
            logger.warning("ignored, nothing written: %s", error)
        return "malformed", user_id


def _apply(
    event: Mapping[str, Any],
    handling: Handling,
    obj: Mapping[str, Any],
    user_id: str,
    customer_id: str | None,
) -> str:
    mark = users.EventMark(event["id"], event["type"])
    stamp = users.Stamp.of_event(event["created"])
    pinned = event.get("api_version") in (None, STRIPE_API_VERSION)
    if pinned and handling.from_object is not None:
        # The common case costs one request: the transaction's conditions are the checks.
        state = handling.from_object(obj)
        if state is not None and state.get("isSubscribed"):
            clean = {key: value for key, value in state.items() if value is not None}
            outcome = users.store().write_state(
                user_id, clean, stamp, customer_id, mark, same_subscription=True
            )
            if outcome is not users.EventOutcome.UNSETTLED:
                return outcome.value
    seen, stored = users.store().precheck_event(user_id, event["id"])
    if seen is users.EventSeen.PROCESSED:
        return users.EventOutcome.DUPLICATE.value
    if stored is None:
        return users.EventOutcome.UNKNOWN_USER.value
    if customer_id and stored.customer_id and customer_id != stored.customer_id:
        return users.EventOutcome.OTHER_STACK.value
    if event["type"] == Event.ENTITLEMENTS_UPDATED:
        return _apply_entitlements(obj, user_id, customer_id, mark)
    if stamp.older_than(stored.stamp):
        return users.EventOutcome.STALE.value
    if not handling.concerns(obj):
        return "ignored"
    if event["type"] == _CUSTOMER_UPDATED:
        return _apply_email(event, obj, user_id, mark)
    if customer_id is None:
        raise MalformedObjectError(
            f"{obj.get('object')!r} has no customer, so it cannot be re-read"
        )
    return _apply_from_stripe(mark, user_id, customer_id)


def _apply_from_stripe(mark: users.EventMark, user_id: str, customer_id: str) -> str:
    """Claim the event, then write the customer's deciding subscription as Stripe has it now."""
    token = event_claims.claim(mark.event_id, mark.event_type)
    if token is None:
        return users.EventOutcome.DUPLICATE.value
    claimed = users.EventMark(mark.event_id, mark.event_type, token)
    try:
        outcome = customer_state.refresh(user_id, customer_id, claimed)
    except Exception:
        event_claims.release(mark.event_id, token)
        raise
    if outcome is not users.EventOutcome.APPLIED:
        event_claims.release(mark.event_id, token)  # nothing was written: keep no claim
    if outcome is None:
        logger.warning("the customer has no subscription of this stack in Stripe; ignored")
        return "ignored"
    return outcome.value


def _apply_entitlements(
    summary: Mapping[str, Any], user_id: str, customer_id: str | None, mark: users.EventMark
) -> str:
    """Stripe's summary shows one page in the event's version: read every page instead, in
    the pinned version, ordered by the read (so a late, older summary changes nothing)."""
    if customer_id is None:
        raise MalformedObjectError("the entitlement summary has no customer")
    return entitlements.refresh(user_id, customer_id, mark).value


def _apply_email(
    event: Mapping[str, Any], customer: Mapping[str, Any], user_id: str, mark: users.EventMark
) -> str:
    """The record's email follows the customer's (re-read when rendered in another version)."""
    customer_id = stripe_id(customer.get("id"))
    if customer_id is None:
        raise MalformedObjectError("customer.id is missing")
    if event.get("api_version") not in (None, STRIPE_API_VERSION):
        logger.info("rendered in API version %s: re-reading it", event.get("api_version"))
        customer = call_stripe(lambda client: client.v1.customers.retrieve(customer_id)).to_dict()
    email = customer.get("email")
    if not isinstance(email, str) or not email:
        return "ignored"
    return users.store().write_email(user_id, email, customer_id, event["created"], mark).value
