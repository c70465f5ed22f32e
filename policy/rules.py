"""The billing stack's CrossGuard rules: typed validators and the policies built from them.

Importable without starting anything (constructing `PolicyPack` starts a server, so only
`__main__.py` does that). Validators receive resource inputs as the engine sends them (camelCase,
secrets unwrapped), so the rules judge the shape of values, never a known secret.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

#: Values shaped like Stripe keys, webhook secrets or AWS access keys.
KEY_SHAPED = re.compile(
    r"\b(sk|rk)_(test|live)_[A-Za-z0-9]{8,}|\bwhsec_[A-Za-z0-9+/=]{8,}|\b(AKIA|ASIA)[0-9A-Z]{16}\b"
)
#: Environment variable names that suggest a secret value.
SECRET_LOOKING_NAME = re.compile(
    r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|WHSEC", re.IGNORECASE
)
#: The only secret-looking names a Lambda may have: the secret's ARN and cache settings.
ALLOWED_ENV_NAMES = re.compile(r"^(SECRET_ARN|SECRETS_CACHE_TTL_SECONDS|POWERTOOLS_[A-Z0-9_]+)$")

_IAM_POLICY_TYPES = {
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
}


def lambda_environment_has_no_secrets_validator(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A Lambda's environment holds no key-shaped value and no secret-looking variable name."""
    if args.resource_type != "aws:lambda/function:Function":
        return
    variables = (args.props.get("environment") or {}).get("variables") or {}
    for name, value in variables.items():
        if SECRET_LOOKING_NAME.search(name) and not ALLOWED_ENV_NAMES.match(name):
            report_violation(f"environment variable {name} looks like it holds a secret", None)
        if isinstance(value, str) and KEY_SHAPED.search(value):
            report_violation(f"environment variable {name} holds a key-shaped value", None)


