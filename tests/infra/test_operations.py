"""Operations as declared: the alarm topic, every alarm, the dashboard, the custom domain."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from billing.config import SettingsError
from tools.mock_engine import Recording, base_config, dev_config, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-0123-4567-89ab-0123456789ab"
ZONE = "Z0123456789ABCDEFGHIJ"


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program(base_config("dev"))


def alarms(recording: Recording) -> dict[str, dict[str, Any]]:
    return {a.inputs["name"]: a.inputs for a in recording.of_type(ALARM)}


def test_one_topic_per_stack_is_exported_and_email_is_optional(dev: Recording) -> None:
    topic = dev.one("aws:sns/topic:Topic")
    assert topic.inputs["name"] == "dev-saas-billing-alarms"
    assert dev.exports["alarmTopicArn"] == topic.outputs["arn"]
    assert dev.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    with_email = run_program(dev_config(alarmEmail="oncall@example.com"))
    subscription = with_email.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "oncall@example.com")


def test_every_function_has_errors_and_throttles_alarms(dev: Recording) -> None:
    found = alarms(dev)
    for function in dev.of_type("aws:lambda/function:Function"):
        name = function.inputs["name"]
        for metric in ("Errors", "Throttles"):
            alarm = found[f"{name}-{metric.lower()}"]
            assert alarm["namespace"] == "AWS/Lambda" and alarm["metricName"] == metric
            assert alarm["dimensions"] == {"FunctionName": name}
    api_errors = found["dev-saas-billing-subscription-errors"]
    assert (api_errors["period"], api_errors["evaluationPeriods"], api_errors["datapointsToAlarm"],
            api_errors["threshold"]) == (300, 3, 2, 1)  # fmt: skip
    reconcile = found["dev-saas-billing-reconcile-errors"]
    assert reconcile["period"] == 3600 and reconcile["evaluationPeriods"] == 1, "any failed run"


def test_the_webhook_and_the_api_have_their_own_alarms(dev: Recording) -> None:
    found = alarms(dev)
    namespace = "dev-saas-billing/webhook"
    failed = found["dev-saas-billing-webhook-5xx"]
    assert (failed["namespace"], failed["metricName"]) == (namespace, "5xx")
    assert "dimensions" not in failed, "the filter's metric has none"
    surge = found["dev-saas-billing-webhook-4xx-surge"]
    assert (surge["namespace"], surge["metricName"]) == (namespace, "4xx")
    assert (surge["threshold"], surge["period"]) == (10, 900)
    api_id = dev.one("aws:apigatewayv2/api:Api").id
    api = found["dev-saas-billing-api-5xx"]
    assert api["dimensions"] == {"ApiId": api_id, "Stage": "$default"} and api["threshold"] == 5
    stage = dev.one("aws:apigatewayv2/stage:Stage").inputs
    assert stage["defaultRouteSettings"]["detailedMetricsEnabled"] is True, "per-route charts"


def test_the_webhook_metrics_are_counted_from_its_own_log_group(dev: Recording) -> None:
    webhook = next(f for f in dev.of_type("aws:lambda/function:Function")
                   if f.inputs["name"] == "dev-saas-billing-stripe-webhook")  # fmt: skip
    filters = {f.inputs["metricTransformation"]["name"]: f.inputs
               for f in dev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
               if f.inputs["metricTransformation"]["name"] in ("4xx", "5xx")}  # fmt: skip
    assert set(filters) == {"4xx", "5xx"}
    for metric in filters.values():
        assert metric["logGroupName"] == webhook.inputs["loggingConfig"]["logGroup"]
        assert metric["metricTransformation"]["namespace"] == "dev-saas-billing/webhook"
        assert metric["metricTransformation"]["value"] == "1"
        assert '$.route = "POST /stripe/webhook"' in metric["pattern"]


def test_a_duplicate_subscription_alarms_from_every_function_that_decides_one(
    dev: Recording,
) -> None:
    from billing.components.monitoring import duplicate_subscription_metric
    from tests.support.metric_filter import matches

    groups = {
        f.inputs["loggingConfig"]["logGroup"]
        for f in dev.of_type(FUNCTION)
        if not f.inputs["name"].endswith("-usage")  # it decides no subscription
    }
    counted = [f.inputs for f in dev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
               if f.inputs["metricTransformation"]["name"] == "DuplicateSubscriptions"]  # fmt: skip
    assert {f["logGroupName"] for f in counted} == groups, "webhook, reconcile and sync"
    alarm = alarms(dev)["dev-saas-billing-duplicate-subscription"]
    assert (alarm["namespace"], alarm["threshold"]) == ("dev-saas-billing/billing", 1)
    # The line `shared.customer_state` logs (tests/lambdas/test_one_subscription.py), and not
    # a line that merely mentions the word.
    line = '{"level": "ERROR", "outcome": "duplicate_subscription", "message": "refund"}'
    pattern = duplicate_subscription_metric().pattern
    assert matches(pattern, line)
    assert not matches(pattern, '{"level": "INFO", "outcome": "applied"}')


def test_no_alarm_fires_on_a_quiet_stack_and_all_notify_the_topic(dev: Recording) -> None:
    topic = dev.one("aws:sns/topic:Topic").outputs["arn"]
    found = alarms(dev)
    # 4 functions x (errors, throttles), 4 stack-wide, the usage queue's DLQ and oldest message
    assert len(found) == 4 * 2 + 4 + 2
    assert "dev-saas-billing-usage-dlq-messages" in found
    assert "dev-saas-billing-usage-oldest-message-age" in found
    for name, alarm in found.items():
        assert alarm["treatMissingData"] == "notBreaching", name
        assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic], name
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold", name
        assert alarm["alarmDescription"], name


def test_usage_alarms_on_its_dead_letters_and_on_its_oldest_message(dev: Recording) -> None:
    queues = {q.inputs["name"]: q.inputs for q in dev.of_type("aws:sqs/queue:Queue")}
    queue = queues["dev-saas-billing-usage"]
    found = alarms(dev)
    dead_letters = found["dev-saas-billing-usage-dlq-messages"]
    assert dead_letters["dimensions"] == {"QueueName": "dev-saas-billing-usage-dlq"}
    assert (dead_letters["namespace"], dead_letters["threshold"]) == ("AWS/SQS", 1)
    oldest = found["dev-saas-billing-usage-oldest-message-age"]
    assert oldest == {**oldest, "namespace": "AWS/SQS",
                      "metricName": "ApproximateAgeOfOldestMessage",
                      "dimensions": {"QueueName": "dev-saas-billing-usage"},
                      "statistic": "Maximum", "period": 300, "evaluationPeriods": 1,
                      "threshold": 30 * 60}  # fmt: skip
    # A message that keeps failing leaves for the dead-letter queue (its own alarm) before it
    # is this old: the age alarm means the queue is not drained at all.
    redrive = json.loads(queue["redrivePolicy"])
    assert oldest["threshold"] > redrive["maxReceiveCount"] * queue["visibilityTimeoutSeconds"]
    assert found["dev-saas-billing-usage-errors"]["dimensions"] == {
        "FunctionName": "dev-saas-billing-usage"
    }
    others = [a for name, a in found.items() if name != oldest["name"]]
    assert {a["statistic"] for a in others} == {"Sum"}


def test_the_dashboard_has_a_row_for_usage(dev: Recording) -> None:
    body = json.loads(dev.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    usage = [w for w in body["widgets"] if w["properties"]["title"].startswith("Usage")]
    assert sum(w["width"] for w in usage) == 24, "one full row"
    metrics = [m for w in usage for m in w["properties"]["metrics"]]
    charted = {(m[1], m[3]) for m in metrics}
    queue, dlq, function = (
        "dev-saas-billing-usage", "dev-saas-billing-usage-dlq", "dev-saas-billing-usage"
    )  # fmt: skip
    assert charted >= {
        ("NumberOfMessagesSent", queue), ("NumberOfMessagesReceived", queue),
        ("ApproximateNumberOfMessagesVisible", queue), ("ApproximateNumberOfMessagesVisible", dlq),
        ("ApproximateAgeOfOldestMessage", queue),
        ("Invocations", function), ("Errors", function), ("Duration", function),
    }  # fmt: skip
    assert all(m[0] == "AWS/SQS" and m[2] == "QueueName" for m in metrics if m[0] != "AWS/Lambda")
    age = next(w for w in usage if "oldest" in w["properties"]["title"])
    assert age["properties"]["stat"] == "Maximum"
    assert age["properties"]["annotations"]["horizontal"][0]["value"] == 30 * 60
    assert {w["properties"]["region"] for w in usage} == {"us-east-1"}


def test_the_dashboard_follows_the_providers_region_when_aws_region_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {key: value for key, value in base_config("dev").items() if key != "aws:region"}
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # the profile's region, as the provider reads it
    recording = run_program(config)
    body = json.loads(recording.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    assert {widget["properties"]["region"] for widget in body["widgets"]} == {"eu-west-1"}


def test_the_dashboard_shows_routes_functions_and_webhook_outcomes(dev: Recording) -> None:
    dashboard = dev.one("aws:cloudwatch/dashboard:Dashboard").inputs
    assert dashboard["dashboardName"] == "dev-saas-billing-billing"
    body = json.loads(dashboard["dashboardBody"])
    text = json.dumps(body)
    for route in [r.inputs["routeKey"] for r in dev.of_type("aws:apigatewayv2/route:Route")]:
        assert f'"Route", "{route}"' in text, route
    for function in dev.of_type("aws:lambda/function:Function"):
        assert f'"FunctionName", "{function.inputs["name"]}"' in text
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert "Latency per route (ms)" in titles and "Webhook outcomes" in titles
    assert any('"p99"' in json.dumps(w) for w in body["widgets"])


# -- the custom domain --------------------------------------------------------------------


def test_a_domain_with_a_zone_gets_a_validated_certificate_and_alias_records() -> None:
    recording = run_program(dev_config(apiDomainName="api.dev.example.com", hostedZoneId=ZONE))
    certificate = recording.one("aws:acm/certificate:Certificate").inputs
    assert certificate == {**certificate, "domainName": "api.dev.example.com",
                           "validationMethod": "DNS"}  # fmt: skip
    recording.one("aws:acm/certificateValidation:CertificateValidation")
    domain = recording.one("aws:apigatewayv2/domainName:DomainName").inputs
    assert domain["domainNameConfiguration"]["securityPolicy"] == "TLS_1_2"
    assert domain["domainNameConfiguration"]["endpointType"] == "REGIONAL"
    assert domain["domainNameConfiguration"]["ipAddressType"] == "dualstack", "AAAA needs IPv6"
    mapping = recording.one("aws:apigatewayv2/apiMapping:ApiMapping").inputs
    assert mapping["apiId"] == recording.one("aws:apigatewayv2/api:Api").id
    records = {r.inputs["type"]: r.inputs for r in recording.of_type("aws:route53/record:Record")
               if r.inputs.get("aliases")}  # fmt: skip
    assert set(records) == {"A", "AAAA"}
    assert all(r["zoneId"] == ZONE and r["name"] == "api.dev.example.com" for r in records.values())


def test_urls_and_the_stripe_endpoint_use_the_domain() -> None:
    recording = run_program(dev_config(apiDomainName="api.dev.example.com", hostedZoneId=ZONE))
    assert recording.exports["apiUrl"] == "https://api.dev.example.com"
    assert recording.exports["webhookUrl"] == "https://api.dev.example.com/stripe/webhook"
    endpoint = recording.one("stripe:index/webhookEndpoint:WebhookEndpoint").inputs
    assert endpoint["url"] == "https://api.dev.example.com/stripe/webhook"


@pytest.mark.parametrize(
    "domain_config",
    [{"hostedZoneId": ZONE}, {"certificateArn": CERT_ARN}],
    ids=["validated-in-the-zone", "given-certificate"],
)
def test_stripe_is_sent_the_domain_only_once_it_answers(domain_config: dict[str, str]) -> None:
    """The endpoint waits for the mapping and the alias records (and so the certificate):
    sent at the start of the deploy, Stripe's deliveries would fail until DNS answers."""
    recording = run_program(dev_config(apiDomainName="api.dev.example.com", **domain_config))
    endpoint = recording.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    waits_for = {recording.by_urn(urn).type for urn in endpoint.dependencies}
    assert "aws:apigatewayv2/apiMapping:ApiMapping" in waits_for, endpoint.urn
    aliases = [r for r in recording.of_type("aws:route53/record:Record") if r.inputs.get("aliases")]
    assert {r.urn for r in aliases} <= set(endpoint.dependencies), endpoint.urn


