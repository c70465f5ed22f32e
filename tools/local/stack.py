"""What the program declares, stood up on the emulators: the local twin of a deployed stack.

The program runs under Pulumi's mocks; the secret (with the very JSON of its secret version) and
the tables (with the keys and indexes it declared) are created in moto's server; each function
runs in its own warm process from the archives the program declared, with the environment the
program set (SECRET_ARN mapped to the emulator's ARN of the same secret, and the emulators'
endpoints added); requests are routed by the declared routes, as API Gateway would, with the
payload format 2.0 event it builds. The JWT authorizer is stood in for: a route that requires
one gets the claims API Gateway would pass, or API Gateway's own 401 with none.

Used by `make serve` and by the end-to-end tests.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from shared.contract import Env
from tools.local.emulators import aws_client
from tools.local.lambda_container import LambdaContainer, extract, runtime_packages
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import Recording, Registration

REGION = "us-east-1"
USER_CLAIMS = {"sub": "user-e2e", "email": "e2e@example.com"}
#: API Gateway's own bodies for what it answers itself (never the handlers' `{"error"}`).
UNAUTHORIZED = {"message": "Unauthorized"}
NOT_FOUND = {"message": "Not Found"}


@dataclass
class Route:
    requires_jwt: bool
    container: LambdaContainer


class DeployedStack:
    """What the program declared, stood up on the emulators."""

    def __init__(
        self,
        recording: Recording,
        moto: str,
        stripe: StripeFake | None,
        root: Path,
        document: Mapping[str, Any] | None = None,
        environment: Mapping[str, str] | None = None,
        logs: int | None = subprocess.PIPE,
    ) -> None:
        """`document` replaces values of the declared secret document (local keys, real test
        mode's ids); `environment` adds to every function's (local mode's frontend origin,
        STRIPE_API_BASE); `stripe=None` means real Stripe test mode."""
        self.recording = recording
        self.moto = moto
        self._stripe = stripe
        self._extra_environment = dict(environment or {})
        secret = recording.one("aws:secretsmanager/secret:Secret")
        self.document = {**json.loads(self.secret_version()["secretString"]), **(document or {})}
        self.secret_arn = self.boto("secretsmanager").create_secret(
            Name=secret.inputs["name"], SecretString=json.dumps(self.document)
        )["ARN"]
        for table in recording.of_type("aws:dynamodb/table:Table"):
            self.boto("dynamodb").create_table(**table_definition(table.inputs))
        self.usage_queue_url = self._create_queues()
        layer = recording.one("aws:lambda/layerVersion:LayerVersion")
        layer_python = extract(Path(layer.inputs["code"]["fileArchive"]), root / "opt") / "python"
        runtime = runtime_packages(root / "runtime")
        self.functions: dict[str, LambdaContainer] = {}
        for function in recording.of_type("aws:lambda/function:Function"):
            code = extract(Path(function.inputs["code"]["fileArchive"]), root / function.name)
            self.functions[function.name] = LambdaContainer(
                code, layer_python, runtime, self._environment(function), logs,
                handler=function.inputs["handler"],
            )  # fmt: skip
        self.routes = self._routes()

    @property
    def emulator(self) -> StripeFake:
        """The Stripe emulator (there is none in real Stripe test mode)."""
        assert self._stripe is not None, "real Stripe test mode has no emulator"
        return self._stripe

    def boto(self, service: str) -> Any:
        return aws_client(service, self.moto, REGION)

    def secret_version(self) -> dict[str, Any]:
        return self.recording.one("aws:secretsmanager/secretVersion:SecretVersion").inputs

    def _environment(self, function: Registration) -> dict[str, str]:
        variables = dict(function.inputs["environment"]["variables"])
        declared_arn = self.recording.one("aws:secretsmanager/secret:Secret").outputs["arn"]
        assert variables[Env.SECRET_ARN] == declared_arn
        variables[Env.SECRET_ARN] = self.secret_arn
        emulators = {
            "AWS_ENDPOINT_URL": self.moto,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        if self._stripe is not None:
            emulators[Env.STRIPE_API_BASE] = self._stripe.base_url
            emulators[Env.STRIPE_METER_EVENTS_BASE] = self._stripe.base_url
        return {**variables, **emulators, **_runtime_logging(function), **self._extra_environment}

    def _create_queues(self) -> str:
        """The declared queues, dead-letter queue first, with the declared redrive policy;
        returns the usage queue's URL."""
        sqs = self.boto("sqs")
        queues = sorted(
            self.recording.of_type("aws:sqs/queue:Queue"),
            key=lambda queue: "redrivePolicy" in queue.inputs,
        )
        arns: dict[str, str] = {}
        url = ""
        for queue in queues:
            attributes = {
                "VisibilityTimeout": str(queue.inputs.get("visibilityTimeoutSeconds", 30)),
            }
            declared = queue.inputs.get("redrivePolicy")
            if declared:
                policy = json.loads(declared)
                policy["deadLetterTargetArn"] = arns[policy["deadLetterTargetArn"]]
                attributes["RedrivePolicy"] = json.dumps(policy)
            url = sqs.create_queue(QueueName=queue.inputs["name"], Attributes=attributes)[
                "QueueUrl"
            ]
            arns[queue.outputs["arn"]] = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
        return url

    @property
    def usage_function(self) -> LambdaContainer:
        return next(c for name, c in self.functions.items() if name.endswith("usage-function"))

    def _routes(self) -> dict[str, Route]:
        integrations = {
            i.id: i.inputs["integrationUri"]
            for i in self.recording.of_type("aws:apigatewayv2/integration:Integration")
        }
        functions_by_invoke_arn = {
            f.outputs["invokeArn"]: self.functions[f.name]
            for f in self.recording.of_type("aws:lambda/function:Function")
        }
        routes = {}
        for route in self.recording.of_type("aws:apigatewayv2/route:Route"):
            integration_id = route.inputs["target"].removeprefix("integrations/")
            routes[route.inputs["routeKey"]] = Route(
                requires_jwt=route.inputs["authorizationType"] == "JWT",
                container=functions_by_invoke_arn[integrations[integration_id]],
            )
        return routes

    def event(
        self,
        method: str,
        path: str,
        body: str | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        query: str = "",
        source_ip: str = "127.0.0.1",
    ) -> dict[str, Any]:
        """The HTTP API payload format 2.0 event API Gateway would build for this request
        (`routeKey` the matched route's template, `pathParameters` what its `{names}` took)."""
        now = time.time()
        template, parameters = route_template(self.routes, method, path)
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": template,
            "rawPath": path,
            "rawQueryString": query,
            "headers": lowered,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": lowered.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": lowered.get("user-agent", ""),
                },
                "requestId": uuid.uuid4().hex,
                "routeKey": template,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": False,
        }
        if parameters:
            event["pathParameters"] = parameters
        if query:
            event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
        if body is not None:
            text_type = lowered.get("content-type", "application/json").startswith(
                ("application/json", "text/")
            )
            event["body"] = body if text_type else base64.b64encode(body.encode()).decode()
            event["isBase64Encoded"] = not text_type
        if claims is not None:
            event["requestContext"]["authorizer"] = {
                "jwt": {"claims": dict(claims), "scopes": None}
            }
        return event

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        claims: dict[str, str] | None = USER_CLAIMS,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Send an HTTP request through the declared routes, as API Gateway would."""
        route = self.routes.get(route_template(self.routes, method, path)[0])
        if route is None:
            return 404, dict(NOT_FOUND)
        if route.requires_jwt and claims is None:
            return 401, dict(UNAUTHORIZED)  # API Gateway's authorizer answers
        text = raw if raw is not None else (None if body is None else json.dumps(body))
        event = self.event(
            method,
            path,
            text,
            claims if route.requires_jwt else None,
            {"content-type": "application/json", **(headers or {})},
        )
        response = route.container.invoke(event)
        return response["statusCode"], json.loads(response["body"])

    def deliver(self, event_type: str, obj: dict[str, Any], created: int) -> tuple[int, dict]:
        """Stripe signs an event with the endpoint's secret and posts it to the webhook route."""
        event = self.emulator.event(event_type, obj, created)
        payload, header = self.emulator.signed(event, self.document["stripe_webhook_secret"])
        return self.request(
            "POST", "/stripe/webhook", raw=payload, headers={"Stripe-Signature": header}
        )

    def write_secret_version(self, recording: Recording) -> None:
        """What `pulumi up` does on rotation: write the new secret version's JSON."""
        self.recording = recording
        self.document = json.loads(self.secret_version()["secretString"])
        self.boto("secretsmanager").put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps(self.document)
        )

    def stop(self) -> str:
        return "".join(container.stop() for container in self.functions.values())