def secret_keeps_a_recovery_window_validator(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A Secrets Manager secret keeps a recovery window (0 deletes it at once, for good)."""
    if args.resource_type != "aws:secretsmanager/secret:Secret":
        return
    window = args.props.get("recoveryWindowInDays")
    if window is not None and int(window) == 0:
        report_violation(
            "recoveryWindowInDays is 0: a deleted secret could never be restored", None
        )


def _statements(document: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return
    if not isinstance(document, Mapping):
        return
    statements = document.get("Statement") or []
    yield from [statements] if isinstance(statements, Mapping) else statements


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _grants_get_secret_value(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect", "Allow") != "Allow":
        return False
    if "NotAction" in statement:
        excluded = _as_list(statement["NotAction"])
        return not any(
            fnmatch.fnmatch("secretsmanager:getsecretvalue", a.lower()) for a in excluded
        )
    return any(
        fnmatch.fnmatch("secretsmanager:getsecretvalue", action.lower())
        for action in _as_list(statement.get("Action"))
    )


def secret_read_is_never_wildcard_validator(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """secretsmanager:GetSecretValue is granted only on exact secret ARNs, never a wildcard."""
    documents: list[Any] = []
    if args.resource_type in _IAM_POLICY_TYPES:
        documents.append(args.props.get("policy"))
    elif args.resource_type == "aws:iam/role:Role":
        documents += [inline.get("policy") for inline in args.props.get("inlinePolicies") or []]
    for document in documents:
        for statement in _statements(document):
            if not _grants_get_secret_value(statement):
                continue
            if "NotResource" in statement:
                report_violation("GetSecretValue granted through NotResource", None)
            for resource in _as_list(statement.get("Resource")):
                if "*" in resource or "?" in resource:
                    report_violation(f"GetSecretValue granted on a wildcard: {resource}", None)


def webhook_endpoint_is_pinned_validator(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A Stripe webhook endpoint uses https, an explicit event list and a pinned api_version."""
    if args.resource_type != "stripe:index/webhookEndpoint:WebhookEndpoint":
        return
    url = args.props.get("url")
    if not isinstance(url, str) or not url.startswith("https://"):
        report_violation("the webhook endpoint must use an https URL", None)
    events = args.props.get("enabledEvents") or []
    if not events or "*" in events:
        report_violation("the webhook endpoint must list its events explicitly (not *)", None)
    if not args.props.get("apiVersion"):
        report_violation("the webhook endpoint must pin api_version", None)


def table_has_point_in_time_recovery_validator(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """DynamoDB tables have point-in-time recovery."""
    if args.resource_type != "aws:dynamodb/table:Table":
        return
    recovery = args.props.get("pointInTimeRecovery") or {}
    if recovery.get("enabled") is not True:
        report_violation("point-in-time recovery must be enabled", None)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def stack_outputs_hold_no_keys_validator(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """No stack output holds a key-shaped value (validators see secrets unwrapped)."""
    for resource in args.resources:
        if resource.resource_type != "pulumi:pulumi:Stack":
            continue
        for name, value in resource.props.items():
            if any(KEY_SHAPED.search(text) for text in _strings(value)):
                report_violation(f"stack output {name} holds a key-shaped value", resource.urn)


def api_domain_uses_tls_1_2_validator(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A custom API domain refuses TLS below 1.2."""
    if args.resource_type != "aws:apigatewayv2/domainName:DomainName":
        return
    configuration = args.props.get("domainNameConfiguration") or {}
    if configuration.get("securityPolicy") != "TLS_1_2":
        report_violation("the API's domain name must use security policy TLS_1_2", None)


def every_function_has_an_errors_alarm_validator(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """Every Lambda function has an alarm on its Errors that notifies someone."""
    alarmed = {
        (resource.props.get("dimensions") or {}).get("FunctionName")
        for resource in args.resources
        if resource.resource_type == "aws:cloudwatch/metricAlarm:MetricAlarm"
        and resource.props.get("namespace") == "AWS/Lambda"
        and resource.props.get("metricName") == "Errors"
        and resource.props.get("alarmActions")
    }
    for resource in args.resources:
        if resource.resource_type != "aws:lambda/function:Function":
            continue
        name = resource.props.get("name")
        if name not in alarmed:
            report_violation(f"function {name} has no Errors alarm with an action", resource.urn)


def sqs_queue_is_encrypted_validator(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """An SQS queue is encrypted at rest: SQS-managed SSE, or a KMS key of its own."""
    if args.resource_type != "aws:sqs/queue:Queue":
        return
    if args.props.get("sqsManagedSseEnabled") is True or args.props.get("kmsMasterKeyId"):
        return
    report_violation("the queue must set sqsManagedSseEnabled or a kmsMasterKeyId", None)


def _redrives_to_a_dead_letter_queue(redrive_policy: Any) -> bool:
    if isinstance(redrive_policy, str):
        try:
            redrive_policy = json.loads(redrive_policy)
        except ValueError:
            return False
    if not isinstance(redrive_policy, Mapping):
        return False
    count = redrive_policy.get("maxReceiveCount")
    return bool(redrive_policy.get("deadLetterTargetArn")) and str(count or "").isdigit()


def event_source_queue_has_a_dead_letter_queue_validator(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """A queue of the stack a Lambda consumes (an event source mapping's `eventSourceArn`) has
    a redrive policy to a dead-letter queue: a message that keeps failing stops being retried
    and waits there, instead of retrying until its retention ends and vanishing."""
    consumed = {
        resource.props.get("eventSourceArn")
        for resource in args.resources
        if resource.resource_type == "aws:lambda/eventSourceMapping:EventSourceMapping"
    }
    for resource in args.resources:
        if resource.resource_type != "aws:sqs/queue:Queue":
            continue
        if resource.props.get("arn") not in consumed:
            continue
        if not _redrives_to_a_dead_letter_queue(resource.props.get("redrivePolicy")):
            name = resource.props.get("name")
            report_violation(
                f"queue {name} feeds a Lambda but has no redrive policy with "
                "deadLetterTargetArn and maxReceiveCount",
                resource.urn,
            )


RESOURCE_POLICIES = [
    ResourceValidationPolicy(
        name="lambda-environment-has-no-secrets",
        description="A Lambda's environment holds no key-shaped value or secret-looking name.",
        validate=lambda_environment_has_no_secrets_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="secret-keeps-a-recovery-window",
        description="A Secrets Manager secret never has a recovery window of 0.",
        validate=secret_keeps_a_recovery_window_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="secret-read-is-never-wildcard",
        description="secretsmanager:GetSecretValue is granted only on exact secret ARNs.",
        validate=secret_read_is_never_wildcard_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="webhook-endpoint-is-pinned",
        description="A Stripe webhook endpoint uses https, explicit events and a pinned version.",
        validate=webhook_endpoint_is_pinned_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="table-has-point-in-time-recovery",
        description="DynamoDB tables have point-in-time recovery enabled.",
        validate=table_has_point_in_time_recovery_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="api-domain-uses-tls-1-2",
        description="A custom API domain name uses the TLS 1.2 security policy.",
        validate=api_domain_uses_tls_1_2_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="sqs-queue-is-encrypted",
        description="Every SQS queue is encrypted at rest with SQS-managed SSE or a KMS key.",
        validate=sqs_queue_is_encrypted_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
STACK_POLICIES = [
    StackValidationPolicy(
        name="stack-outputs-hold-no-keys",
        description="No stack output holds a key-shaped value.",
        validate=stack_outputs_hold_no_keys_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="every-function-has-an-errors-alarm",
        description="Every Lambda function has an Errors alarm that notifies someone.",
        validate=every_function_has_an_errors_alarm_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="event-source-queue-has-a-dead-letter-queue",
        description="Every queue a Lambda consumes sends failed messages to a dead-letter queue.",
        validate=event_source_queue_has_a_dead_letter_queue_validator,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
