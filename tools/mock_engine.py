"""Run the whole Pulumi program (infra/__main__.py) under Pulumi's mocks; record what it declares.

The recording monitor sees each registration as the engine would: the resource's inputs, which
of them arrive marked secret, its options (dependencies, replace-on-changes, retain-on-delete)
and the stack's exports. Mock outputs are realistic (ARNs, endpoints, Stripe ids), and outputs
named in `additionalSecretOutputs` come back as secrets, as the real engine returns them. Any
resource constructed inside an `apply` callback is recorded too (a preview could not show it).
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import empty_pb2, json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2

REPO_ROOT = Path(__file__).resolve().parents[1]
PROGRAM = REPO_ROOT / "infra" / "__main__.py"
PROJECT = "saas-billing"
ACCOUNT = "123456789012"
REGION = "us-east-1"
_SECRET_SIG = rpc._special_sig_key
_SECRET_VALUE = rpc._special_secret_sig


def fake_stripe_key(kind: str = "sk", mode: str = "test", tag: str = "FAKE") -> str:
    """A visibly fake key built at run time, never a committed key-shaped literal."""
    return f"{kind}_{mode}_" + tag * (24 // len(tag))


#: The frontend origin test stacks use: not an example domain, which production refuses.
FRONTEND_ORIGIN = "https://app.acme-billing.test"


def base_config(stack: str = "dev", **overrides: Any) -> dict[str, Any]:
    """Config for one stack: plain values as Pulumi.<stack>.yaml would hold them, plus secrets."""
    production = stack == "prod"
    mode = "live" if production else "test"
    config: dict[str, Any] = {
        f"{PROJECT}:production": production,
        f"{PROJECT}:frontendDomain": FRONTEND_ORIGIN,
        f"{PROJECT}:jwtIssuer": "https://auth.example.com/",
        f"{PROJECT}:jwtAudience": ["billing-api"],
        f"{PROJECT}:stripePublishableKey": fake_stripe_key("pk", mode),
        "stripe:apiKey": fake_stripe_key("sk", mode),
        "aws:region": REGION,
    }
    config.update(overrides)
    return config


def dev_config(**project_overrides: Any) -> dict[str, Any]:
    """The dev stack's config with `<project>:<key>` values set or replaced."""
    return base_config("dev", **{f"{PROJECT}:{key}": v for key, v in project_overrides.items()})


DEFAULT_SECRET_KEYS = ("stripe:apiKey", f"{PROJECT}:stripeRuntimeKey", f"{PROJECT}:appSecrets")


@dataclass
class Registration:
    """One resource as the engine saw it."""

    urn: str
    id: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    secret_inputs: set[str]
    dependencies: list[str]
    replace_on_changes: list[str]
    retain_on_delete: bool
    additional_secret_outputs: list[str]
    hooks: dict[str, list[str]] = field(default_factory=dict)
    """Resource hook names by kind (`before_delete`, ...), as the engine would run them."""


@dataclass
class Recording:
    """Everything one program run declared."""

    resources: list[Registration] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)
    hooks: set[str] = field(default_factory=set)
    """Names of the resource hooks the program registered with the engine."""
    created_in_apply: list[str] = field(default_factory=list)
    """Resources constructed inside an `apply` callback (a preview cannot show them)."""

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name_contains: str = "") -> Registration:
        found = [r for r in self.of_type(type_) if name_contains in r.name]
        assert len(found) == 1, f"expected one {type_} named *{name_contains}*, got {found!r}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


