"""A batch of usage messages → meter events on Stripe, reporting failures per message.

Why not Powertools' `BatchProcessor`: it hands records to a callback one at a time, which
would mean one Stripe request per message. Here the whole batch is parsed, its users resolved
in one DynamoDB `BatchGetItem`, and its events sent in one stream request; the partial-batch
answer (`batchItemFailures`) is the documented shape SQS's event source reads, which takes a
few lines, not a dependency in the layer.

Failure modes, each reported for its message so SQS retries it (five receives, then the
dead-letter queue keeps it, with a log line saying why): a malformed message, an unknown meter,
a Stripe or DynamoDB failure. A failure never costs a double count: a message Stripe had
accepted comes back with the same identifier, and Stripe drops it (24 hours' window).

A user with no Stripe customer is not a failure: no retry would make one (a customer is made
at their first Checkout), and usage before any subscription bills nobody. Each such message is
logged (`outcome: no_customer`) and counted in the batch's summary line, then dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared import aws
from shared.catalog import catalog
from shared.config import runtime_config
from shared.contract import Table
from shared.log import get_logger
from usage import stream
from usage.messages import InvalidMessageError, UsageMessage, meter_event, parse_record

logger = get_logger("usage.ingest")


@dataclass
class BatchResult:
    """Which messages failed (SQS retries them) and how many events went to Stripe."""

    failed: list[str] = field(default_factory=list)
    sent: int = 0
    unbilled: int = 0
    """Messages of users without a Stripe customer: logged, counted, not retried."""

    def response(self) -> dict[str, Any]:
        """The partial-batch response SQS's event source reads (`ReportBatchItemFailures`)."""
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failed]}


def ingest(records: Sequence[dict[str, Any]]) -> BatchResult:
    result = BatchResult()
    messages = _parse(records, result)
    if not messages:
        return result
    customers = _customers({m.user_id for m in messages}, result, messages)
    meters = {meter.id: meter.event_name for meter in catalog().meters}
    ready: list[tuple[UsageMessage, dict[str, Any]]] = []
    for message in messages:
        if message.meter not in meters:
            _fail(result, message.message_id, "unknown_meter")
        elif message.user_id not in customers:
            result.unbilled += 1
            logger.warning(
                "usage of a user without a Stripe customer: not billed",
                extra={
                    "messageId": message.message_id,
                    "outcome": "no_customer",
                    "userId": message.user_id,
                },
            )
        else:
            event = meter_event(message, meters[message.meter], customers[message.user_id])
            ready.append((message, event))
    for start in range(0, len(ready), stream.MAX_EVENTS_PER_REQUEST):
        _send(ready[start : start + stream.MAX_EVENTS_PER_REQUEST], result)
    logger.info(
        "usage batch: %d sent, %d failed, %d unbilled",
        result.sent,
        len(result.failed),
        result.unbilled,
        extra={"sent": result.sent, "failed": len(result.failed), "unbilled": result.unbilled},
    )
    return result


def _parse(records: Iterable[dict[str, Any]], result: BatchResult) -> list[UsageMessage]:
    messages = []
    for record in records:
        try:
            messages.append(parse_record(record))
        except InvalidMessageError as invalid:
            _fail(result, str(record.get("messageId")), "invalid_message", str(invalid))
    return messages


def _customers(
    user_ids: set[str], result: BatchResult, messages: Sequence[UsageMessage]
) -> Mapping[str, str]:
    """userId → stripeCustomerId in one BatchGetItem per 100 users (the batch's at most)."""
    table = runtime_config().users_table
    found: dict[str, str] = {}
    ids = sorted(user_ids)
    for start in range(0, len(ids), 100):
        answer = aws.client("dynamodb").batch_get_item(
            RequestItems={
                table: {
                    "Keys": [
                        {Table.USER_ID: {"S": user_id}} for user_id in ids[start : start + 100]
                    ],
                    "ProjectionExpression": "#u, #c",
                    "ExpressionAttributeNames": {"#u": Table.USER_ID, "#c": Table.CUSTOMER_ID},
                }
            }
        )
        for item in answer.get("Responses", {}).get(table, []):
            customer = item.get(Table.CUSTOMER_ID, {}).get("S")
            if customer:
                found[item[Table.USER_ID]["S"]] = customer
        # Throttled keys come back unprocessed: their messages are retried, never guessed at.
        for key in answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []):
            found.pop(key[Table.USER_ID]["S"], None)
    return found


def _send(ready: Sequence[tuple[UsageMessage, dict[str, Any]]], result: BatchResult) -> None:
    import stripe

    try:
        stream.send([event for _, event in ready])
    except stripe.StripeError as error:
        for message, _ in ready:
            _fail(result, message.message_id, "stripe_error", type(error).__name__)
        return
    result.sent += len(ready)


def _fail(result: BatchResult, message_id: str, outcome: str, detail: str = "") -> None:
    result.failed.append(message_id)
    logger.warning(
        "usage message not applied",
        extra={"messageId": message_id, "outcome": outcome, "detail": detail},
    )
