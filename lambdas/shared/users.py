"""The users table: reads, conditional writes, lookup by Stripe customer, and event application.

Record fields, a contract with every reader (README, "Runtime behaviour"): `userId`,
`stripeCustomerId`, `stripeSubscriptionId`, `isSubscribed`, `cancelAtPeriodEnd`, `plan`,
`subscriptionStatus`, `currentPeriodEnd`, `updatedAt`, `priceId`, and `planId` and `features`
(the catalog plan's; absent for a price the catalog does not know); plus `email`, `createdAt`
and `stripeEventCreated` (the `created` time of the last Stripe event applied, which keeps
older events from overwriting newer state).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared import aws

#: Stripe statuses that count as subscribed. past_due keeps access while Stripe retries the
#: payment (its dunning moves the subscription to `canceled` or `unpaid` if every retry fails,
#: and that revokes it); a past_due user gets 409 at checkout: the fix is a new card in the
#: portal, not a second subscription.
ENTITLED_STATUSES = frozenset({"active", "trialing", "past_due"})

#: Processed events are kept this long: beyond Stripe's 3-day retry window.
EVENT_RETENTION_SECONDS = 4 * 24 * 3600


class _Remove:
    """The value of a state field to delete from the record (e.g. a plan no longer known)."""

    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()


class EventOutcome(StrEnum):
    """What applying one Stripe event did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNKNOWN_USER = "unknown_user"


def users_table() -> str:
    return os.environ["USERS_TABLE"]


def _serialize(value: Any) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serialized: dict[str, Any] = TypeSerializer().serialize(value)
    return serialized


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    plain = {key: deserializer.deserialize(value) for key, value in item.items()}
    return {
        key: int(value) if isinstance(value, Decimal) else value for key, value in plain.items()
    }


def _now() -> int:
    return int(time.time())


def get_user(user_id: str) -> dict[str, Any] | None:
    """The user's record, read consistently, or None."""
    item = (
        aws.client("dynamodb")
        .get_item(TableName=users_table(), Key={"userId": {"S": user_id}}, ConsistentRead=True)
        .get("Item")
    )
    return _deserialize(item) if item else None


def save_customer(user_id: str, email: str | None, customer_id: str) -> str:
    """Record `customer_id` for the user (creating the record) unless one is already stored.

    Returns the customer id that is stored afterwards: ours, or the one a racing request
    stored first, so every request of a user ends up on one Stripe customer.
    """
    from botocore.exceptions import ClientError

    now = _now()
    names = {"#customer": "stripeCustomerId"}
    values = {":customer": {"S": customer_id}, ":now": {"N": str(now)}}
    expression = (
        "SET #customer = :customer, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)"
    )
    if email:
        expression += ", email = if_not_exists(email, :email)"
        values[":email"] = {"S": email}
    try:
        aws.client("dynamodb").update_item(
            TableName=users_table(),
            Key={"userId": {"S": user_id}},
            UpdateExpression=expression,
            ConditionExpression="attribute_not_exists(#customer) OR #customer = :customer",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return customer_id
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    stored = get_user(user_id) or {}
    return str(stored["stripeCustomerId"])


def find_user_id_by_customer(customer_id: str) -> str | None:
    """The user whose record holds `customer_id`, through the index (never a Scan)."""
    items = (
        aws.client("dynamodb")
        .query(
            TableName=users_table(),
            IndexName=os.environ.get("USERS_CUSTOMER_INDEX", "stripeCustomerId-index"),
            KeyConditionExpression="stripeCustomerId = :customer",
            ExpressionAttributeValues={":customer": {"S": customer_id}},
            Limit=1,
        )
        .get("Items", [])
    )
    return str(items[0]["userId"]["S"]) if items else None


def apply_event(
    user_id: str,
    state: Mapping[str, Any],
    event_id: str,
    event_type: str,
    event_created: int,
) -> EventOutcome:
    """Write `state` to the user and record the event, in one transaction.

    Neither lands without the other. A recorded event id makes it a duplicate; an event older
    than the stored state (`stripeEventCreated`) is stale and changes nothing; an equal
    `created` applies; a user with no record is unknown. The common path is one request.
    """
    from botocore.exceptions import ClientError

    update = _state_update(user_id, state, event_created)
    try:
        aws.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": os.environ["EVENTS_TABLE"],
                        "Item": {
                            "eventId": {"S": event_id},
                            "type": {"S": event_type},
                            "userId": {"S": user_id},
                            "expiresAt": {"N": str(_now() + EVENT_RETENTION_SECONDS)},
                        },
                        "ConditionExpression": "attribute_not_exists(eventId)",
                    }
                },
                {"Update": {**update, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            ]
        )
        return EventOutcome.APPLIED
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
    codes = [reason.get("Code") for reason in reasons]
    if codes[:1] == ["ConditionalCheckFailed"]:
        return EventOutcome.DUPLICATE
    if codes[1:2] == ["ConditionalCheckFailed"]:
        exists = bool(reasons[1].get("Item")) or get_user(user_id) is not None
        return EventOutcome.STALE if exists else EventOutcome.UNKNOWN_USER
    raise RuntimeError(f"the event transaction was cancelled: {codes}")


