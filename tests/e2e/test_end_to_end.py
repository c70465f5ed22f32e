"""End to end: program → AWS emulator → Lambdas → Stripe fake, taking what the program declared
as the truth.

The program runs under mocks; the secret (with the very JSON of its secret version) and the
tables (with the keys and indexes it declared) are created in moto's server; each function runs
in its own warm process from the archives the program declared, with the environment the
program set (SECRET_ARN mapped to the emulator's ARN of the same secret, and the emulators'
endpoints added); requests are routed by the declared routes. The JWT authorizer is stood in
for: a route that requires one gets the claims API Gateway would pass, or 401 with none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.billing_world import REGION, BillingWorld, fake_webhook_secret
from tests.support.lambda_container import LambdaContainer, extract, runtime_packages
from tools.local.emulators import running_moto, running_stripe_fake
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import Recording, Registration, base_config, fake_stripe_key, run_program

USER_CLAIMS = {"sub": "user-e2e", "email": "e2e@example.com"}


@dataclass
class Route:
    requires_jwt: bool
    container: LambdaContainer


class DeployedStack:
    """What the program declared, stood up on the emulators."""

    def __init__(self, recording: Recording, moto: str, stripe: StripeFake, root: Path) -> None:
        self.recording = recording
        self.moto = moto
        self.stripe = stripe
        self.world = BillingWorld(aws_endpoint=moto, stripe=stripe, secret_arn="", document={})
        secret = recording.one("aws:secretsmanager/secret:Secret")
        self.document = json.loads(self.secret_version()["secretString"])
        self.secret_arn = self.world.boto("secretsmanager").create_secret(
            Name=secret.inputs["name"], SecretString=json.dumps(self.document)
        )["ARN"]
        for table in recording.of_type("aws:dynamodb/table:Table"):
            self.world.boto("dynamodb").create_table(**_table_definition(table.inputs))
        layer = recording.one("aws:lambda/layerVersion:LayerVersion")
        layer_python = extract(Path(layer.inputs["code"]["fileArchive"]), root / "opt") / "python"
        runtime = runtime_packages(root / "runtime")
        self.functions: dict[str, LambdaContainer] = {}
        for function in recording.of_type("aws:lambda/function:Function"):
            code = extract(Path(function.inputs["code"]["fileArchive"]), root / function.name)
            self.functions[function.name] = LambdaContainer(
                code, layer_python, runtime, self._environment(function)
            )
        self.routes = self._routes()

    def secret_version(self) -> dict[str, Any]:
        return self.recording.one("aws:secretsmanager/secretVersion:SecretVersion").inputs

    def _environment(self, function: Registration) -> dict[str, str]:
        variables = dict(function.inputs["environment"]["variables"])
        declared_arn = self.recording.one("aws:secretsmanager/secret:Secret").outputs["arn"]
        assert variables["SECRET_ARN"] == declared_arn
        variables["SECRET_ARN"] = self.secret_arn
        return {
            **variables,
            "AWS_ENDPOINT_URL": self.moto,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "STRIPE_API_BASE": self.stripe.base_url,
        }

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
        route = self.routes.get(f"{method} {path}")
        if route is None:
            return 404, {"message": "Not Found"}
        if route.requires_jwt and claims is None:
            return 401, {"message": "Unauthorized"}  # API Gateway's authorizer answers
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{method} {path}",
            "rawPath": path,
            "headers": {"content-type": "application/json", **(headers or {})},
            "requestContext": {"http": {"method": method, "path": path}},
            "isBase64Encoded": False,
        }
        if raw is not None or body is not None:
            event["body"] = raw if raw is not None else json.dumps(body)
        if route.requires_jwt and claims:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": claims}}
        response = route.container.invoke(event)
        return response["statusCode"], json.loads(response["body"])

    def deliver(self, event_type: str, obj: dict[str, Any], created: int) -> tuple[int, dict]:
        """Stripe signs an event with the endpoint's secret and posts it to the webhook route."""
        event = self.stripe.event(event_type, obj, created)
        payload, header = self.stripe.signed(event, self.document["stripe_webhook_secret"])
        return self.request(
            "POST", "/stripe/webhook", raw=payload, headers={"Stripe-Signature": header}
        )

    def write_secret_version(self, recording: Recording) -> None:
        """What `pulumi up` does on rotation: write the new secret version's JSON."""
        self.recording = recording
        self.document = json.loads(self.secret_version()["secretString"])
        self.world.boto("secretsmanager").put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps(self.document)
        )

    def stop(self) -> str:
        return "".join(container.stop() for container in self.functions.values())


