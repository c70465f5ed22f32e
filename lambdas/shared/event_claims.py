"""Claim an event before reading Stripe for it, so concurrent copies cost one Stripe call.

Stripe may deliver one event several times at once (retries, the reconciliation). The copy that
claims it (a conditional put in the events table) reads Stripe and writes; the others wait for
that copy to finish and then answer `duplicate`, or take the claim over when it was released
(the first copy failed, and answered 500 so that Stripe retries) or has expired (its function
died). A copy still waiting after `WAIT_SECONDS` raises `EventInFlightError`: a 500, and
Stripe delivers it again later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared import aws
from shared.config import runtime_config
from shared.records import EventSeen, event_seen
from shared.users import EVENT_RETENTION_SECONDS

#: Longer than any function's timeout (15 s for the webhook), so a live claim never expires.
CLAIM_SECONDS = 30
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1


class EventInFlightError(RuntimeError):
    """Another copy of the event is still being applied."""


def _table() -> str:
    return runtime_config().events_table


def claim(
    event_id: str, event_type: str, sleep: Callable[[float], None] = time.sleep
) -> str | None:
    """A claim token for the event, or None when another copy has already applied it."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        token, seen = _try_claim(event_id, event_type)
        if token is not None:
            return token
        if seen is EventSeen.PROCESSED:
            return None
        if time.monotonic() >= deadline:
            raise EventInFlightError(f"event {event_id} is being applied by another copy")
        sleep(POLL_SECONDS)


def _try_claim(event_id: str, event_type: str) -> tuple[str | None, EventSeen | None]:
    import uuid  # only a claim needs it: not on every cold start's import path

    from botocore.exceptions import ClientError

    token = uuid.uuid4().hex
    now = int(time.time())
    try:
        aws.client("dynamodb").put_item(
            TableName=_table(),
            Item={
                "eventId": {"S": event_id},
                "type": {"S": event_type},
                "claimedBy": {"S": token},
                "claimExpiresAt": {"N": str(now + CLAIM_SECONDS)},
                "expiresAt": {"N": str(now + EVENT_RETENTION_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(eventId) OR claimExpiresAt < :now",
            ExpressionAttributeValues={":now": {"N": str(now)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return token, None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        item: Any = error.response.get("Item")
    return None, event_seen(item) if item else EventSeen.CLAIMED


def release(event_id: str, token: str) -> None:
    """Give a claim back (the copy failed), so a retry or a waiting copy can apply the event."""
    from botocore.exceptions import ClientError

    try:
        aws.client("dynamodb").delete_item(
            TableName=_table(),
            Key={"eventId": {"S": event_id}},
            ConditionExpression="claimedBy = :token",
            ExpressionAttributeValues={":token": {"S": token}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
