"""The users table and the processed-events table: reads, conditional writes, lookup by Stripe
customer, and the writes that order a user's billing state.

Record fields, a contract with every reader (README, "Runtime behaviour"): `userId`,
`stripeCustomerId`, `stripeSubscriptionId`, `isSubscribed`, `cancelAtPeriodEnd`, `cancelAt`,
`plan`, `subscriptionStatus`, `currentPeriodEnd`, `updatedAt`, `priceId`, and `planId` and
`features` (the catalog plan's; absent for a price the catalog does not know), `entitlements`
(the account's active Stripe entitlements, unscoped, with `entitlementsTrueFrom`); plus `email`,
`createdAt`, and `stateTrueFrom`/`stateTrueUntil` (see `shared.records.Stamp`), which keep an
older view of Stripe from overwriting a newer one.

`UserStore` is built from the runtime configuration (`store()`, cached per container); a test
or a tool may build one with its own DynamoDB client.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared import aws
from shared.config import RuntimeConfig, runtime_config
from shared.records import (
    ENTITLED_STATUSES,
    REMOVE,
    EventMark,
    EventOutcome,
    EventSeen,
    Stamp,
    StoredState,
    event_seen,
    refusal,
)

__all__ = [
    "ENTITLED_STATUSES",
    "REMOVE",
    "EventMark",
    "EventOutcome",
    "EventSeen",
    "Stamp",
    "StoredState",
    "UserStore",
    "store",
]

#: Processed events are kept this long: beyond Stripe's 3-day retry window.
EVENT_RETENTION_SECONDS = 4 * 24 * 3600

_STORED_PROJECTION = (
    "userId, stripeCustomerId, stripeSubscriptionId, isSubscribed, "
    "stateTrueFrom, stateTrueUntil, stripeEventCreated"
)


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


class UserStore:
    """The two tables of one stack, through one DynamoDB client."""

    def __init__(
        self, users_table: str, events_table: str | None, customer_index: str, client: Any = None
    ) -> None:
        self.users_table = users_table
        self._events_table = events_table
        self.customer_index = customer_index
        self._given_client = client

    @classmethod
    def from_config(cls, config: RuntimeConfig, client: Any = None) -> UserStore:
        return cls(config.users_table, config.events_table_name, config.customer_index, client)

    @property
    def _client(self) -> Any:
        return self._given_client or aws.client("dynamodb")

    @property
    def events_table(self) -> str:
        if not self._events_table:
            raise RuntimeError("EVENTS_TABLE is not set")
        return self._events_table

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        """The user's record, read consistently, or None."""
        item = self._client.get_item(
            TableName=self.users_table, Key={"userId": {"S": user_id}}, ConsistentRead=True
        ).get("Item")
        return _deserialize(item) if item else None

    def save_customer(self, user_id: str, email: str | None, customer_id: str) -> str:
        """Record `customer_id` for the user (creating the record) unless one is already stored.

        Returns the customer id that is stored afterwards: ours, or the one a racing request
        stored first, so every request of a user ends up on one Stripe customer.
        """
        from botocore.exceptions import ClientError

        now = _now()
        names = {"#customer": "stripeCustomerId"}
        values = {":customer": {"S": customer_id}, ":now": {"N": str(now)}}
        expression = (
            "SET #customer = :customer, updatedAt = :now, "
            "createdAt = if_not_exists(createdAt, :now)"
        )
        if email:
            expression += ", email = if_not_exists(email, :email)"
            values[":email"] = {"S": email}
        try:
            self._client.update_item(
                TableName=self.users_table,
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
        stored = self.get_user(user_id) or {}
        return str(stored["stripeCustomerId"])

    def find_user_id_by_customer(self, customer_id: str) -> str | None:
        """The user whose record holds `customer_id`, through the index (never a Scan)."""
        items = self._client.query(
            TableName=self.users_table,
            IndexName=self.customer_index,
            KeyConditionExpression="stripeCustomerId = :customer",
            ExpressionAttributeValues={":customer": {"S": customer_id}},
            Limit=1,
        ).get("Items", [])
        return str(items[0]["userId"]["S"]) if items else None

    def precheck_event(
        self, user_id: str, event_id: str
    ) -> tuple[EventSeen | None, StoredState | None]:
        """The event's record and the user's ordering fields, in one BatchGetItem.

        Runs before any Stripe call, so a replayed, stale or foreign event costs no Stripe request.
        The write stays the authority: it re-checks everything atomically.
        """
        events_table = self.events_table
        found = self._client.batch_get_item(
            RequestItems={
                events_table: {"Keys": [{"eventId": {"S": event_id}}], "ConsistentRead": True},
                self.users_table: {
                    "Keys": [{"userId": {"S": user_id}}],
                    "ProjectionExpression": _STORED_PROJECTION,
                    "ConsistentRead": True,
                },
            }
        ).get("Responses", {})
        events = found.get(events_table) or []
        records = found.get(self.users_table) or []
        stored = StoredState.from_item(records[0]) if records else None
        return event_seen(events[0] if events else None), stored

    def write_state(
        self,
        user_id: str,
        state: Mapping[str, Any],
        stamp: Stamp,
        customer_id: str | None,
        event: EventMark | None = None,
        same_subscription: bool = False,
    ) -> EventOutcome:
        """Write `state`, true in Stripe at `stamp`, unless the stored state is not surely older.

        With `event`, the processed-event record is written in the same transaction, so neither
        lands without the other and a duplicate is applied once. A record whose customer is not
        `customer_id` is another stack's (or another account's) user: nothing is written. With
        `same_subscription`, a record that follows another subscription is UNSETTLED (an event's own
        object cannot tell which of a customer's subscriptions decides).
        """
        from botocore.exceptions import ClientError

        update = self._state_update(user_id, state, stamp, customer_id, same_subscription)
        try:
            if event is None:
                self._client.update_item(**update, ReturnValuesOnConditionCheckFailure="ALL_OLD")
            else:
                self._client.transact_write_items(
                    TransactItems=[
                        {"Put": self._event_put(user_id, event)},
                        {"Update": {**update, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                    ]
                )
            return EventOutcome.APPLIED
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if event is None and code == "ConditionalCheckFailedException":
                return refusal(error.response.get("Item"), stamp, customer_id)
            if code != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
        codes = [reason.get("Code") for reason in reasons]
        if codes[:1] == ["ConditionalCheckFailed"]:
            # Another copy holding a claim is still applying it: the caller waits for that copy.
            claimed = event_seen(reasons[0].get("Item")) is EventSeen.CLAIMED
            return EventOutcome.UNSETTLED if claimed else EventOutcome.DUPLICATE
        if codes[1:2] == ["ConditionalCheckFailed"]:
            return refusal(reasons[1].get("Item"), stamp, customer_id)
        raise RuntimeError(f"the event transaction was cancelled: {codes}")

    def _event_put(self, user_id: str, event: EventMark) -> dict[str, Any]:
        condition = "attribute_not_exists(eventId)"
        values: dict[str, Any] = {}
        if event.claim_token is not None:
            condition += " OR claimedBy = :token"
            values[":token"] = {"S": event.claim_token}
        put: dict[str, Any] = {
            "TableName": self.events_table,
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
        self,
        user_id: str,
        state: Mapping[str, Any],
        stamp: Stamp,
        customer_id: str | None,
        same_subscription: bool,
    ) -> dict[str, Any]:
        """The conditional update writing `state` when it is surely newer than the stored one."""
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
            "SET "
            + ", ".join(assignments)
            + " REMOVE "
            + ", ".join(["stripeEventCreated", *removals])
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
            condition += (
                " AND (attribute_not_exists(#subscription) OR #subscription = :subscription)"
            )
        return {
            "TableName": self.users_table,
            "Key": {"userId": {"S": user_id}},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def write_entitlements(
        self,
        user_id: str,
        features: list[str],
        read_from_ms: int,
        customer_id: str,
        event: EventMark | None = None,
    ) -> EventOutcome:
        """The account's active entitlements as read at `read_from_ms`: a later read wins.

        With an `event`, its id is recorded in the same transaction (a duplicate applies once).
        """
        from botocore.exceptions import ClientError

        update = {
            "TableName": self.users_table,
            "Key": {"userId": {"S": user_id}},
            "UpdateExpression": (
                "SET entitlements = :features, entitlementsTrueFrom = :from, updatedAt = :now"
            ),
            "ConditionExpression": "attribute_exists(userId) AND "
            "(attribute_not_exists(stripeCustomerId) OR stripeCustomerId = :customer) AND "
            "(attribute_not_exists(entitlementsTrueFrom) OR entitlementsTrueFrom < :from)",
            "ExpressionAttributeValues": {
                ":features": {"L": [{"S": feature} for feature in features]},
                ":from": {"N": str(read_from_ms)},
                ":customer": {"S": customer_id},
                ":now": {"N": str(_now())},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        items = [{"Update": update}]
        if event is not None:
            items.insert(0, {"Put": self._event_put(user_id, event)})
        try:
            self._client.transact_write_items(TransactItems=items)
            return EventOutcome.APPLIED
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
        if event is not None and reasons[0].get("Code") == "ConditionalCheckFailed":
            return EventOutcome.DUPLICATE
        item = reasons[-1].get("Item") if reasons else None
        if not item:
            return EventOutcome.UNKNOWN_USER
        if item.get("stripeCustomerId", {}).get("S", customer_id) != customer_id:
            return EventOutcome.OTHER_STACK
        return EventOutcome.STALE

    def write_email(
        self, user_id: str, email: str, customer_id: str, event_created: int, event: EventMark
    ) -> EventOutcome:
        """The record's email follows its customer's (`customer.updated`), in event order.

        Ordered by its own stamp (`emailEventCreated`), apart from the subscription state's: an
        email change says nothing of the subscription.
        """
        from botocore.exceptions import ClientError

        update = {
            "TableName": self.users_table,
            "Key": {"userId": {"S": user_id}},
            "UpdateExpression": (
                "SET email = :email, emailEventCreated = :created, updatedAt = :now"
            ),
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
            self._client.transact_write_items(
                TransactItems=[{"Put": self._event_put(user_id, event)}, {"Update": update}]
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


@functools.cache
def store() -> UserStore:
    """This container's store, from its runtime configuration."""
    return UserStore.from_config(runtime_config())


def reset_store() -> None:
    """Build the store again on next use (tests change the configuration)."""
    store.cache_clear()