def _table_definition(inputs: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "TableName": inputs["name"],
        "BillingMode": inputs["billingMode"],
        "KeySchema": [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}],
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


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with running_moto() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[StripeFake]:
    with running_stripe_fake() as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(
    moto: str, stripe_fake: StripeFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeployedStack]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        recording = run_program(base_config("dev"))
        deployed = DeployedStack(recording, moto, stripe_fake, tmp_path_factory.mktemp("e2e"))
        document = deployed.document
        stripe_fake.state.valid_keys.add(document["stripe_secret_key"])
        stripe_fake.add_price(document["stripe_monthly_price_id"], "month", 999)
        stripe_fake.add_price(document["stripe_annual_price_id"], "year", 9990)
        yield deployed
        logs = deployed.stop()
        for value in deployed.document.values():
            if isinstance(value, str):  # the keys; the catalog object is public
                assert value not in logs, "a secret value reached a Lambda's log"


def test_the_whole_story(stack: DeployedStack) -> None:
    assert stack.document["stripe_webhook_secret"].startswith("whsec_")
    status, prices = stack.request("GET", "/subscription/prices")
    assert status == 200 and prices["monthly"] == stack.document["stripe_monthly_price_id"]
    status, public = stack.request("GET", "/subscription/prices", claims=None)
    assert status == 200 and public == prices, "the pricing page needs no sign-in"
    assert stack.request("GET", "/subscription", claims=None)[0] == 401

    status, checkout = stack.request(
        "POST", "/subscription/checkout", {"priceId": prices["annual"]}
    )
    assert status == 200, checkout
    session, sub = stack.stripe.complete_checkout(checkout["sessionId"])
    now = int(time.time())
    assert stack.deliver("checkout.session.completed", session, now)[0] == 200
    assert stack.deliver("customer.subscription.created", sub, now)[0] == 200
    status, state = stack.request("GET", "/subscription")
    assert state["isSubscribed"] is True and state["plan"] == "annual"

    status, portal = stack.request("POST", "/subscription/portal")
    assert status == 200 and portal["url"].startswith("https://billing.stripe.com/")
    (portal_request,) = stack.stripe.requests_to("POST", "/v1/billing_portal/sessions")
    assert (
        portal_request.params["configuration"] == stack.document["stripe_portal_configuration_id"]
    )

    cancelling = stack.stripe.update_subscription(sub["id"], cancel_at_period_end=True)
    assert stack.deliver("customer.subscription.updated", cancelling, now + 1)[0] == 200
    assert stack.request("GET", "/subscription")[1]["cancelAtPeriodEnd"] is True

    ended = stack.stripe.update_subscription(sub["id"], status="canceled")
    assert stack.deliver("customer.subscription.deleted", ended, now + 2)[0] == 200
    status, state = stack.request("GET", "/subscription")
    assert state["isSubscribed"] is False and state["subscriptionStatus"] == "canceled"
    for container in stack.functions.values():
        assert container.foreign_modules == []


def test_a_forged_webhook_is_refused_through_the_unauthenticated_route(
    stack: DeployedStack,
) -> None:
    event = stack.stripe.event("customer.subscription.updated", {"id": "sub_x"}, int(time.time()))
    payload, header = stack.stripe.signed(event, fake_webhook_secret("FORGED"))
    status, _ = stack.request(
        "POST", "/stripe/webhook", raw=payload, headers={"Stripe-Signature": header}
    )
    assert status == 400


def test_rotating_the_api_key_reaches_the_warm_handler_without_a_redeploy(
    stack: DeployedStack,
) -> None:
    claims = {"sub": "user-rotation", "email": "rotation@example.com"}
    monthly = {"priceId": stack.document["stripe_monthly_price_id"]}
    assert stack.request("POST", "/subscription/checkout", monthly, claims=claims)[0] == 200  # warm
    new_key = fake_stripe_key("sk", "test", "ROTATED")
    rotated = run_program(base_config("dev", **{"stripe:apiKey": new_key}))
    before = {f.urn: f.inputs for f in stack.recording.of_type("aws:lambda/function:Function")}
    after = {f.urn: f.inputs for f in rotated.of_type("aws:lambda/function:Function")}
    assert before == after, "rotation must not change any function's code or configuration"
    stack.write_secret_version(rotated)
    assert stack.document["stripe_secret_key"] == new_key
    stack.stripe.state.valid_keys = {new_key}  # the old key is rolled in Stripe
    status, portal = stack.request("POST", "/subscription/portal", claims=claims)
    assert status == 200, portal
    assert stack.stripe.state.requests[-1].api_key == new_key
