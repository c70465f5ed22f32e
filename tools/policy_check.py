"""Run the policy pack's validators over what the program declared, without the Pulumi engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from rules import RESOURCE_POLICIES, STACK_POLICIES

from tools.mock_engine import Recording


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    message: str


def _options(parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent,
    )


def check(recording: Recording) -> tuple[list[str], list[Violation]]:
    """(policy names run, violations) for every resource and the stack's outputs."""
    violations: list[Violation] = []

    def reporter(policy: str, default_urn: str) -> Callable[[str, str | None], None]:
        def report(message: str, urn: str | None) -> None:
            violations.append(Violation(policy, urn or default_urn, message))

        return report

    for resource in recording.resources:
        args = ResourceValidationArgs(
            resource.type, resource.inputs, resource.urn, resource.name, _options(), None
        )
        for policy in RESOURCE_POLICIES:
            policy.validate(args, reporter(policy.name, resource.urn))
    stack_urn = "urn:pulumi:stack::project::pulumi:pulumi:Stack::stack"
    stack = PolicyResource(
        "pulumi:pulumi:Stack", recording.exports, stack_urn, "stack", _options(), None, None, [], {}
    )
    # A stack policy sees each resource's outputs, which hold its inputs and what the provider
    # assigned (an ARN, say): the recorded outputs over the inputs, as the engine would send.
    resources = [
        PolicyResource(
            r.type, {**r.inputs, **r.outputs}, r.urn, r.name, _options(), None, None, [], {}
        )
        for r in recording.resources
    ]
    for stack_policy in STACK_POLICIES:
        stack_policy.validate(
            StackValidationArgs([stack, *resources]), reporter(stack_policy.name, stack_urn)
        )
    names = [p.name for p in RESOURCE_POLICIES] + [p.name for p in STACK_POLICIES]
    return names, violations
