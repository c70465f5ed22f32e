"""The users table: reads, conditional writes, lookup by Stripe customer, and state writes.

Record fields, a contract with every reader (README, "Runtime behaviour"): `userId`,
`stripeCustomerId`, `stripeSubscriptionId`, `isSubscribed`, `cancelAtPeriodEnd`, `cancelAt`,
`plan`, `subscriptionStatus`, `currentPeriodEnd`, `updatedAt`, `priceId`, and `planId` and
`features` (the catalog plan's; absent for a price the catalog does not know); plus `email`,
`createdAt`, and `stateTrueFrom`/`stateTrueUntil` (see `Stamp`), which keep an older view of
Stripe from overwriting a newer one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared import aws
from shared.config import runtime_config

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
    """What applying one Stripe event (or writing one read of Stripe) did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNKNOWN_USER = "unknown_user"
    OTHER_STACK = "other_stack"
    """The object belongs to another stack, or its customer is not the user's."""
    UNSETTLED = "unsettled"
    """Only a fresh read of Stripe settles it: the state is neither surely older nor surely newer
    than the stored one, or is about another subscription than the recorded one."""


def users_table() -> str:
    return runtime_config().users_table


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
            IndexName=runtime_config().customer_index,
            KeyConditionExpression="stripeCustomerId = :customer",
            ExpressionAttributeValues={":customer": {"S": customer_id}},
            Limit=1,
        )
        .get("Items", [])
    )
    return str(items[0]["userId"]["S"]) if items else None


@dataclass(frozen=True)
class Stamp:
    """When a state was true in Stripe: at some instant within [`earliest`, `latest`] (ms).

    An event's object was true during its `created` second (Stripe's clock has one-second
    resolution), and no later than the moment it is written; a read of Stripe was true between
    the request's start and its answer. A write
    applies only when it is surely newer than the stored state (its `earliest` after the stored
    `latest`); surely older is stale; anything else is settled by reading Stripe again, and that
    read, started after the stored state was written, is surely newer.
    """

    earliest: int
    latest: int

    @classmethod
    def of_event(cls, created: int) -> Stamp:
        # True no later than now: a state is never written before it was true in Stripe.
        now_ms = int(time.time() * 1000)
        return cls(created * 1000, max(created * 1000, min(created * 1000 + 999, now_ms)))

    @classmethod
    def of_read(cls, started_ms: int, finished_ms: int) -> Stamp:
        return cls(started_ms, finished_ms)

    def newer_than(self, other: Stamp | None) -> bool:
        return other is None or self.earliest > other.latest

    def older_than(self, other: Stamp | None) -> bool:
        return other is not None and self.latest < other.earliest


def _stored_stamp(item: Mapping[str, Any]) -> Stamp | None:
    """The stamp of a raw record; a record written before stamps had ms uses its event second."""
    if "stateTrueUntil" in item:
        return Stamp(int(item["stateTrueFrom"]["N"]), int(item["stateTrueUntil"]["N"]))
    if "stripeEventCreated" in item:
        created = int(item["stripeEventCreated"]["N"])
        return Stamp(created * 1000, created * 1000 + 999)
    return None


@dataclass(frozen=True)
class StoredState:
    """What the ordering and stack checks need of a user's record."""

    customer_id: str | None
    subscription_id: str | None
    is_subscribed: bool
    stamp: Stamp | None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StoredState:
        return cls(
            customer_id=item.get("stripeCustomerId", {}).get("S"),
            subscription_id=item.get("stripeSubscriptionId", {}).get("S"),
            is_subscribed=bool(item.get("isSubscribed", {}).get("BOOL")),
            stamp=_stored_stamp(item),
        )


_STORED_PROJECTION = (
    "userId, stripeCustomerId, stripeSubscriptionId, isSubscribed, "
    "stateTrueFrom, stateTrueUntil, stripeEventCreated"
)


class EventSeen(StrEnum):
    """What the events table holds for an event id."""

    PROCESSED = "processed"
    CLAIMED = "claimed"
    """Another copy of the event is being applied right now."""


