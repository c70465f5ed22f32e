"""Every physical name the program gives a resource, and the limits AWS and Stripe put on them.

The names are a contract (`{environment}-{project}-users`, ...), so a stack name that would make
one of them invalid is refused up front, with the limit it breaks, instead of failing halfway
through a real `pulumi up`. The limits, from each service's API reference:

- Lambda function name: 1-64 of `[A-Za-z0-9_-]` (CreateFunction `FunctionName`);
- Lambda layer name: 1-140 of `[A-Za-z0-9_-]` (PublishLayerVersion `LayerName`);
- IAM role name: 1-64 of `[A-Za-z0-9+=,.@_-]` (CreateRole `RoleName`);
- DynamoDB table name: 3-255 of `[A-Za-z0-9_.-]` (CreateTable `TableName`);
- Secrets Manager secret name: 1-512 of `[A-Za-z0-9/_+=.@-]` (CreateSecret `Name`);
- CloudWatch log group name: 1-512 of `[A-Za-z0-9_/.#-]` (CreateLogGroup `logGroupName`);
- API Gateway API name: 1-128 characters (CreateApi `Name`);
- EventBridge Scheduler schedule name: 1-64 of `[0-9a-zA-Z-_.]` (CreateSchedule `Name`);
- SQS queue name: 1-80 of `[A-Za-z0-9_-]` (CreateQueue `QueueName`);
- IAM managed policy name: 1-128 of `[A-Za-z0-9+=,.@_-]` (CreatePolicy `PolicyName`);
- Stripe price lookup key: at most 200 characters.

Pulumi itself allows `.` in stack names, which Lambda refuses; the program accepts the subset
every service takes: letters, digits, `-` and `_`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

#: What a stack or project name may contain so that every name below is valid.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class NameLimit:
    """One service's rule for a name."""

    service: str
    max_length: int
    pattern: re.Pattern[str]


_LAMBDA = NameLimit("Lambda function names", 64, re.compile(r"^[A-Za-z0-9_-]+$"))
_LAYER = NameLimit("Lambda layer names", 140, re.compile(r"^[A-Za-z0-9_-]+$"))
_ROLE = NameLimit("IAM role names", 64, re.compile(r"^[A-Za-z0-9+=,.@_-]+$"))
_TABLE = NameLimit("DynamoDB table names", 255, re.compile(r"^[A-Za-z0-9_.-]{3,}$"))
_SECRET = NameLimit("Secrets Manager secret names", 512, re.compile(r"^[A-Za-z0-9/_+=.@-]+$"))
_LOG_GROUP = NameLimit("CloudWatch log group names", 512, re.compile(r"^[A-Za-z0-9_/.#-]+$"))
_API = NameLimit("API Gateway API names", 128, re.compile(r"^.+$"))
_LOOKUP_KEY = NameLimit("Stripe lookup keys", 200, re.compile(r"^.+$"))
_QUEUE = NameLimit("SQS queue names", 80, re.compile(r"^[A-Za-z0-9_-]+$"))
_POLICY = NameLimit("IAM policy names", 128, re.compile(r"^[A-Za-z0-9+=,.@_-]+$"))
_SCHEDULE = NameLimit("EventBridge Scheduler schedule names", 64, re.compile(r"^[0-9a-zA-Z-_.]+$"))

#: Limits by field of `StackNames`; a field missing here is a test failure, not a silent pass.
LIMITS: dict[str, NameLimit] = {
    "secret": _SECRET,
    "users_table": _TABLE,
    "events_table": _TABLE,
    "members_table": _TABLE,
    "layer": _LAYER,
    "api": _API,
    "api_log_group": _LOG_GROUP,
    "subscription_function": _LAMBDA,
    "subscription_role": _ROLE,
    "subscription_log_group": _LOG_GROUP,
    "webhook_function": _LAMBDA,
    "webhook_role": _ROLE,
    "webhook_log_group": _LOG_GROUP,
    "reconcile_function": _LAMBDA,
    "reconcile_role": _ROLE,
    "reconcile_log_group": _LOG_GROUP,
    "reconcile_schedule": _SCHEDULE,
    "reconcile_invoke_role": _ROLE,
    "usage_function": _LAMBDA,
    "usage_role": _ROLE,
    "usage_log_group": _LOG_GROUP,
    "usage_queue": _QUEUE,
    "usage_dead_letter_queue": _QUEUE,
    "usage_producer_policy": _POLICY,
    "longest_lookup_key": _LOOKUP_KEY,
}


class InvalidNameError(ValueError):
    """A stack or project name would make a physical name invalid; the message says which."""


@dataclass(frozen=True)
class FunctionNames:
    """One function's name, and its role's and log group's."""

    function: str
    role: str
    log_group: str


