"""The reconciliation as declared: its function, least-privilege roles, log group and schedule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from billing.config import SettingsError
from tools.mock_engine import PROJECT, Recording, base_config, run_program


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program(base_config("dev"))


def statements(recording: Recording, name: str) -> list[dict[str, Any]]:
    policy = recording.one("aws:iam/rolePolicy:RolePolicy", name)
    return json.loads(policy.inputs["policy"])["Statement"]


def test_the_function_has_its_own_log_group_and_exported_name(dev: Recording) -> None:
    function = dev.one("aws:lambda/function:Function", "reconcile-function")
    assert function.inputs["name"] == "dev-saas-billing-reconcile"
    assert function.inputs["loggingConfig"]["logGroup"] == "/aws/lambda/dev-saas-billing-reconcile"
    assert dev.one("aws:cloudwatch/logGroup:LogGroup", "reconcile-logs").inputs["name"] == (
        "/aws/lambda/dev-saas-billing-reconcile"
    )
    assert dev.exports["reconcileFunctionName"] == "dev-saas-billing-reconcile"
    assert function.inputs["environment"]["variables"]["EVENTS_TABLE"]


def test_its_role_reaches_only_this_stacks_secret_and_tables(dev: Recording) -> None:
    granted = {
        (action, resource)
        for statement in statements(dev, "reconcile-policy")
        for action in statement["Action"]
        for resource in statement["Resource"]
    }
    assert all("*" not in action for action, _ in granted)
    resources = {resource for _, resource in granted}
    assert all(
        r.startswith(("arn:aws:secretsmanager:", "arn:aws:dynamodb:", "arn:aws:logs:"))
        for r in resources
    )
    tables = {r.split(":table/")[1] for r in resources if ":table/" in r}
    assert tables == {
        "dev-saas-billing-users",
        "dev-saas-billing-users/index/stripeCustomerId-index",
        "dev-saas-billing-stripe-events",
    }
    assert not any(a.startswith("lambda:") for a, _ in granted)


def test_the_schedule_invokes_it_hourly_by_default_through_a_role_that_can_do_nothing_else(
    dev: Recording,
) -> None:
    schedule = dev.one("aws:scheduler/schedule:Schedule")
    function = dev.one("aws:lambda/function:Function", "reconcile-function")
    assert schedule.inputs["name"] == "dev-saas-billing-reconcile"
    assert schedule.inputs["scheduleExpression"] == "rate(60 minutes)"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule.inputs["target"]["arn"] == function.outputs["arn"]
    role = dev.one("aws:iam/role:Role", "reconcile-invoke-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert schedule.inputs["target"]["roleArn"] == role.outputs["arn"]
    assert statements(dev, "reconcile-invoke-policy") == [
        {
            "Sid": "InvokeOneFunction",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [function.outputs["arn"]],
        }
    ]


def test_a_failed_run_runs_once_lambda_does_not_retry_it(dev: Recording) -> None:
    """Scheduler's retry policy covers only the hand-off; Lambda's async retries are turned off."""
    config = dev.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    function = dev.one("aws:lambda/function:Function", "reconcile-function")
    assert config["functionName"] == function.outputs["name"]
    assert config["qualifier"] == "$LATEST"
    assert config["maximumRetryAttempts"] == 0
    assert config["maximumEventAgeInSeconds"] == 3600, "one hourly interval"


@pytest.mark.parametrize(
    ("minutes", "expression"), [(5, "rate(5 minutes)"), (1440, "rate(1440 minutes)")]
)
def test_the_interval_is_configurable(minutes: int, expression: str) -> None:
    recording = run_program(base_config("dev", **{f"{PROJECT}:reconcileIntervalMinutes": minutes}))
    assert (
        recording.one("aws:scheduler/schedule:Schedule").inputs["scheduleExpression"] == expression
    )


@pytest.mark.parametrize("minutes", [0, 4, 1441])
def test_an_interval_out_of_range_is_a_settings_error(minutes: int) -> None:
    with pytest.raises(SettingsError, match="reconcileIntervalMinutes must be between 5 and 1440"):
        run_program(base_config("dev", **{f"{PROJECT}:reconcileIntervalMinutes": minutes}))
