"""Every CrossGuard validator on compliant, non-compliant and missing-property input."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import rules
from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from tools.policy_check import _options

FUNCTION = "aws:lambda/function:Function"
SECRET = "aws:secretsmanager/secret:Secret"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ENDPOINT = "stripe:index/webhookEndpoint:WebhookEndpoint"
TABLE = "aws:dynamodb/table:Table"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev-saas-billing_secrets-AbCdEf"


def violations(
    validator: Callable[..., None], resource_type: str, props: dict[str, Any]
) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, "urn:test", "test", _options(), None)
    validator(args, lambda message, urn: found.append(message))
    return found


def env(**variables: str) -> dict[str, Any]:
    return {"environment": {"variables": variables}}


def iam(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


# -- lambda-environment-has-no-secrets ---------------------------------------------------

V_ENV = rules.lambda_environment_has_no_secrets_validator


def test_env_compliant() -> None:
    props = env(SECRET_ARN=SECRET_ARN, SECRETS_CACHE_TTL_SECONDS="300",
                POWERTOOLS_SERVICE_NAME="billing", USERS_TABLE="dev-users")  # fmt: skip
    assert violations(V_ENV, FUNCTION, props) == []


@pytest.mark.parametrize(
    "variables",
    [
        {"STRIPE_SECRET_KEY": "anything"},
        {"WEBHOOK_TOKEN": "x"},
        {"CONFIG": "sk_test_" + "FAKE" * 4},
        {"HOOK": "whsec_" + "FAKE" * 4},
        {"AWS_ID": "AKIA" + "FAKEFAKEFAKEFAKE"},
    ],
)
def test_env_non_compliant(variables: dict[str, str]) -> None:
    assert violations(V_ENV, FUNCTION, env(**variables))


def test_env_missing_property_and_other_types() -> None:
    assert violations(V_ENV, FUNCTION, {}) == []
    assert violations(V_ENV, FUNCTION, {"environment": None}) == []
    assert violations(V_ENV, TABLE, env(STRIPE_SECRET_KEY="x")) == []


# -- secret-keeps-a-recovery-window ------------------------------------------------------

V_WINDOW = rules.secret_keeps_a_recovery_window_validator


def test_recovery_window() -> None:
    assert violations(V_WINDOW, SECRET, {"recoveryWindowInDays": 7}) == []
    assert violations(V_WINDOW, SECRET, {"recoveryWindowInDays": 0})
    assert violations(V_WINDOW, SECRET, {}) == [], "AWS's default window is 30 days"


# -- secret-read-is-never-wildcard -------------------------------------------------------

V_READ = rules.secret_read_is_never_wildcard_validator


def test_secret_read_compliant() -> None:
    exact = {
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": [SECRET_ARN],
    }
    unrelated = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}
    denied = {"Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*"}
    assert violations(V_READ, ROLE_POLICY, iam(exact, unrelated, denied)) == []


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        {"Effect": "Allow", "Action": ["secretsmanager:*"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": SECRET_ARN[:-6] + "*"},
        {
            "Effect": "Allow",
            "Action": "SecretsManager:GetSecretValue",
            "Resource": SECRET_ARN[:-6] + "??????",
        },
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "NotResource": SECRET_ARN},
    ],
)
def test_secret_read_non_compliant(statement: dict[str, Any]) -> None:
    assert violations(V_READ, ROLE_POLICY, iam(statement))
    assert violations(V_READ, "aws:iam/policy:Policy", iam(statement))


def test_secret_read_through_a_role_inline_policy() -> None:
    wildcard = iam({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert violations(V_READ, "aws:iam/role:Role", {"inlinePolicies": [wildcard]})


def test_secret_read_missing_property() -> None:
    assert violations(V_READ, ROLE_POLICY, {}) == []
    assert violations(V_READ, ROLE_POLICY, {"policy": "not json"}) == []
    assert violations(V_READ, "aws:iam/role:Role", {}) == []


# -- webhook-endpoint-is-pinned ----------------------------------------------------------

V_ENDPOINT = rules.webhook_endpoint_is_pinned_validator
GOOD_ENDPOINT = {
    "url": "https://abc.execute-api.us-east-1.amazonaws.com/stripe/webhook",
    "enabledEvents": ["checkout.session.completed"],
    "apiVersion": "2026-10-28.endive",
}


def test_endpoint_compliant() -> None:
    assert violations(V_ENDPOINT, ENDPOINT, GOOD_ENDPOINT) == []


@pytest.mark.parametrize(
    "change",
    [
        {"url": "http://abc.example.com/stripe/webhook"},
        {"enabledEvents": ["*"]},
        {"enabledEvents": []},
        {"apiVersion": ""},
    ],
)
def test_endpoint_non_compliant(change: dict[str, Any]) -> None:
    assert violations(V_ENDPOINT, ENDPOINT, {**GOOD_ENDPOINT, **change})


def test_endpoint_missing_properties() -> None:
    assert len(violations(V_ENDPOINT, ENDPOINT, {})) == 3


# -- table-has-point-in-time-recovery ----------------------------------------------------

V_PITR = rules.table_has_point_in_time_recovery_validator


def test_pitr() -> None:
    assert violations(V_PITR, TABLE, {"pointInTimeRecovery": {"enabled": True}}) == []
    assert violations(V_PITR, TABLE, {"pointInTimeRecovery": {"enabled": False}})
    assert violations(V_PITR, TABLE, {})


# -- stack-outputs-hold-no-keys ----------------------------------------------------------


def stack_violations(outputs: dict[str, Any]) -> list[str]:
    found: list[str] = []
    stack = PolicyResource("pulumi:pulumi:Stack", outputs, "urn:stack", "stack", _options(),
                           None, None, [], {})  # fmt: skip
    rules.stack_outputs_hold_no_keys_validator(
        StackValidationArgs([stack]), lambda message, urn: found.append(message)
    )
    return found


def test_stack_outputs() -> None:
    assert stack_violations({"apiUrl": "https://x", "secretArn": SECRET_ARN}) == []
    assert stack_violations({"leak": "rk_live_" + "FAKE" * 4})
    assert stack_violations({"nested": {"list": ["whsec_" + "FAKE" * 4]}})
    assert stack_violations({}) == []


def test_every_policy_is_named_in_kebab_case_with_one_sentence() -> None:
    for policy in [*rules.RESOURCE_POLICIES, *rules.STACK_POLICIES]:
        assert policy.name == policy.name.lower() and " " not in policy.name
        assert policy.description.endswith(".") and policy.description.count(". ") == 0


# -- api-domain-uses-tls-1-2 -------------------------------------------------------------

DOMAIN = "aws:apigatewayv2/domainName:DomainName"


def test_domain_tls() -> None:
    check = rules.api_domain_uses_tls_1_2_validator
    good = {"domainNameConfiguration": {"securityPolicy": "TLS_1_2", "endpointType": "REGIONAL"}}
    assert violations(check, DOMAIN, good) == []
    assert violations(check, DOMAIN, {"domainNameConfiguration": {"securityPolicy": "TLS_1_0"}})
    assert violations(check, DOMAIN, {}), "a missing policy is API Gateway's TLS 1.0 default"
    assert violations(check, TABLE, {}) == []


# -- every-function-has-an-errors-alarm ----------------------------------------------------


def resource(type_: str, props: dict[str, Any]) -> PolicyResource:
    return PolicyResource(type_, props, f"urn:{type_}", "test", _options(), None, None, [], {})


def alarm_violations(*resources: PolicyResource) -> list[str]:
    found: list[str] = []
    rules.every_function_has_an_errors_alarm_validator(
        StackValidationArgs(list(resources)), lambda message, urn: found.append(message)
    )
    return found


def test_every_function_needs_an_errors_alarm_that_notifies() -> None:
    function = resource(FUNCTION, {"name": "dev-saas-billing-subscription"})
    alarm = {
        "namespace": "AWS/Lambda",
        "metricName": "Errors",
        "dimensions": {"FunctionName": "dev-saas-billing-subscription"},
        "alarmActions": ["arn:aws:sns:us-east-1:123456789012:alarms"],
    }
    alarm_type = "aws:cloudwatch/metricAlarm:MetricAlarm"
    assert alarm_violations(function, resource(alarm_type, alarm)) == []
    assert alarm_violations(function), "no alarm at all"
    assert alarm_violations(function, resource(alarm_type, {**alarm, "alarmActions": []}))
    assert alarm_violations(function, resource(alarm_type, {**alarm, "metricName": "Throttles"}))
    other = {**alarm, "dimensions": {"FunctionName": "another"}}
    assert alarm_violations(function, resource(alarm_type, other))
    assert alarm_violations() == []


# -- sqs-queue-is-encrypted ----------------------------------------------------------------

QUEUE = "aws:sqs/queue:Queue"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"


def test_queue_encryption() -> None:
    check = rules.sqs_queue_is_encrypted_validator
    assert violations(check, QUEUE, {"sqsManagedSseEnabled": True}) == []
    assert violations(check, QUEUE, {"kmsMasterKeyId": KMS_KEY}) == []
    assert (
        violations(check, QUEUE, {"sqsManagedSseEnabled": False, "kmsMasterKeyId": "alias/x"}) == []
    )
    assert violations(check, QUEUE, {"sqsManagedSseEnabled": False})
    assert violations(check, QUEUE, {"sqsManagedSseEnabled": False, "kmsMasterKeyId": ""})
    assert violations(check, QUEUE, {}), "encryption is declared, not left to a default"
    assert violations(check, TABLE, {}) == []


# -- event-source-queue-has-a-dead-letter-queue --------------------------------------------

MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:dev-saas-billing-usage"
DLQ_ARN = QUEUE_ARN + "-dlq"
REDRIVE = {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5}


def redrive_violations(*resources: PolicyResource) -> list[str]:
    found: list[str] = []
    rules.event_source_queue_has_a_dead_letter_queue_validator(
        StackValidationArgs(list(resources)), lambda message, urn: found.append(message)
    )
    return found


def consumed_queue(**props: Any) -> list[PolicyResource]:
    queue = {"name": "dev-saas-billing-usage", "arn": QUEUE_ARN, **props}
    return [resource(QUEUE, queue), resource(MAPPING, {"eventSourceArn": QUEUE_ARN})]


def test_a_consumed_queue_with_a_dead_letter_queue_is_compliant() -> None:
    dead_letters = resource(QUEUE, {"name": "dev-saas-billing-usage-dlq", "arn": DLQ_ARN})
    assert (
        redrive_violations(*consumed_queue(redrivePolicy=json.dumps(REDRIVE)), dead_letters) == []
    )
    assert redrive_violations(*consumed_queue(redrivePolicy=REDRIVE)) == [], "a mapping too"


@pytest.mark.parametrize(
    "redrive",
    [
        None,
        "",
        "not json",
        json.dumps({"maxReceiveCount": 5}),
        json.dumps({"deadLetterTargetArn": DLQ_ARN}),
        json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 0}),
        json.dumps({"deadLetterTargetArn": "", "maxReceiveCount": 5}),
    ],
)
def test_a_consumed_queue_without_a_dead_letter_queue_is_not(redrive: str | None) -> None:
    found = redrive_violations(*consumed_queue(redrivePolicy=redrive))
    assert found == [
        "queue dev-saas-billing-usage feeds a Lambda but has no redrive policy with "
        "deadLetterTargetArn and maxReceiveCount"
    ]


def test_only_queues_a_lambda_consumes_need_a_dead_letter_queue() -> None:
    queue, _ = consumed_queue()
    assert redrive_violations(queue) == [], "no event source reads it (a dead-letter queue)"
    stream = resource(MAPPING, {"eventSourceArn": "arn:aws:kinesis:us-east-1:1:stream/s"})
    assert redrive_violations(queue, stream) == [], "the mapping reads something else"
    assert redrive_violations(resource(MAPPING, {})) == []
    assert redrive_violations() == []


def test_the_programs_usage_queue_is_what_the_rule_checks() -> None:
    """Run on the program (tools.policy_check, as `make plan`): its queues pass, and the usage
    queue without its redrive policy fails, so the rule really finds the Lambda's queue."""
    from tools import policy_check
    from tools.mock_engine import base_config, run_program

    recording = run_program(base_config("dev"))
    assert policy_check.check(recording)[1] == []
    queue = next(q for q in recording.of_type(QUEUE) if "redrivePolicy" in q.inputs)
    del queue.inputs["redrivePolicy"]
    queue.outputs.pop("redrivePolicy", None)
    found = policy_check.check(recording)[1]
    assert [(v.policy, v.urn) for v in found] == [
        ("event-source-queue-has-a-dead-letter-queue", queue.urn)
    ]
