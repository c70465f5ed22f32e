"""`make plan STACK=<stack>`: what `pulumi up` would create, computed offline under Pulumi's mocks.

Reads Pulumi.yaml's declared defaults and Pulumi.<stack>.yaml, stands in placeholders for the
secrets (which are never committed, so never known here), runs the program and prints the
resource tree, the secret document's keys, each function's environment, each IAM statement and
the routes, then the policy pack's verdicts on the same resources. No AWS account, Stripe key,
Pulumi CLI or network is needed. Exit status 1 on a mandatory policy violation, 2 on a settings
error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from billing.config import SettingsError
from tools import policy_check
from tools.mock_engine import (
    Recording,
    Registration,
    fake_stripe_key,
    run_program,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

_SECRET = "[secret]"
# Properties a reviewer cares about, per resource type (everything else is left out).
_SHOWN = {
    "stripe:index/product:Product": ("name",),
    "stripe:index/price:Price": ("unitAmount", "currency", "recurring", "lookupKey", "taxBehavior"),
    "stripe:index/webhookEndpoint:WebhookEndpoint": ("url", "enabledEvents", "apiVersion"),
    "aws:secretsmanager/secret:Secret": ("name", "recoveryWindowInDays", "kmsKeyId"),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretString",),
    "aws:dynamodb/table:Table": (
        "name",
        "billingMode",
        "pointInTimeRecovery",
        "ttl",
        "deletionProtectionEnabled",
    ),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint"),
    "aws:lambda/layerVersion:LayerVersion": ("layerName", "compatibleRuntimes", "sourceCodeHash"),
    "aws:lambda/function:Function": ("name", "runtime", "architectures", "timeout"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:apigatewayv2/api:Api": ("name", "corsConfiguration"),
    "aws:apigatewayv2/stage:Stage": ("name", "defaultRouteSettings"),
    "aws:apigatewayv2/authorizer:Authorizer": ("authorizerType", "jwtConfiguration"),
    "aws:iam/role:Role": ("name",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "metricName", "threshold", "period"),
    "aws:sns/topic:Topic": ("name",),
    "aws:scheduler/schedule:Schedule": ("name", "scheduleExpression"),
    "aws:apigatewayv2/domainName:DomainName": ("domainName", "domainNameConfiguration"),
}


def _load_yaml(path: Path) -> Any:
    """A YAML file, or a one-line SettingsError naming the file, line and column of a mistake."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        raise SettingsError(f"{where}: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"{path.name}: not valid YAML ({type(error).__name__})") from None


