"""Usage ingestion: events per second through one usage function, Stripe requests per 1,000
events against the naive one-request-per-event design, and the cost per million events.

Timed against the emulators on loopback, so the rate is the function's own work plus two local
round trips per batch, not Stripe's latency; the request counts are design facts. The cost is
COMPUTED from AWS's published us-east-1 prices (below), not measured.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tools.harness import METER_EVENT_NAME, BillingWorld, load_function

#: AWS's published prices, us-east-1 (aws.amazon.com/lambda/pricing, /sqs/pricing,
#: /dynamodb/pricing/on-demand), in USD.
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
SQS_STANDARD_PER_MILLION_REQUESTS = 0.40
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
#: The function's memory (BillingFunctionArgs' default), in GB.
MEMORY_GB = 0.5
BATCH = 100


@dataclass(frozen=True)
class UsageRun:
    events: int
    seconds: float
    stripe_requests: int
    batch_ms_median: float


def _records(users: int, start: int, count: int) -> list[dict[str, Any]]:
    sent = str(int(time.time() * 1000))
    return [
        {
            "messageId": f"m{n}",
            "body": json.dumps(
                {"userId": f"user-{n % users}", "meter": "api-calls", "value": 1,
                 "idempotencyKey": f"bench-{n}"}
            ),
            "attributes": {"SentTimestamp": sent},
        }
        for n in range(start, start + count)
    ]  # fmt: skip


def through_the_function(world: BillingWorld, events: int, users: int = 50) -> UsageRun:
    """`events` messages in batches of 100 through one warm usage function."""
    for n in range(users):
        world.put_user(f"user-{n}", stripeCustomerId=f"cus_bench{n}")
    usage = load_function("usage")
    usage.handler({"Records": _records(users, -1, 1)}, None)  # warm: imports, secret, session
    before = len(world.stripe.requests_to("POST", "/v2/billing/"))
    timings = []
    started = time.perf_counter()
    for start in range(0, events, BATCH):
        batch_started = time.perf_counter()
        answer = usage.handler({"Records": _records(users, start, BATCH)}, None)
        timings.append((time.perf_counter() - batch_started) * 1000)
        assert answer == {"batchItemFailures": []}, answer
    seconds = time.perf_counter() - started
    requests = len(world.stripe.requests_to("POST", "/v2/billing/")) - before
    timings.sort()
    return UsageRun(events, seconds, requests, timings[len(timings) // 2])


def naive(world: BillingWorld, events: int, users: int = 50) -> UsageRun:
    """The naive design: one v1 meter event request per usage event, as it happens."""
    import stripe

    client = stripe.StripeClient(
        world.document["stripe_secret_key"],
        base_addresses={"api": world.stripe.base_url},
        max_network_retries=0,
    )
    for n in range(users):
        world.stripe.ensure_customer(f"cus_naive{n}")
    before = len(world.stripe.requests_to("POST", "/v1/billing/meter_events"))
    started = time.perf_counter()
    for n in range(events):
        params: Any = {
            "event_name": METER_EVENT_NAME,
            "identifier": f"naive-{n}",
            "payload": {"stripe_customer_id": f"cus_naive{n % users}", "value": "1"},
        }
        client.v1.billing.meter_events.create(params=params)
    seconds = time.perf_counter() - started
    requests = len(world.stripe.requests_to("POST", "/v1/billing/meter_events")) - before
    return UsageRun(events, seconds, requests, 0.0)


def cost_per_million(batch_ms: float) -> dict[str, float]:
    """USD per million usage events, each term from its published price:

    Lambda   = (1e6 / 100) invocations x (batch_ms / 1000 s x 0.5 GB x $/GB-s + $0.20 / 1e6)
    SQS      = (1 send + 1/10 receive + 1/10 delete) x 1e6 requests x $0.40 / 1e6
    DynamoDB = 1e6 items read (at most one per message; a batch's repeats are one) x 0.5 RRU
               (eventually consistent, item < 4 KB) x $0.125 / 1e6
    """
    invocations = 1e6 / BATCH
    lambda_cost = invocations * (
        batch_ms / 1000 * MEMORY_GB * LAMBDA_ARM_PER_GB_SECOND + LAMBDA_PER_MILLION_REQUESTS / 1e6
    )
    sqs = (1 + 0.1 + 0.1) * SQS_STANDARD_PER_MILLION_REQUESTS
    dynamodb = 0.5 * DYNAMODB_PER_MILLION_READ_UNITS
    return {"lambda": lambda_cost, "sqs": sqs, "dynamodb": dynamodb}