def _state_update(user_id: str, state: Mapping[str, Any], created: int) -> dict[str, Any]:
    """The conditional update that writes `state` unless newer state is already stored.

    `created` orders writes: an event's Stripe `created`, or a sync's read time. A write older
    than the stored `stripeEventCreated` changes nothing; an equal one applies.
    """
    names = {f"#f{index}": field for index, field in enumerate(state)}
    values = {
        f":v{index}": _serialize(value)
        for index, value in enumerate(state.values())
        if value is not REMOVE
    }
    assignments = [f"#f{i} = :v{i}" for i, v in enumerate(state.values()) if v is not REMOVE]
    removals = [f"#f{i}" for i, v in enumerate(state.values()) if v is REMOVE]
    values[":created"] = {"N": str(created)}
    values[":now"] = {"N": str(_now())}
    assignments += ["stripeEventCreated = :created", "updatedAt = :now"]
    expression = "SET " + ", ".join(assignments)
    if removals:
        expression += " REMOVE " + ", ".join(removals)
    return {
        "TableName": users_table(),
        "Key": {"userId": {"S": user_id}},
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(userId) AND ("
        "attribute_not_exists(stripeEventCreated) OR stripeEventCreated <= :created)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def apply_state(user_id: str, state: Mapping[str, Any], read_at: int) -> EventOutcome:
    """Write state read from Stripe at `read_at` (a sync), through the same ordering as events.

    No event id is recorded (nothing will be replayed); an event created after `read_at` still
    applies later, and an older one arriving later is stale.
    """
    from botocore.exceptions import ClientError

    try:
        aws.client("dynamodb").update_item(**_state_update(user_id, state, read_at))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return EventOutcome.STALE if get_user(user_id) is not None else EventOutcome.UNKNOWN_USER
    return EventOutcome.APPLIED


def precheck_event(user_id: str, event_id: str, event_created: int) -> EventOutcome | None:
    """DUPLICATE, STALE or UNKNOWN_USER before any Stripe call, in one BatchGetItem; else None.

    The transaction in `apply_event` stays the authority (it re-checks both atomically); this
    only spares a replayed or stale event its Stripe request.
    """
    events_table = os.environ["EVENTS_TABLE"]
    found = (
        aws.client("dynamodb")
        .batch_get_item(
            RequestItems={
                events_table: {"Keys": [{"eventId": {"S": event_id}}], "ConsistentRead": True},
                users_table(): {
                    "Keys": [{"userId": {"S": user_id}}],
                    "ProjectionExpression": "userId, stripeEventCreated",
                    "ConsistentRead": True,
                },
            }
        )
        .get("Responses", {})
    )
    if found.get(events_table):
        return EventOutcome.DUPLICATE
    users = found.get(users_table()) or []
    if not users:
        return EventOutcome.UNKNOWN_USER
    stored = users[0].get("stripeEventCreated", {}).get("N")
    if stored is not None and int(stored) > event_created:
        return EventOutcome.STALE
    return None
