"""The usage queue: where the app's producers send usage, and what feeds the usage function.

SQS decouples producers from Stripe: a producer's `SendMessage` costs one call whatever Stripe's
state, and the usage function drains the queue in batches of up to 100 messages, so 100 usage
events cost at most 2 Stripe requests (a meter event session, then one stream call). Delivery
is at least once; Stripe's `identifier` (the message's `idempotencyKey`) makes it exactly once.
A message that fails 5 receives goes to the dead-letter queue, kept 14 days for inspection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

#: A message is retried this many times before it moves to the dead-letter queue.
MAX_RECEIVE_COUNT = 5
#: Messages per invocation: Stripe's stream takes at most 100 events per request.
BATCH_SIZE = 100
#: How long the event source gathers a batch: up to 5 s of latency for fuller batches.
BATCHING_WINDOW_SECONDS = 5
#: SQS's maximum retention: a stuck message survives a long outage.
RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class UsageQueueArgs:
    """Names and timing of the queue and its dead-letter queue."""

    queue_name: str
    dead_letter_queue_name: str
    producer_policy_name: str
    visibility_timeout_seconds: int
    """At least 6 times the consumer's timeout (AWS's advice for Lambda event sources)."""
    tags: Mapping[str, str] = field(default_factory=dict)


class UsageQueue(pulumi.ComponentResource):
    """The queue (SSE), its dead-letter queue, and a managed policy producers attach."""

    url: pulumi.Output[str]
    arn: pulumi.Output[str]
    producer_policy_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: UsageQueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:UsageQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        dead_letters = aws.sqs.Queue(
            f"{name}-dlq",
            name=args.dead_letter_queue_name,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=RETENTION_SECONDS,
            tags=dict(args.tags),
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=RETENTION_SECONDS,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dead_letters.arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
            tags=dict(args.tags),
            opts=child,
        )
        producer = aws.iam.Policy(
            f"{name}-producer-policy",
            name=args.producer_policy_name,
            description="Send usage messages to this stack's usage queue, and nothing else",
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "SendUsage",
                            "Effect": "Allow",
                            "Action": ["sqs:SendMessage"],
                            "Resource": [queue.arn],
                        }
                    ],
                }
            ),
            tags=dict(args.tags),
            opts=child,
        )
        self.url, self.arn = queue.url, queue.arn
        self.producer_policy_arn = producer.arn
        self.register_outputs(
            {"url": self.url, "arn": self.arn, "producerPolicyArn": self.producer_policy_arn}
        )

    def feed(self, name: str, function_arn: pulumi.Input[str]) -> aws.lambda_.EventSourceMapping:
        """The event source that invokes `function_arn` with batches, reporting failures per
        message (`ReportBatchItemFailures`): one bad message never retries its batch."""
        return aws.lambda_.EventSourceMapping(
            name,
            event_source_arn=self.arn,
            function_name=function_arn,
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=BATCHING_WINDOW_SECONDS,
            function_response_types=["ReportBatchItemFailures"],
            opts=pulumi.ResourceOptions(parent=self),
        )
