"""An EventBridge Scheduler schedule that invokes one function at a fixed rate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from billing.components.iam import assume_role_policy


@dataclass(frozen=True)
class RateScheduleArgs:
    """What to invoke, how often, and the names of the schedule and its role."""

    schedule_name: str
    role_name: str
    function_arn: pulumi.Input[str]
    function_name: pulumi.Input[str]
    every_minutes: int
    tags: Mapping[str, str]


def rate_expression(minutes: int) -> str:
    """Scheduler's rate syntax, which wants the singular for one."""
    return f"rate({minutes} {'minute' if minutes == 1 else 'minutes'})"


class RateSchedule(pulumi.ComponentResource):
    """The schedule and the role it assumes, allowed to invoke this one function and nothing else.

    A run runs once. Scheduler invokes the function asynchronously: its own retry policy
    (`maximum_retry_attempts=0`) covers only the hand-off to Lambda, and Lambda retries a failed
    asynchronous invocation twice by default. The function's event invoke configuration turns
    that off (0 retries) and drops an invocation older than one interval, so a failed run is
    retried by the next scheduled one, which resumes from its saved place, never three times.
    """

    def __init__(
        self, name: str, args: RateScheduleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:RateSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-invoke-role",
            name=args.role_name,
            assume_role_policy=assume_role_policy("scheduler.amazonaws.com"),
            tags=dict(args.tags),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-invoke-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "InvokeOneFunction",
                            "Effect": "Allow",
                            "Action": ["lambda:InvokeFunction"],
                            "Resource": [args.function_arn],
                        }
                    ],
                }
            ),
            opts=child,
        )
        aws.scheduler.Schedule(
            f"{name}-schedule",
            name=args.schedule_name,
            schedule_expression=rate_expression(args.every_minutes),
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=args.function_arn,
                role_arn=role.arn,
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=0),
            ),
            state="ENABLED",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async-invocations",
            function_name=args.function_name,
            qualifier="$LATEST",  # the schedule invokes the unqualified function
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=max_event_age_seconds(args.every_minutes),
            opts=child,
        )
        self.register_outputs({})


def max_event_age_seconds(every_minutes: int) -> int:
    """One interval, within what Lambda accepts (60 s to 6 h)."""
    return max(60, min(6 * 3600, every_minutes * 60))