@dataclass(frozen=True)
class EventMark:
    """The processed-event record written with an event's state, in one transaction."""

    event_id: str
    event_type: str
    claim_token: str | None = None
    """Set when this copy claimed the event before reading Stripe (`shared.event_claims`)."""


def event_seen(item: Mapping[str, Any] | None) -> EventSeen | None:
    if not item:
        return None
    return EventSeen.CLAIMED if "claimedBy" in item else EventSeen.PROCESSED


def precheck_event(user_id: str, event_id: str) -> tuple[EventSeen | None, StoredState | None]:
    """The event's record and the user's ordering fields, in one BatchGetItem.

    Runs before any Stripe call, so a replayed, stale or foreign event costs no Stripe request.
    The write stays the authority: it re-checks everything atomically.
    """
    events_table = runtime_config().events_table
    found = (
        aws.client("dynamodb")
        .batch_get_item(
            RequestItems={
                events_table: {"Keys": [{"eventId": {"S": event_id}}], "ConsistentRead": True},
                users_table(): {
                    "Keys": [{"userId": {"S": user_id}}],
                    "ProjectionExpression": _STORED_PROJECTION,
                    "ConsistentRead": True,
                },
            }
        )
        .get("Responses", {})
    )
    events = found.get(events_table) or []
    records = found.get(users_table()) or []
    stored = StoredState.from_item(records[0]) if records else None
    return event_seen(events[0] if events else None), stored