def test_a_given_certificate_is_used_as_is() -> None:
    recording = run_program(dev_config(apiDomainName="api.example.com", certificateArn=CERT_ARN))
    assert recording.of_type("aws:acm/certificate:Certificate") == []
    assert recording.of_type("aws:route53/record:Record") == []
    domain = recording.one("aws:apigatewayv2/domainName:DomainName").inputs
    assert domain["domainNameConfiguration"]["certificateArn"] == CERT_ARN


def test_without_a_domain_nothing_of_it_is_declared(dev: Recording) -> None:
    assert dev.of_type("aws:apigatewayv2/domainName:DomainName") == []
    assert dev.exports["apiUrl"].endswith(".amazonaws.com")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"apiDomainName": "api.example.com"}, "apiDomainName needs saas-billing:hostedZoneId"),
        ({"hostedZoneId": ZONE}, "hostedZoneId is set but saas-billing:apiDomainName is not"),
        ({"certificateArn": CERT_ARN}, "certificateArn is set but saas-billing:apiDomainName"),
        ({"apiDomainName": "api.example.com", "hostedZoneId": "zone-1"}, "must be a Route 53 zone"),
        (
            {"apiDomainName": "api.example.com", "certificateArn": "arn:aws:iam::1:x"},
            "must be an ACM certificate ARN",
        ),
        ({"apiDomainName": "not a domain", "hostedZoneId": ZONE}, "must be a domain name"),
        ({"alarmEmail": "oncall"}, "alarmEmail must be an e-mail address"),
    ],
)
def test_half_given_options_are_settings_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        run_program(dev_config(**overrides))