def declared_stack_id(recording: Recording) -> str:
    """The stack identity the program gives its functions (`STACK_ID`)."""
    for function in recording.of_type("aws:lambda/function:Function"):
        variables = function.inputs["environment"]["variables"]
        if Env.STACK_ID in variables:
            return str(variables[Env.STACK_ID])
    raise LookupError("the program declares no function with STACK_ID")


def route_template(routes: Mapping[str, Any], method: str, path: str) -> tuple[str, dict[str, str]]:
    """The declared route key `method path` matches (an exact one first, then one with
    `{parameters}`, as API Gateway picks), and the parameters' values; the request's own key
    when none matches."""
    exact = f"{method} {path}"
    if exact in routes:
        return exact, {}
    parts = path.strip("/").split("/")
    for key in routes:
        route_method, _, template = key.partition(" ")
        segments = template.strip("/").split("/")
        if route_method != method or len(segments) != len(parts):
            continue
        values = {s[1:-1]: p for s, p in zip(segments, parts, strict=True) if s.startswith("{")}
        if all(s == p or s.startswith("{") for s, p in zip(segments, parts, strict=True)) and all(
            values.values()
        ):
            return key, values
    return exact, {}


def table_definition(inputs: dict[str, Any]) -> dict[str, Any]:
    keys = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        keys.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    definition: dict[str, Any] = {
        "TableName": inputs["name"],
        "BillingMode": inputs["billingMode"],
        "KeySchema": keys,
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
    }
    indexes = inputs.get("globalSecondaryIndexes") or []
    if indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["name"],
                "KeySchema": [
                    {"AttributeName": k["attributeName"], "KeyType": k["keyType"]}
                    for k in index["keySchemas"]
                ],
                "Projection": {"ProjectionType": index["projectionType"]},
            }
            for index in indexes
        ]
    return definition


def _runtime_logging(function: Registration) -> dict[str, str]:
    """What Lambda tells its runtime about the declared logging config (the runtime reads them)."""
    declared = function.inputs.get("loggingConfig") or {}
    log_format = declared.get("logFormat", "Text")
    if log_format != "JSON":
        return {"AWS_LAMBDA_LOG_FORMAT": log_format}
    return {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": declared.get("applicationLogLevel") or "INFO",
    }
