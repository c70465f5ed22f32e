"""What the users store reads and writes, as plain values: no AWS here.

A user's billing state is ordered by `Stamp` (when it was true in Stripe), compared with the
stored state's (`StoredState`); `EventOutcome` says what a write did. The store
(`shared.users.UserStore`) turns these into DynamoDB requests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: Stripe statuses that count as subscribed (`shared.entitlement`, re-exported for the store).
from shared.contract import OTHER_STACK_OUTCOME
from shared.entitlement import ENTITLED_STATUSES

__all__ = ["ENTITLED_STATUSES"]


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
    OTHER_STACK = OTHER_STACK_OUTCOME
    """The object belongs to another stack, or its customer is not the user's."""
    UNSETTLED = "unsettled"
    """Only a fresh read of Stripe settles it: the state is neither surely older nor surely newer
    than the stored one, or is about another subscription than the recorded one."""


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


def refusal(item: Mapping[str, Any] | None, stamp: Stamp, customer_id: str | None) -> EventOutcome:
    """Why a conditional state write was refused, from the record as it was."""
    if not item:
        return EventOutcome.UNKNOWN_USER
    stored = StoredState.from_item(item)
    if customer_id and stored.customer_id and stored.customer_id != customer_id:
        return EventOutcome.OTHER_STACK
    if stamp.older_than(stored.stamp):
        return EventOutcome.STALE
    return EventOutcome.UNSETTLED