def _secret_paths(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:
            yield path
            return
        for key, item in value.items():
            yield from _secret_paths(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_paths(item, f"{path}[{index}]")


def _unwrap_secrets(value: Any) -> Any:
    """Plain values, with the wire's secret markers removed (their paths are recorded apart)."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:
            return _unwrap_secrets(value.get("value"))
        return {key: _unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double; amounts are integers
    return value


def _comparable(value: Any) -> Any:
    """Archives as the engine diffs them, by content, so two runs' inputs compare with ==."""
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, pulumi.FileArchive):
        return {"fileArchive": value.path, "sha256": _archive_hash(Path(value.path))}
    return value


def _archive_hash(path: Path) -> str:
    """As the engine hashes an archive: a zip by its bytes, a folder by sorted names and bytes."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _uuid(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _stable_id(prefix: str, name: str) -> str:
    return f"{prefix}_{hashlib.sha256(name.encode()).hexdigest()[:14]}"


class RealisticMocks(pulumi_mocks.Mocks):
    """Outputs shaped like the real providers' (camelCase, ARNs, Stripe ids), stable per name."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        """The AWS provider's region, as it resolves it (config, else the environment)."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        name = inputs.get("name") or args.name
        arn_prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT}"
        outputs: dict[str, Any] = dict(inputs)
        resource_id = _stable_id("id", args.name)
        match args.typ:
            case "aws:apigatewayv2/api:Api":
                resource_id = hashlib.sha256(args.name.encode()).hexdigest()[:10]
                outputs["apiEndpoint"] = f"https://{resource_id}.execute-api.{REGION}.amazonaws.com"
                outputs["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{resource_id}"
            case "aws:secretsmanager/secret:Secret":
                resource_id = f"{arn_prefix.format('secretsmanager')}:secret:{name}-AbCdEf"
                outputs["arn"] = resource_id
            case "aws:secretsmanager/secretVersion:SecretVersion":
                outputs["versionId"] = _stable_id("version", args.name)
                outputs["arn"] = inputs.get("secretId")
            case "aws:dynamodb/table:Table":
                resource_id = name
                outputs["arn"] = f"{arn_prefix.format('dynamodb')}:table/{name}"
            case "aws:lambda/function:Function":
                resource_id = name
                outputs["arn"] = f"{arn_prefix.format('lambda')}:function:{name}"
                outputs["invokeArn"] = (
                    f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                    f"{outputs['arn']}/invocations"
                )
            case "aws:acm/certificate:Certificate":
                resource_id = f"{arn_prefix.format('acm')}:certificate/{_uuid(args.name)}"
                outputs["arn"] = resource_id
                outputs["domainValidationOptions"] = [
                    {
                        "domainName": inputs["domainName"],
                        "resourceRecordName": f"_acme.{inputs['domainName']}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": f"_validation.{_stable_id('acm', args.name)}.aws.",
                    }
                ]
            case "aws:acm/certificateValidation:CertificateValidation":
                outputs["certificateArn"] = inputs["certificateArn"]
            case "aws:route53/record:Record":
                outputs["fqdn"] = str(inputs["name"]).rstrip(".")
            case "aws:apigatewayv2/domainName:DomainName":
                resource_id = inputs["domainName"]
                outputs["domainNameConfiguration"] = {
                    **inputs["domainNameConfiguration"],
                    "targetDomainName": f"d-{_stable_id('d', args.name)}.execute-api.{REGION}"
                    ".amazonaws.com",
                    "hostedZoneId": "Z1UJRXOUMOOFQ8",
                }
            case "aws:lambda/alias:Alias":
                function_arn = f"{arn_prefix.format('lambda')}:function:{inputs['functionName']}"
                outputs["arn"] = f"{function_arn}:{inputs['name']}"
                outputs["invokeArn"] = (
                    f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                    f"{outputs['arn']}/invocations"
                )
            case "aws:lambda/layerVersion:LayerVersion":
                outputs["arn"] = f"{arn_prefix.format('lambda')}:layer:{inputs['layerName']}:1"
            case "aws:cloudwatch/logGroup:LogGroup":
                resource_id = name
                outputs["arn"] = f"{arn_prefix.format('logs')}:log-group:{name}"
            case "aws:iam/role:Role":
                resource_id = name
                outputs["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
            case "stripe:index/product:Product":
                resource_id = _stable_id("prod", args.name)
            case "stripe:index/price:Price":
                resource_id = _stable_id("price", args.name + str(inputs.get("unitAmount")))
            case "stripe:index/portalConfiguration:PortalConfiguration":
                resource_id = _stable_id("bpc", args.name)
            case "stripe:index/webhookEndpoint:WebhookEndpoint":
                resource_id = _stable_id("we", args.name)
                outputs["secret"] = "whsec_" + hashlib.sha256(args.name.encode()).hexdigest()[:24]
        outputs.setdefault("arn", f"arn:aws:mock:{REGION}:{ACCOUNT}:{resource_id}")
        return resource_id, outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getRegion:getRegion":
            region = self.region
            endpoint = f"ec2.{region}.amazonaws.com"
            return {"id": region, "name": region, "region": region, "endpoint": endpoint}, []
        return {}, []


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps each raw registration and returns secret outputs as secrets."""

    def __init__(self, mocks: pulumi_mocks.Mocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.recording = recording

    def RegisterResourceHook(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.recording.hooks.add(request.name)
        return empty_pb2.Empty()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        pulumi_mocks._ensure_event_loop()
        raw = json_format.MessageToDict(request.object)
        inputs = _unwrap_secrets(rpc.deserialize_properties(request.object))
        id_, state = self.mocks.new_resource(
            pulumi_mocks.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                custom=request.custom or False,
            )
        )
        id_ = id_ or ""
        if not request.custom:
            id_, state = "", {}
        secret_outputs = list(request.additionalSecretOutputs)
        wire_state = {
            key: {_SECRET_SIG: _SECRET_VALUE, "value": value} if key in secret_outputs else value
            for key, value in state.items()
        }
        obj_proto = pulumi_mocks._sync_await(rpc.serialize_properties(wire_state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        self.recording.resources.append(
            Registration(
                urn=urn,
                id=id_,
                type=request.type,
                name=request.name,
                parent=request.parent,
                inputs=_comparable(inputs),
                outputs=state,
                secret_inputs=set(_secret_paths(raw)),
                dependencies=list(request.dependencies),
                replace_on_changes=list(request.replaceOnChanges),
                retain_on_delete=bool(request.retainOnDelete),
                additional_secret_outputs=secret_outputs,
                hooks={
                    kind: list(getattr(request.hooks, kind))
                    for kind in (
                        "before_create",
                        "after_create",
                        "before_update",
                        "after_update",
                        "before_delete",
                        "after_delete",
                    )
                    if list(getattr(request.hooks, kind))
                },
            )
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)


@contextmanager
def resources_in_apply_recorded(recording: Recording) -> Iterator[None]:
    """Record every resource constructed while an `Output.apply` callback runs."""
    depth = 0
    original_apply = pulumi.Output.apply
    original_init = pulumi.Resource.__init__

    def apply(self: pulumi.Output[Any], func: Any, run_with_unknowns: bool = False) -> Any:
        def guarded(value: Any) -> Any:
            nonlocal depth
            depth += 1
            try:
                return func(value)
            finally:
                depth -= 1

        return original_apply(self, guarded, run_with_unknowns)

    def init(self: pulumi.Resource, t: str, name: str, *args: Any, **kwargs: Any) -> None:
        if depth:
            recording.created_in_apply.append(f"{t}::{name}")
        original_init(self, t, name, *args, **kwargs)

    pulumi.Output.apply = apply  # type: ignore[method-assign]
    pulumi.Resource.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        pulumi.Output.apply = original_apply  # type: ignore[method-assign]
        pulumi.Resource.__init__ = original_init  # type: ignore[method-assign]


def run_program(
    config: Mapping[str, Any] | None = None,
    stack: str = "dev",
    secret_keys: tuple[str, ...] = DEFAULT_SECRET_KEYS,
    program: Path = PROGRAM,
) -> Recording:
    """Evaluate infra/__main__.py once for `stack` with `config`, and return what it declared."""
    config = dict(base_config(stack) if config is None else config)
    recording = Recording()
    # As the AWS provider resolves its region: stack config, else the environment (the profile).
    region = (
        config.get("aws:region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION", REGION)
    )
    monitor = RecordingMonitor(RealisticMocks(str(region)), recording)
    set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in config.items()
        },
        [key for key in secret_keys if key in config],
    )
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(monitor.mocks, PROJECT, stack, preview=False, monitor=monitor)

    @pulumi.runtime.test
    def evaluate() -> None:
        runpy.run_path(str(program), run_name="__main__")

    with resources_in_apply_recorded(recording):
        evaluate()
    root = settings.get_root_resource()
    for name, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        recording.exports[name] = pulumi_mocks._sync_await(output.future())
        if pulumi_mocks._sync_await(output.is_secret()):
            recording.secret_exports.add(name)
    return recording
