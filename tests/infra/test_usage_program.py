"""Usage billing as the program declares it: meters, metered prices, the queue and its consumer,
the producer's policy, and the settings refused offline."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from billing.config import SettingsError
from tools.mock_engine import PROJECT, Recording, base_config, run_program

METER = "stripe:index/meter:Meter"
PRICE = "stripe:index/price:Price"
QUEUE = "aws:sqs/queue:Queue"
METERS = [
    {"id": "api-calls", "name": "API calls"},
    {"id": "seats", "name": "Seats", "aggregation": "last"},
]
PLANS: list[dict[str, Any]] = [
    {"id": "basic", "name": "Basic", "prices": {"monthly": 900, "annual": 9000},
     "usage": {"api-calls": "0.05"}},
    {"id": "api", "name": "API", "usage": {"api-calls": "0.5", "seats": "100"}},
]  # fmt: skip


def usage_config(**overrides: Any) -> dict[str, Any]:
    return base_config(
        "dev", **{f"{PROJECT}:meters": METERS, f"{PROJECT}:plans": PLANS, **overrides}
    )


@pytest.fixture(scope="module")
def usage() -> Recording:
    return run_program(usage_config())


def test_each_meter_is_a_stripe_meter_scoped_to_the_stack(usage: Recording) -> None:
    meters = {m.inputs["eventName"]: m.inputs for m in usage.of_type(METER)}
    assert set(meters) == {"dev_saas-billing_api-calls", "dev_saas-billing_seats"}
    seats = meters["dev_saas-billing_seats"]
    assert seats["defaultAggregation"] == {"formula": "last"}
    assert seats["customerMapping"] == {"eventPayloadKey": "stripe_customer_id", "type": "by_id"}
    assert seats["valueSettings"] == {"eventPayloadKey": "value"}


def test_a_plans_usage_is_a_metered_price_per_interval_it_sells(usage: Recording) -> None:
    meters = {m.inputs["eventName"].rsplit("_", 1)[1]: m.id for m in usage.of_type(METER)}
    metered = {
        p.inputs["lookupKey"]: p.inputs
        for p in usage.of_type(PRICE)
        if p.inputs["recurring"].get("usageType") == "metered"
    }
    assert set(metered) == {
        "dev-saas-billing-basic-api-calls-monthly",
        "dev-saas-billing-basic-api-calls-annual",
        "dev-saas-billing-api-api-calls-monthly",  # no flat prices: it sells monthly
        "dev-saas-billing-api-seats-monthly",
    }
    seats = metered["dev-saas-billing-api-seats-monthly"]
    assert seats["recurring"]["meter"] == meters["seats"]
    assert seats["unitAmountDecimal"] == 100 and "unitAmount" not in seats
    catalog = json.loads(
        usage.one("aws:secretsmanager/secretVersion:SecretVersion").inputs["secretString"]
    )["stripe_catalog"]
    assert [m["id"] for m in catalog["meters"]] == ["api-calls", "seats"]
    api = catalog["plans"][1]
    assert api["prices"] == {} and api["usage"]["seats"]["monthly"]["unitAmountDecimal"] == "100"


def test_the_portal_offers_only_plans_with_a_flat_price(usage: Recording) -> None:
    portal = usage.one("stripe:index/portalConfiguration:PortalConfiguration").inputs
    products = portal["features"]["subscriptionUpdates"][0]["products"]
    assert len(products) == 1 and len(products[0]["prices"]) == 2


def test_the_queue_keeps_what_fails_five_times_in_its_dead_letter_queue(usage: Recording) -> None:
    queues = {q.inputs["name"]: q for q in usage.of_type(QUEUE)}
    queue, dead = queues["dev-saas-billing-usage"], queues["dev-saas-billing-usage-dlq"]
    assert queue.inputs["sqsManagedSseEnabled"] and dead.inputs["sqsManagedSseEnabled"]
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dead.outputs["arn"], "maxReceiveCount": 5}
    source = usage.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert source["eventSourceArn"] == queue.outputs["arn"]
    assert source["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["batchSize"] == 100


def test_a_producer_may_send_to_the_usage_queue_and_nothing_else(usage: Recording) -> None:
    queue = next(q for q in usage.of_type(QUEUE) if q.inputs["name"].endswith("-usage"))
    policy = usage.one("aws:iam/policy:Policy")
    document = json.loads(policy.inputs["policy"])
    assert document["Statement"] == [
        {"Sid": "SendUsage", "Effect": "Allow", "Action": ["sqs:SendMessage"],
         "Resource": [queue.outputs["arn"]]}
    ]  # fmt: skip
    assert usage.exports["usageProducerPolicyArn"] == policy.outputs["arn"]
    assert usage.exports["usageQueueArn"] == queue.outputs["arn"]


def test_only_the_usage_function_consumes_the_queue(usage: Recording) -> None:
    queue = next(q for q in usage.of_type(QUEUE) if q.inputs["name"].endswith("-usage"))
    consumers = []
    for policy in usage.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            if any(action.startswith("sqs:") for action in statement["Action"]):
                assert statement["Resource"] == [queue.outputs["arn"]], policy.urn
                assert "sqs:SendMessage" not in statement["Action"], policy.urn
                consumers.append(policy.name)
    assert consumers == ["usage-policy"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({f"{PROJECT}:meters": [{"id": "API", "name": "x"}]}, "meters[0].id must match"),
        ({f"{PROJECT}:meters": [{"id": "a", "name": "x", "aggregation": "max"}]},
         "meters[0] (a).aggregation must be one of sum, count, last"),
        ({f"{PROJECT}:meters": [{"id": "a", "name": "x"}, {"id": "a", "name": "y"}]},
         "meters[1].id 'a' is used by another meter"),
        ({f"{PROJECT}:meters": [{"id": "a", "name": "x", "unit": "calls"}]}, "unknown fields"),
        ({f"{PROJECT}:plans": [{"id": "p", "name": "P", "usage": {"nope": "1"}}]},
         "plans[0] (p).usage names meter 'nope', which is not in meters"),
        ({f"{PROJECT}:plans": [{"id": "p", "name": "P", "usage": {"api-calls": 0.05}}]},
         "plans[0] (p).usage.api-calls must be a decimal string"),
        ({f"{PROJECT}:plans": [{"id": "p", "name": "P", "usage": {"api-calls": "-1"}}]},
         "must be positive with at most 12 decimal places"),
        ({f"{PROJECT}:plans": [{"id": "p", "name": "P", "usage": {"api-calls": "1e-13"}}]},
         "must be positive with at most 12 decimal places"),
    ],
)  # fmt: skip
def test_what_stripe_would_refuse_is_refused_offline(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        run_program(usage_config(**overrides))
