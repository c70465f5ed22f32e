"""Lambda's SQS event source, locally: the usage queue on moto's server feeds the usage function.

As the deployed event source mapping does (`billing.components.usage_queue`): long-poll, gather
up to 100 messages or 5 seconds' worth, invoke the function with SQS records, delete the ones
it did not report in `batchItemFailures`, and leave those to reappear after the visibility
timeout (moto applies the queue's redrive policy: five receives, then the dead-letter queue).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tools.local.lambda_container import LambdaContainer

BATCH_SIZE = 100
BATCHING_WINDOW_SECONDS = 5.0


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received message as Lambda hands it to a function (the fields the function reads)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


class UsageSource:
    """A thread that drains `queue_url` into `function` until `stop()`."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        function: LambdaContainer,
        window_seconds: float = BATCHING_WINDOW_SECONDS,
    ) -> None:
        self._sqs, self._url, self._function = sqs, queue_url, function
        self._window = window_seconds
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="usage-source")
        self.invocations = 0

    def start(self) -> UsageSource:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._gather()
            if batch:
                self.drain(batch)

    def _gather(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + self._window
        while len(batch) < BATCH_SIZE and not self._stopping.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=min(10, BATCH_SIZE - len(batch)),
                WaitTimeSeconds=1,
                AttributeNames=["All"],
            )
            batch += answer.get("Messages", [])
            if time.monotonic() >= deadline or (not batch and not answer.get("Messages")):
                break
        return batch

    def drain(self, batch: list[dict[str, Any]]) -> list[str]:
        """Invoke the function once with `batch`; delete what it applied; return the failed."""
        records = [sqs_record(message, self._arn) for message in batch]
        response = self._function.invoke({"Records": records})
        self.invocations += 1
        failed = [f["itemIdentifier"] for f in response.get("batchItemFailures") or []]
        done = [m for m in batch if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(done[start : start + 10])
                ],
            )
        return failed
