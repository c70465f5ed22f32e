"""AWS unavailable: 5xx with a generic body, and no secret value in the response or the logs."""

from __future__ import annotations

import logging
from types import ModuleType

import pytest

from billing.components.monitoring import webhook_log_metrics
from shared import aws
from shared.log import JsonFormatter
from tests.support.billing_world import MONTHLY_PRICE, BillingWorld, body
from tests.support.metric_filter import matches


def assert_no_secret_anywhere(world: BillingWorld, texts: list[str]) -> None:
    for text in texts:
        for key, value in world.secret_values().items():
            assert value not in text, f"{key} leaked"


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_secrets_manager_down_is_5xx_without_secrets(
    world: BillingWorld,
    subscription: ModuleType,
    webhook: ModuleType,
    captured: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws.reset_clients()
    api = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}), None
    )
    hook = world.deliver(webhook, world.stripe.event("customer.subscription.updated", {"id": "x"}))
    assert api["statusCode"] == 502 and body(api) == {"error": "Internal error"}
    assert hook["statusCode"] == 500 and body(hook) == {"error": "Internal error"}
    out = capsys.readouterr()
    assert "SecretsError" in captured.text, "the log line says what failed"
    assert_no_secret_anywhere(world, [api["body"], hook["body"], captured.text, out.out, out.err])


def test_dynamodb_down_is_5xx_without_secrets(
    world: BillingWorld,
    subscription: ModuleType,
    captured: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world.boto("dynamodb").delete_table(TableName=world.users_table)
    responses = [
        subscription.handler(world.api_event(method, path, {"priceId": MONTHLY_PRICE}), None)
        for method, path in (
            ("POST", "/subscription/checkout"),
            ("POST", "/subscription/portal"),
            ("GET", "/subscription"),
        )
    ]
    assert [r["statusCode"] for r in responses] == [502, 502, 502]
    out = capsys.readouterr()
    assert "ResourceNotFoundException" in captured.text
    assert_no_secret_anywhere(
        world, [r["body"] for r in responses] + [captured.text, out.out, out.err]
    )


def test_stripe_rejecting_every_key_is_5xx_without_secrets(
    world: BillingWorld,
    subscription: ModuleType,
    captured: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world.put_user("user-1", stripeCustomerId="cus_x")
    world.stripe.state.valid_keys.clear()
    response = subscription.handler(world.api_event("POST", "/subscription/portal"), None)
    assert response["statusCode"] == 502
    out = capsys.readouterr()
    assert "AuthenticationError" in captured.text
    assert_no_secret_anywhere(world, [response["body"], captured.text, out.out, out.err])


def test_a_failed_delivery_logs_the_line_the_webhook_5xx_alarm_counts(
    world: BillingWorld,
    webhook: ModuleType,
    captured: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws.reset_clients()
    hook = world.deliver(webhook, world.stripe.event("customer.subscription.updated", {"id": "x"}))
    assert hook["statusCode"] == 500
    lines = [JsonFormatter().format(record) for record in captured.records]
    counted = {m.metric: sum(matches(m.pattern, line) for line in lines)
               for m in webhook_log_metrics()}  # fmt: skip
    assert counted == {"5xx": 1, "4xx": 0}