def write_state(
    user_id: str,
    state: Mapping[str, Any],
    stamp: Stamp,
    customer_id: str | None,
    event: EventMark | None = None,
    same_subscription: bool = False,
) -> EventOutcome:
    """Write `state`, true in Stripe at `stamp`, unless the record holds a state not surely older.

    With `event`, the processed-event record is written in the same transaction, so neither
    lands without the other and a duplicate is applied once. A record whose customer is not
    `customer_id` is another stack's (or another account's) user: nothing is written. With
    `same_subscription`, a record that follows another subscription is UNSETTLED (an event's own
    object cannot tell which of a customer's subscriptions decides).
    """
    from botocore.exceptions import ClientError

    update = _state_update(user_id, state, stamp, customer_id, same_subscription)
    try:
        if event is None:
            aws.client("dynamodb").update_item(
                **update, ReturnValuesOnConditionCheckFailure="ALL_OLD"
            )
        else:
            aws.client("dynamodb").transact_write_items(
                TransactItems=[
                    {"Put": _event_put(user_id, event)},
                    {"Update": {**update, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                ]
            )
        return EventOutcome.APPLIED
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if event is None and code == "ConditionalCheckFailedException":
            return _refusal(error.response.get("Item"), stamp, customer_id)
        if code != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
    codes = [reason.get("Code") for reason in reasons]
    if codes[:1] == ["ConditionalCheckFailed"]:
        # Another copy holding a claim is still applying it: the caller waits for that copy.
        claimed = event_seen(reasons[0].get("Item")) is EventSeen.CLAIMED
        return EventOutcome.UNSETTLED if claimed else EventOutcome.DUPLICATE
    if codes[1:2] == ["ConditionalCheckFailed"]:
        return _refusal(reasons[1].get("Item"), stamp, customer_id)
    raise RuntimeError(f"the event transaction was cancelled: {codes}")


def _refusal(item: Mapping[str, Any] | None, stamp: Stamp, customer_id: str | None) -> EventOutcome:
    """Why a conditional state write was refused, from the record as it was."""
    if not item:
        return EventOutcome.UNKNOWN_USER
    stored = StoredState.from_item(item)
    if customer_id and stored.customer_id and stored.customer_id != customer_id:
        return EventOutcome.OTHER_STACK
    if stamp.older_than(stored.stamp):
        return EventOutcome.STALE
    return EventOutcome.UNSETTLED


def _event_put(user_id: str, event: EventMark) -> dict[str, Any]:
    condition = "attribute_not_exists(eventId)"
    values: dict[str, Any] = {}
    if event.claim_token is not None:
        condition += " OR claimedBy = :token"
        values[":token"] = {"S": event.claim_token}
    put: dict[str, Any] = {
        "TableName": runtime_config().events_table,
        "Item": {
            "eventId": {"S": event.event_id},
            "type": {"S": event.event_type},
            "userId": {"S": user_id},
            "expiresAt": {"N": str(_now() + EVENT_RETENTION_SECONDS)},
        },
        "ConditionExpression": condition,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if values:
        put["ExpressionAttributeValues"] = values
    return put


def _state_update(
    user_id: str,
    state: Mapping[str, Any],
    stamp: Stamp,
    customer_id: str | None,
    same_subscription: bool,
) -> dict[str, Any]:
    """The conditional update that writes `state` when it is surely newer than the stored one."""
    names = {f"#f{index}": field for index, field in enumerate(state)}
    values = {
        f":v{index}": _serialize(value)
        for index, value in enumerate(state.values())
        if value is not REMOVE
    }
    assignments = [f"#f{i} = :v{i}" for i, v in enumerate(state.values()) if v is not REMOVE]
    removals = [f"#f{i}" for i, v in enumerate(state.values()) if v is REMOVE]
    values[":from"] = {"N": str(stamp.earliest)}
    values[":until"] = {"N": str(stamp.latest)}
    values[":fromSecond"] = {"N": str(stamp.earliest // 1000)}
    values[":now"] = {"N": str(_now())}
    assignments += ["stateTrueFrom = :from", "stateTrueUntil = :until", "updatedAt = :now"]
    expression = (
        "SET " + ", ".join(assignments) + " REMOVE " + ", ".join(["stripeEventCreated", *removals])
    )
    condition = (
        "attribute_exists(userId) AND (stateTrueUntil < :from OR ("
        "attribute_not_exists(stateTrueUntil) AND (attribute_not_exists(stripeEventCreated) "
        "OR stripeEventCreated < :fromSecond)))"
    )
    if customer_id:
        names["#customer"] = "stripeCustomerId"
        values[":customer"] = {"S": customer_id}
        condition += " AND (attribute_not_exists(#customer) OR #customer = :customer)"
    if same_subscription:
        names["#subscription"] = "stripeSubscriptionId"
        values[":subscription"] = _serialize(state["stripeSubscriptionId"])
        condition += " AND (attribute_not_exists(#subscription) OR #subscription = :subscription)"
    return {
        "TableName": users_table(),
        "Key": {"userId": {"S": user_id}},
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def write_email(
    user_id: str, email: str, customer_id: str, event_created: int, event: EventMark
) -> EventOutcome:
    """The record's email follows its customer's (`customer.updated`), in event order.

    Ordered by its own stamp (`emailEventCreated`), apart from the subscription state's: an
    email change says nothing of the subscription.
    """
    from botocore.exceptions import ClientError

    update = {
        "TableName": users_table(),
        "Key": {"userId": {"S": user_id}},
        "UpdateExpression": "SET email = :email, emailEventCreated = :created, updatedAt = :now",
        "ConditionExpression": "attribute_exists(userId) AND "
        "(attribute_not_exists(stripeCustomerId) OR stripeCustomerId = :customer) AND "
        "(attribute_not_exists(emailEventCreated) OR emailEventCreated <= :created)",
        "ExpressionAttributeValues": {
            ":email": {"S": email},
            ":created": {"N": str(event_created)},
            ":customer": {"S": customer_id},
            ":now": {"N": str(_now())},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    try:
        aws.client("dynamodb").transact_write_items(
            TransactItems=[{"Put": _event_put(user_id, event)}, {"Update": update}]
        )
        return EventOutcome.APPLIED
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
    codes = [reason.get("Code") for reason in reasons]
    if codes[:1] == ["ConditionalCheckFailed"]:
        return EventOutcome.DUPLICATE
    item = reasons[1].get("Item") if len(reasons) > 1 else None
    if not item:
        return EventOutcome.UNKNOWN_USER
    if item.get("stripeCustomerId", {}).get("S", customer_id) != customer_id:
        return EventOutcome.OTHER_STACK
    return EventOutcome.STALE
