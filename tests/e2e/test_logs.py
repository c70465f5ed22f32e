"""Every log line of a whole story is one JSON object with the known fields, and holds no secret
and no payload (the functions run at DEBUG, in their own processes, from their archives)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from billing.components.monitoring import webhook_log_metrics
from tests.e2e.conftest import deployed_dev_stack
from tests.support.billing_world import fake_webhook_secret
from tests.support.metric_filter import matches
from tools.local.emulators import running_moto, running_stripe_fake
from tools.local.stack import DeployedStack

REQUIRED = {"timestamp", "level", "logger", "message"}
#: Fragments only a Stripe object or event body would contain.
PAYLOAD_FRAGMENTS = ('"livemode"', '"object": "subscription"', '"items"', '"data"')


@pytest.fixture(scope="module")
def story_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], DeployedStack]:
    with (
        running_moto() as moto,
        running_stripe_fake() as stripe,
        deployed_dev_stack(
            moto,
            stripe,
            Path(tmp_path_factory.mktemp("logs")),
            config={"saas-billing:logLevel": "DEBUG"},
        ) as stack,  # fmt: skip
    ):
        document = stack.document
        _, prices = stack.request("GET", "/subscription/prices", claims=None)
        _, checkout = stack.request("POST", "/subscription/checkout", {"priceId": prices["annual"]})
        session, subscription = stripe.complete_checkout(checkout["sessionId"])
        now = int(time.time())
        stack.deliver("checkout.session.completed", session, now)
        # Created now, as Stripe stamps an event: after the read the completed Checkout made.
        created = stripe.event("customer.subscription.created", subscription, int(time.time()))
        signed, signature = stripe.signed(created, document["stripe_webhook_secret"])
        for _ in range(2):  # Stripe delivers it twice
            stack.request(
                "POST", "/stripe/webhook", raw=signed, headers={"Stripe-Signature": signature}
            )
        stack.request("GET", "/subscription")
        stack.request("POST", "/subscription/sync")
        stack.request("POST", "/subscription/portal")
        forged = stripe.event("customer.subscription.updated", {"id": "sub_x"}, now)
        payload, header = stripe.signed(forged, fake_webhook_secret("FORGED"))
        stack.request("POST", "/stripe/webhook", raw=payload, headers={"Stripe-Signature": header})
        logs = stack.stop()
    return [line for line in logs.splitlines() if line.strip()], stack


def test_every_line_is_one_json_object_with_the_base_fields(
    story_logs: tuple[list[str], DeployedStack],
) -> None:
    lines, _ = story_logs
    assert len(lines) >= 9, "the story must have logged something to check"
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict) and set(entry) >= REQUIRED, line
        assert entry["timestamp"].endswith("Z") and entry["requestId"], line


def test_webhook_lines_carry_the_event_the_user_and_the_outcome(
    story_logs: tuple[list[str], DeployedStack],
) -> None:
    entries = [json.loads(line) for line in story_logs[0]]
    outcomes = [e for e in entries if "outcome" in e]
    assert {e["outcome"] for e in outcomes} >= {"applied", "duplicate"}
    for entry in outcomes:
        assert entry["eventId"].startswith("evt_") and entry["eventType"]
        assert entry["userId"] == "user-e2e"
    routes = [e for e in entries if "route" in e]
    assert {"POST /subscription/checkout", "GET /subscription"} <= {e["route"] for e in routes}
    assert all(isinstance(e["status"], int) for e in routes)


def test_no_line_holds_a_secret_or_a_payload(story_logs: tuple[list[str], DeployedStack]) -> None:
    lines, stack = story_logs
    text = "\n".join(lines)
    for key, value in stack.document.items():
        if isinstance(value, str):
            assert value not in text, f"{key} reached a log line"
    for fragment in PAYLOAD_FRAGMENTS:
        assert fragment not in text, f"a payload ({fragment}) reached a log line"


def test_the_webhook_alarms_count_its_refused_answers_and_nothing_else(
    story_logs: tuple[list[str], DeployedStack],
) -> None:
    """The metric filters behind the webhook's alarms, read on every line of the story."""
    lines, _ = story_logs
    counted = {m.metric: sum(matches(m.pattern, line) for line in lines)
               for m in webhook_log_metrics()}  # fmt: skip
    assert counted == {"4xx": 1, "5xx": 0}, "one forged delivery, no failure"
    accepted = [line for line in lines if '"route": "POST /stripe/webhook"' in line
                and '"status": 200' in line]  # fmt: skip
    assert len(accepted) >= 3, "the deliveries the story made were logged too"