@dataclass(frozen=True)
class StackNames:
    """The physical names of one stack's resources, all scoped by `{environment}-{project}`."""

    prefix: str
    secret: str
    users_table: str
    events_table: str
    members_table: str
    """Teams only: an organisation's members (declared when `organizationClaim` is set)."""
    layer: str
    api: str
    api_log_group: str
    subscription_function: str
    subscription_role: str
    subscription_log_group: str
    webhook_function: str
    webhook_role: str
    webhook_log_group: str
    reconcile_function: str
    reconcile_role: str
    reconcile_log_group: str
    reconcile_schedule: str
    reconcile_invoke_role: str
    """The role EventBridge Scheduler assumes to invoke the reconciliation."""
    usage_function: str
    usage_role: str
    usage_log_group: str
    usage_queue: str
    usage_dead_letter_queue: str
    usage_producer_policy: str
    """The managed policy a producer attaches: sqs:SendMessage on the usage queue alone."""
    longest_lookup_key: str
    """The longest Stripe lookup key a plan can have (a 24-character plan id, monthly)."""

    @classmethod
    def for_stack(cls, environment: str, project: str) -> StackNames:
        """Build every name, then check each against its service's limit."""
        for label, value in (("stack", environment), ("project", project)):
            if not SAFE_NAME.match(value):
                raise InvalidNameError(
                    f"the {label} name {value!r} may hold only letters, digits, '-' and '_' "
                    "(Lambda and layer names refuse anything else, '.' included)"
                )
        prefix = f"{environment}-{project}"
        subscription, webhook = f"{prefix}-subscription", f"{prefix}-stripe-webhook"
        reconcile, usage = f"{prefix}-reconcile", f"{prefix}-usage"
        names = cls(
            prefix=prefix,
            secret=f"{prefix}_secrets",
            users_table=f"{prefix}-users",
            events_table=f"{prefix}-stripe-events",
            members_table=f"{prefix}-members",
            layer=f"{prefix}-shared",
            api=f"{prefix}-api",
            api_log_group=f"/aws/apigateway/{prefix}-api",
            subscription_function=subscription,
            subscription_role=f"{subscription}-role",
            subscription_log_group=f"/aws/lambda/{subscription}",
            webhook_function=webhook,
            webhook_role=f"{webhook}-role",
            webhook_log_group=f"/aws/lambda/{webhook}",
            reconcile_function=reconcile,
            reconcile_role=f"{reconcile}-role",
            reconcile_log_group=f"/aws/lambda/{reconcile}",
            reconcile_schedule=reconcile,
            reconcile_invoke_role=f"{reconcile}-invoke",
            usage_function=usage,
            usage_role=f"{usage}-role",
            usage_log_group=f"/aws/lambda/{usage}",
            usage_queue=usage,
            usage_dead_letter_queue=f"{usage}-dlq",
            usage_producer_policy=f"{usage}-producer",
            longest_lookup_key=f"{prefix}-{'p' * 24}-monthly",
        )
        names._check(environment)
        return names

    def _check(self, environment: str) -> None:
        """Refuse a stack name that makes any name too long, naming the tightest limit."""
        checked = [
            (item.name, getattr(self, item.name), LIMITS[item.name])
            for item in fields(self)
            if item.name != "prefix"
        ]
        # Every name holds the stack name once, so each limit caps the stack name's length.
        _, value, limit = min(
            checked, key=lambda entry: entry[2].max_length - len(entry[1]) + len(environment)
        )
        allowed = limit.max_length - len(value) + len(environment)
        if len(environment) > allowed:
            raise InvalidNameError(
                f"the stack name {environment!r} is too long: it makes {value!r} "
                f"{len(value)} characters, over the {limit.max_length}-character limit of "
                f"{limit.service}; use a stack name of at most {max(allowed, 0)} characters"
            )
        for _, value, limit in checked:
            if not limit.pattern.match(value):
                raise InvalidNameError(f"{value!r} is not a valid name for {limit.service}")

    @property
    def subscription(self) -> FunctionNames:
        return FunctionNames(
            self.subscription_function, self.subscription_role, self.subscription_log_group
        )

    @property
    def webhook(self) -> FunctionNames:
        return FunctionNames(self.webhook_function, self.webhook_role, self.webhook_log_group)

    @property
    def reconcile(self) -> FunctionNames:
        return FunctionNames(self.reconcile_function, self.reconcile_role, self.reconcile_log_group)

    @property
    def usage(self) -> FunctionNames:
        return FunctionNames(self.usage_function, self.usage_role, self.usage_log_group)

    def all(self) -> dict[str, str]:
        """Field name → physical name, for tests and the plan."""
        return {item.name: getattr(self, item.name) for item in fields(self)}