def stack_config(stack: str, repo_root: Path = REPO_ROOT) -> tuple[dict[str, Any], set[str]]:
    """The stack's config as `pulumi up` would see it, and which keys the engine marks secret.

    A `secure:` value, at the top or nested (`pulumi config set --secret --path 'k.name'`),
    stands in as a placeholder and makes its top-level key secret, as the CLI does. A key the
    stack file holds in plain text stays plain, so the program refuses it here as it would in
    a real deploy. Only a required key the file lacks gets a placeholder secret.
    """
    project_file = _load_yaml(repo_root / "Pulumi.yaml")
    project = project_file["name"]
    stack_file = repo_root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise SettingsError(f"no Pulumi.{stack}.yaml in {repo_root}")
    config: dict[str, Any] = {
        f"{project}:{key}": spec["default"]
        for key, spec in (project_file.get("config") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    config.update((_load_yaml(stack_file) or {}).get("config") or {})
    secret_keys: set[str] = set()
    for key, value in list(config.items()):
        config[key], secure = _placeholders_for_secure(value)
        if secure:
            secret_keys.add(key)
    mode = "live" if config.get(f"{project}:production") is True else "test"
    keys = {
        "stripe:apiKey": fake_stripe_key("sk", mode, "PLACEHOLDER"),
        f"{project}:stripeRuntimeKey": fake_stripe_key("rk", mode, "PLACEHOLDER"),
        f"{project}:stripePublishableKey": fake_stripe_key("pk", mode, "PLACEHOLDER"),
    }
    for key, fake in keys.items():
        if key in secret_keys and config[key] == _PLACEHOLDER:
            config[key] = fake  # an encrypted key: a placeholder of the right shape
    for key in ("stripe:apiKey", f"{project}:stripePublishableKey"):  # required, maybe unset
        if key not in config:
            config[key] = keys[key]
            if key == "stripe:apiKey":
                secret_keys.add(key)
    return config, secret_keys


_PLACEHOLDER = "placeholder"


def _placeholders_for_secure(value: Any) -> tuple[Any, bool]:
    """`value` with every `{"secure": ...}` replaced by a placeholder, and whether any was."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return _PLACEHOLDER, True
        found = False
        replaced: dict[str, Any] = {}
        for key, item in value.items():
            replaced[key], secure = _placeholders_for_secure(item)
            found = found or secure
        return replaced, found
    if isinstance(value, list):
        pairs = [_placeholders_for_secure(item) for item in value]
        return [item for item, _ in pairs], any(secure for _, secure in pairs)
    return value, False


def render(recording: Recording) -> str:
    """The plan as text: the resource tree, document keys, environments, IAM and routes."""
    lines = ["Resources:"]
    # Registrations arrive in whatever order outputs resolve; sorting by name keeps the plan
    # byte-for-byte the same from run to run.
    resources = sorted(recording.resources, key=lambda resource: (resource.name, resource.type))
    children: dict[str, list[Registration]] = {}
    for resource in resources:
        children.setdefault(resource.parent, []).append(resource)
    known = {resource.urn for resource in recording.resources}
    roots = [r for r in resources if r.parent not in known]

    def show(resource: Registration, depth: int) -> None:
        indent = "  " * depth
        if resource.type.startswith("billing:"):
            lines.append(f"{indent}{resource.type.split(':')[-1]} {resource.name}")
        else:
            lines.append(f"{indent}{resource.type} {resource.name}")
            for prop in _SHOWN.get(resource.type, ()):
                if prop in resource.inputs:
                    shown = _SECRET if prop in resource.secret_inputs else resource.inputs[prop]
                    lines.append(f"{indent}    {prop}: {json.dumps(shown, sort_keys=True)}")
            if resource.replace_on_changes:
                changed = ", ".join(resource.replace_on_changes)
                lines.append(f"{indent}    a change of {changed} replaces it")
            if resource.retain_on_delete:
                lines.append(f"{indent}    kept (not deleted) when removed from the program")
        for child in children.get(resource.urn, []):
            show(child, depth + 1)

    for root in roots:
        show(root, 1)
    version = recording.one("aws:secretsmanager/secretVersion:SecretVersion")
    lines += ["", "Catalog (what the pricing page and Checkout offer):"]
    lines += _catalog_lines(json.loads(version.inputs["secretString"])["stripe_catalog"])
    lines += ["", "Secret document keys (values are secrets, never shown):"]
    lines += [f"  {key}" for key in sorted(json.loads(version.inputs["secretString"]))]
    lines += ["", "Lambda environments:"]
    for function in _by_name(recording, "aws:lambda/function:Function"):
        lines.append(f"  {function.inputs['name']}")
        for key, value in sorted(function.inputs["environment"]["variables"].items()):
            lines.append(f"    {key}={value}")
    lines += ["", "IAM statements:"]
    for policy in _by_name(recording, "aws:iam/rolePolicy:RolePolicy"):
        lines.append(f"  {policy.name}")
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            lines.append(
                f"    {', '.join(statement['Action'])} on {', '.join(statement['Resource'])}"
            )
    lines += ["", "Routes:"]
    for route in _by_name(recording, "aws:apigatewayv2/route:Route"):
        auth = "JWT required" if route.inputs.get("authorizationType") == "JWT" else "no JWT"
        lines.append(f"  {route.inputs['routeKey']:<32} {auth}")
    lines += ["", "Exports:"]
    lines += [f"  {key}: {value}" for key, value in sorted(recording.exports.items())]
    return "\n".join(lines)


def _catalog_lines(catalog: dict[str, Any]) -> list[str]:
    """Each plan with its prices, trial and features (the catalog is public, never secret)."""
    lines = []
    for plan in catalog["plans"]:
        prices = ", ".join(
            f"{interval} {price['amount']} {catalog['currency']}"
            for interval, price in plan["prices"].items()
        )
        trial = f"{plan['trialDays']}-day trial" if plan.get("trialDays") else "no trial"
        features = ", ".join(plan.get("features") or []) or "no features"
        lines.append(f"  {plan['id']} ({plan['name']}): {prices}; {trial}; {features}")
    return lines


def _by_name(recording: Recording, type_: str) -> list[Registration]:
    return sorted(recording.of_type(type_), key=lambda resource: resource.name)


def render_policies(recording: Recording) -> tuple[str, bool]:
    """The policy pack's verdicts on the same resources, and whether all passed."""
    names, violations = policy_check.check(recording)
    lines = ["", "Policy pack (mandatory):"]
    for name in names:
        failed = [v for v in violations if v.policy == name]
        lines.append(f"  {'FAIL' if failed else 'pass'}  {name}")
        lines += [f"          {v.urn}: {v.message}" for v in failed]
    return "\n".join(lines), not violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--repo-root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        config, secret_keys = stack_config(args.stack, args.repo_root)
        recording = run_program(config, stack=args.stack, secret_keys=tuple(sorted(secret_keys)))
    except SettingsError as error:
        print(f"settings error: {error}", file=sys.stderr)
        return 2
    print(f"Plan for stack '{args.stack}' (offline, under Pulumi mocks; secrets are placeholders)")
    print(render(recording))
    verdicts, passed = render_policies(recording)
    print(verdicts)
    if not passed:
        print("policy violations: `pulumi up` would be refused", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