def logging_of(recording: Recording) -> list[tuple[str, str]]:
    """(LOG_LEVEL, Lambda's application log level) of every function."""
    return [
        (
            f.inputs["environment"]["variables"]["LOG_LEVEL"],
            f.inputs["loggingConfig"]["applicationLogLevel"],
        )
        for f in recording.of_type("aws:lambda/function:Function")
    ]


def test_every_function_logs_json_at_one_level_its_code_and_lambda_agree_on(
    dev: Recording,
) -> None:
    assert logging_of(dev) and set(logging_of(dev)) == {("INFO", "INFO")}
    formats = {
        f.inputs["loggingConfig"]["logFormat"] for f in dev.of_type("aws:lambda/function:Function")
    }
    assert formats == {"JSON"}
    debugging = run_program(dev_config(logLevel="debug"))
    assert set(logging_of(debugging)) == {("DEBUG", "DEBUG")}
    assert set(logging_of(run_program(dev_config(logLevel="WARNING")))) == {("WARN", "WARN")}


@pytest.mark.parametrize("level", ["VERBOSE", "ERROR"])
def test_an_unknown_or_too_quiet_log_level_is_a_settings_error(level: str) -> None:
    with pytest.raises(SettingsError, match=r"saas-billing:logLevel must be one of DEBUG, INFO"):
        run_program(dev_config(logLevel=level))
