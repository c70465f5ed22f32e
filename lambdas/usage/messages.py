"""Usage messages as the queue carries them, parsed and turned into Stripe meter events.

Pure: no AWS, no Stripe. A message names the user, never a Stripe customer: the customer is
always the one the users table records for that user, so a producer cannot bill usage to
someone else's customer by writing a customer id into a message (unknown fields are refused).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.contract import METER_CUSTOMER_KEY, METER_VALUE_KEY, UsageField

#: Stripe's limit on an identifier's length.
MAX_IDENTIFIER_LENGTH = 100


class InvalidMessageError(ValueError):
    """A message that can never be applied; the message says why (never its content)."""


@dataclass(frozen=True)
class UsageMessage:
    """One validated usage message and the SQS record it came in."""

    message_id: str
    user_id: str
    meter: str
    value: int | float
    idempotency_key: str
    timestamp: float
    """Epoch seconds: the message's own, else when SQS received it (usage is billed in the
    period it happened in, even when the queue is behind)."""


def parse_record(record: dict[str, Any]) -> UsageMessage:
    """An SQS record's body → `UsageMessage`, or `InvalidMessageError` naming the field."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        raise InvalidMessageError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidMessageError("the body is not a JSON object")
    unknown = set(body) - set(UsageField.ALL)
    if unknown:
        raise InvalidMessageError(f"unknown fields {sorted(unknown)}")
    for name in UsageField.REQUIRED:
        if name not in body:
            raise InvalidMessageError(f"{name} is required")
    user_id, meter, key = (
        body[f] for f in (UsageField.USER_ID, UsageField.METER, UsageField.IDEMPOTENCY_KEY)
    )
    for name, text in ((UsageField.USER_ID, user_id), (UsageField.METER, meter)):
        if not isinstance(text, str) or not text:
            raise InvalidMessageError(f"{name} must be a non-empty string")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_IDENTIFIER_LENGTH:
        raise InvalidMessageError(
            f"{UsageField.IDEMPOTENCY_KEY} must be a string of 1-{MAX_IDENTIFIER_LENGTH} characters"
        )
    return UsageMessage(
        message_id=str(record["messageId"]),
        user_id=user_id,
        meter=meter,
        value=_number(body[UsageField.VALUE], UsageField.VALUE),
        idempotency_key=key,
        timestamp=_timestamp(body.get(UsageField.TIMESTAMP), record),
    )


def _number(raw: Any, name: str) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise InvalidMessageError(f"{name} must be a finite number")
    return raw


def _timestamp(raw: Any, record: dict[str, Any]) -> float:
    if raw is not None:
        return float(_number(raw, UsageField.TIMESTAMP))
    sent = (record.get("attributes") or {}).get("SentTimestamp")
    return int(sent) / 1000 if sent else datetime.now(UTC).timestamp()


def meter_event(message: UsageMessage, event_name: str, customer_id: str) -> dict[str, Any]:
    """The stream's event: Stripe takes the value as a string, the time as RFC 3339."""
    value = message.value
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return {
        "event_name": event_name,
        "identifier": message.idempotency_key,
        "timestamp": datetime.fromtimestamp(message.timestamp, UTC).isoformat(),
        "payload": {METER_CUSTOMER_KEY: customer_id, METER_VALUE_KEY: text},
    }
