"""The whole program (infra/__main__.py) under Pulumi's mocks: what one `pulumi up` declares.

Each run goes through `tools.mock_engine.run_program`, which records every registration as plain
data, so assertions run on resolved values (nothing can pass silently inside an unawaited apply).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import stripe

from billing.components.stripe_webhook import WEBHOOK_EVENTS
from billing.contract import contract
from tools.mock_engine import (
    FRONTEND_ORIGIN,
    PROJECT,
    Recording,
    base_config,
    fake_stripe_key,
    run_program,
)

SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
ALLOWED_ENV_NAMES = re.compile(r"^(SECRET_ARN|SECRETS_CACHE_TTL_SECONDS|POWERTOOLS_[A-Z_]+)$")
SECRET_LOOKING_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL|WHSEC", re.IGNORECASE)


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program(base_config("dev"))


def document(recording: Recording) -> dict[str, str]:
    return json.loads(recording.one(SECRET_VERSION).inputs["secretString"])


def statements(recording: Recording, policy_name: str) -> list[dict[str, Any]]:
    policy = recording.one("aws:iam/rolePolicy:RolePolicy", policy_name)
    return json.loads(policy.inputs["policy"])["Statement"]


def test_no_resource_is_created_inside_apply(dev: Recording) -> None:
    assert dev.resources, "the run declared nothing: the check would prove nothing"
    assert dev.created_in_apply == []


def test_a_resource_created_inside_apply_is_caught(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi\n"
        "pulumi.ComponentResource('test:index:Thing', 'outside')\n"
        "pulumi.Output.from_input('x').apply(\n"
        "    lambda v: pulumi.ComponentResource('test:index:Thing', 'inside-' + v))\n"
    )
    recording = run_program(base_config("dev"), program=program)
    assert recording.created_in_apply == ["test:index:Thing::inside-x"]


def test_every_named_resource_gets_its_physical_name(dev: Recording) -> None:
    names = {
        "aws:secretsmanager/secret:Secret": {"dev-saas-billing_secrets"},
        TABLE: {"dev-saas-billing-users", "dev-saas-billing-stripe-events"},
        FUNCTION: {
            "dev-saas-billing-subscription",
            "dev-saas-billing-stripe-webhook",
            "dev-saas-billing-reconcile",
            "dev-saas-billing-usage",
        },
        "aws:sqs/queue:Queue": {"dev-saas-billing-usage", "dev-saas-billing-usage-dlq"},
        "aws:iam/policy:Policy": {"dev-saas-billing-usage-producer"},
    }
    for type_, expected in names.items():
        assert {r.inputs["name"] for r in dev.of_type(type_)} == expected, type_
    layer = dev.one("aws:lambda/layerVersion:LayerVersion")
    assert layer.inputs["layerName"] == "dev-saas-billing-shared"


def test_secret_document_has_exactly_the_contract_keys_and_values(dev: Recording) -> None:
    doc = document(dev)
    endpoint = dev.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    assert doc == {
        "stripe_secret_key": fake_stripe_key("sk", "test"),
        "stripe_publishable_key": fake_stripe_key("pk", "test"),
        "stripe_webhook_secret": endpoint.outputs["secret"],
        "stripe_monthly_price_id": dev.exports["monthlyPriceId"],
        "stripe_annual_price_id": dev.exports["annualPriceId"],
        "stripe_portal_configuration_id": dev.one(
            "stripe:index/portalConfiguration:PortalConfiguration"
        ).id,
        "stripe_catalog": {
            "currency": "usd",
            "plans": [
                {
                    "id": "premium",
                    "name": "Premium",
                    "description": None,
                    "productId": dev.exports["productId"],
                    "trialDays": None,
                    "features": [],
                    "prices": {
                        "monthly": {
                            "id": dev.exports["monthlyPriceId"],
                            "amount": 999,
                            "interval": "month",
                        },
                        "annual": {
                            "id": dev.exports["annualPriceId"],
                            "amount": 9990,
                            "interval": "year",
                        },
                    },
                }
            ],
        },
    }
    assert doc["stripe_webhook_secret"].startswith("whsec_")
    assert doc["stripe_portal_configuration_id"].startswith("bpc_")


def test_secret_version_reaches_the_provider_as_a_secret(dev: Recording) -> None:
    version = dev.one(SECRET_VERSION)
    assert "secretString" in version.secret_inputs, version.urn
    secret = dev.one("aws:secretsmanager/secret:Secret")
    assert version.inputs["secretId"] == secret.outputs["arn"]


def test_webhook_signing_secret_is_returned_as_a_secret_output(dev: Recording) -> None:
    endpoint = dev.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    assert "secret" in endpoint.additional_secret_outputs, endpoint.urn


def test_runtime_key_and_app_secrets_are_copied_into_the_document() -> None:
    runtime_key = fake_stripe_key("rk", "test", "RUNTIME")
    config = base_config(
        "dev",
        **{
            f"{PROJECT}:stripeRuntimeKey": runtime_key,
            f"{PROJECT}:appSecrets": {"twilio_sid": "AC" + "0" * 8, "gpt": "fake-gpt-token"},
        },
    )
    doc = document(run_program(config))
    assert doc["stripe_secret_key"] == runtime_key
    assert doc["twilio_sid"] == "AC" + "0" * 8
    assert doc["gpt"] == "fake-gpt-token"


def test_the_empty_app_secrets_default_needs_no_secret() -> None:
    config = base_config("dev", **{f"{PROJECT}:appSecrets": {}})
    recording = run_program(config, secret_keys=("stripe:apiKey",))
    assert set(document(recording)) == set(contract.SecretKey.RESERVED)


def test_plain_text_app_secrets_are_refused() -> None:
    from billing.config import SettingsError

    config = base_config("dev", **{f"{PROJECT}:appSecrets": {"gpt": "token"}})
    with pytest.raises(SettingsError, match="appSecrets must be a secret"):
        run_program(config, secret_keys=("stripe:apiKey",))


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_all_strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in _all_strings(item)]
    return []


def test_no_secret_value_appears_outside_the_secret_version() -> None:
    runtime_key = fake_stripe_key("rk", "test", "LEAKCHECK")
    app_secret = "app-secret-" + "VALUE" * 3
    config = base_config(
        "dev",
        **{
            f"{PROJECT}:stripeRuntimeKey": runtime_key,
            f"{PROJECT}:appSecrets": {"gpt": app_secret},
        },
    )
    recording = run_program(config)
    endpoint = recording.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    secrets = [
        config["stripe:apiKey"],
        config[f"{PROJECT}:stripePublishableKey"],
        runtime_key,
        app_secret,
        endpoint.outputs["secret"],
    ]
    for resource in recording.resources:
        if resource.type == SECRET_VERSION:
            continue
        for text in _all_strings(resource.inputs):
            for secret in secrets:
                assert secret not in text, f"a secret value leaks into {resource.urn}"
    for name, value in recording.exports.items():
        for secret in secrets:
            assert secret not in json.dumps(value), f"a secret value leaks into export {name}"
    assert not recording.secret_exports, "no export should even need to be a secret"


def test_lambda_environments_hold_only_the_arn_and_settings(dev: Recording) -> None:
    secret_arn = dev.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    for function in dev.of_type(FUNCTION):
        variables = function.inputs["environment"]["variables"]
        assert variables["SECRET_ARN"] == secret_arn, function.urn
        for name, value in variables.items():
            if SECRET_LOOKING_NAME.search(name):
                assert ALLOWED_ENV_NAMES.match(name), f"{function.urn}: {name} looks secret"
            assert not re.match(r"^(sk|rk|pk)_(test|live)_|^whsec_", value), function.urn


def test_functions_are_wired_for_the_lambda_runtime(dev: Recording) -> None:
    layer = dev.one("aws:lambda/layerVersion:LayerVersion")
    version = dev.one(SECRET_VERSION)
    for function in dev.of_type(FUNCTION):
        inputs = function.inputs
        assert inputs["runtime"] == "python3.12" and inputs["architectures"] == ["arm64"]
        assert (
            inputs["handler"]
            == inputs["name"].removeprefix("dev-saas-billing-").replace("-", "_")
            + ".handler.handler"
        )
        assert inputs["layers"] == [layer.outputs["arn"]]
        if inputs["name"].endswith("-reconcile"):  # on a schedule, not behind API Gateway
            assert inputs["timeout"] == 300
        elif inputs["name"].endswith("-usage"):  # fed by SQS: the queue hides a batch 6x longer
            queue = next(
                q for q in dev.of_type("aws:sqs/queue:Queue") if "redrivePolicy" in q.inputs
            )
            assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * inputs["timeout"]
        else:
            assert 0 < inputs["timeout"] < 30, f"{function.urn} must time out before API Gateway"
        assert version.urn in function.dependencies, f"{function.urn} must wait for the secret"
        log_group = inputs["loggingConfig"]["logGroup"]
        group = next(
            g
            for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup")
            if g.inputs["name"] == log_group
        )
        assert group.inputs["retentionInDays"] == 30
        assert log_group == f"/aws/lambda/{inputs['name']}"
    assert layer.inputs["compatibleArchitectures"] == ["arm64"]


def test_tables_are_on_demand_recoverable_encrypted_and_indexed(dev: Recording) -> None:
    for table in dev.of_type(TABLE):
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST", table.urn
        assert table.inputs["pointInTimeRecovery"]["enabled"] is True, table.urn
        assert table.inputs["serverSideEncryption"]["enabled"] is True, table.urn
    users = dev.one(TABLE, "users")
    assert users.inputs["hashKey"] == "userId"
    (index,) = users.inputs["globalSecondaryIndexes"]
    assert index["keySchemas"] == [{"attributeName": "stripeCustomerId", "keyType": "HASH"}]
    events = dev.one(TABLE, "stripe-events")
    assert events.inputs["hashKey"] == "eventId"
    assert events.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}


def _arn_is_concrete(arn: str) -> bool:
    return arn.startswith("arn:aws:") and "*" not in arn.removesuffix(":*")


def test_iam_statements_name_concrete_arns_and_only_this_secret(dev: Recording) -> None:
    secret_arn = dev.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    table_arns = {t.outputs["arn"] for t in dev.of_type(TABLE)}
    for policy_name in ("subscription-policy", "stripe-webhook-policy"):
        for statement in statements(dev, policy_name):
            assert statement["Effect"] == "Allow"
            for arn in statement["Resource"]:
                assert _arn_is_concrete(arn), f"{policy_name}: {arn}"
            for action in statement["Action"]:
                assert "*" not in action, f"{policy_name}: {action}"
            if "secretsmanager:GetSecretValue" in statement["Action"]:
                assert statement["Resource"] == [secret_arn]
            if any(a.startswith("dynamodb:") for a in statement["Action"]):
                for arn in statement["Resource"]:
                    assert arn.split("/index/")[0] in table_arns, f"{policy_name}: {arn}"
            if any(a.startswith("logs:") for a in statement["Action"]):
                assert all(
                    ":log-group:/aws/lambda/dev-saas-billing-" in a for a in statement["Resource"]
                )
    assert not any("kms:Decrypt" in s["Action"] for s in statements(dev, "subscription-policy")), (
        "no KMS grant without a customer-managed key"
    )


def test_a_customer_managed_key_is_used_and_granted() -> None:
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/0000aaaa-bbbb-cccc-dddd-eeeeffff0000"
    recording = run_program(base_config("dev", **{f"{PROJECT}:secretKmsKeyArn": key_arn}))
    assert recording.one("aws:secretsmanager/secret:Secret").inputs["kmsKeyId"] == key_arn
    for policy_name in ("subscription-policy", "stripe-webhook-policy"):
        grants = [s for s in statements(recording, policy_name) if "kms:Decrypt" in s["Action"]]
        assert [g["Resource"] for g in grants] == [[key_arn]]


def test_webhook_endpoint_points_at_the_api_with_its_events_and_pinned_version(
    dev: Recording,
) -> None:
    endpoint = dev.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    api = dev.one("aws:apigatewayv2/api:Api")
    assert endpoint.inputs["url"] == api.outputs["apiEndpoint"] + "/stripe/webhook"
    assert dev.exports["webhookUrl"] == endpoint.inputs["url"]
    assert sorted(endpoint.inputs["enabledEvents"]) == sorted(WEBHOOK_EVENTS)
    assert len(set(endpoint.inputs["enabledEvents"])) == len(WEBHOOK_EVENTS)
    assert endpoint.inputs["apiVersion"] == contract.STRIPE_API_VERSION


def test_the_endpoint_subscribes_to_exactly_the_events_the_handlers_apply() -> None:
    from shared.processing import DISPATCH

    assert sorted(WEBHOOK_EVENTS) == sorted(DISPATCH)


def test_one_payment_is_one_event_invoice_payment_succeeded_is_not_subscribed() -> None:
    assert "invoice.paid" in WEBHOOK_EVENTS
    assert "invoice.payment_succeeded" not in WEBHOOK_EVENTS


def test_pinned_api_version_is_the_stripe_library_version() -> None:
    from shared.contract import STRIPE_API_VERSION as LAMBDA_VERSION

    assert LAMBDA_VERSION == contract.STRIPE_API_VERSION
    assert stripe._api_version._ApiVersion.CURRENT == contract.STRIPE_API_VERSION


def test_prices_are_recurring_scoped_and_replaced_never_deleted(dev: Recording) -> None:
    prices = {p.inputs["recurring"]["interval"]: p for p in dev.of_type("stripe:index/price:Price")}
    assert set(prices) == {"month", "year"}
    assert prices["month"].inputs["lookupKey"] == "dev-saas-billing-monthly"
    assert prices["year"].inputs["lookupKey"] == "dev-saas-billing-annual"
    for price in prices.values():
        assert price.inputs["transferLookupKey"] is True, price.urn
        assert "unitAmount" in price.replace_on_changes, price.urn
        assert price.inputs["currency"] == "usd"
    assert prices["month"].inputs["unitAmount"] == 999
    assert prices["year"].inputs["unitAmount"] == 9990
    product = dev.one("stripe:index/product:Product")
    assert product.retain_on_delete, "Stripe refuses to delete a product with prices"


def test_other_stacks_get_other_lookup_keys() -> None:
    staging = run_program(base_config("staging"), stack="staging")
    keys = {p.inputs["lookupKey"] for p in staging.of_type("stripe:index/price:Price")}
    assert keys == {"staging-saas-billing-monthly", "staging-saas-billing-annual"}


def test_changing_an_amount_makes_a_new_price(dev: Recording) -> None:
    changed = run_program(base_config("dev", **{f"{PROJECT}:monthlyAmount": 1299}))
    assert changed.exports["monthlyPriceId"] != dev.exports["monthlyPriceId"]
    assert changed.exports["annualPriceId"] == dev.exports["annualPriceId"]
    assert document(changed)["stripe_monthly_price_id"] == changed.exports["monthlyPriceId"]


def test_portal_configuration_allows_cancel_and_switching_between_the_prices(
    dev: Recording,
) -> None:
    portal = dev.one("stripe:index/portalConfiguration:PortalConfiguration")
    features = portal.inputs["features"]
    assert features["subscriptionCancel"]["enabled"] is True
    (update,) = features["subscriptionUpdates"]
    assert update["enabled"] is True and update["defaultAllowedUpdates"] == ["price"]
    (product,) = update["products"]
    assert sorted(product["prices"]) == sorted(
        [dev.exports["monthlyPriceId"], dev.exports["annualPriceId"]]
    )
    assert product["product"] == dev.exports["productId"]


def test_api_routes_authorizer_cors_throttling_and_logs(dev: Recording) -> None:
    api = dev.one("aws:apigatewayv2/api:Api")
    assert api.inputs["protocolType"] == "HTTP"
    assert api.inputs["corsConfiguration"]["allowOrigins"] == [FRONTEND_ORIGIN]
    authorizer = dev.one("aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer.inputs["jwtConfiguration"] == {
        "issuer": "https://auth.example.com/",
        "audiences": ["billing-api"],
    }
    routes = {r.inputs["routeKey"]: r for r in dev.of_type("aws:apigatewayv2/route:Route")}
    assert set(routes) == {
        "POST /subscription/checkout",
        "POST /subscription/portal",
        "GET /subscription/prices",
        "GET /subscription",
        "POST /subscription/sync",
        "GET /subscription/usage",
        "POST /stripe/webhook",
    }
    for key, route in routes.items():
        if key in {"POST /stripe/webhook", "GET /subscription/prices"}:  # public routes
            assert route.inputs["authorizationType"] == "NONE"
            assert "authorizerId" not in route.inputs
        else:
            assert route.inputs["authorizationType"] == "JWT", key
            assert route.inputs["authorizerId"] == authorizer.id, key
    stage = dev.one("aws:apigatewayv2/stage:Stage")
    assert stage.inputs["name"] == "$default" and stage.inputs["autoDeploy"] is True
    assert stage.inputs["defaultRouteSettings"]["throttlingRateLimit"] == 50
    assert stage.inputs["defaultRouteSettings"]["throttlingBurstLimit"] == 100
    assert stage.inputs["accessLogSettings"]["destinationArn"].startswith("arn:aws:logs:")
    for permission in dev.of_type("aws:lambda/permission:Permission"):
        assert permission.inputs["sourceArn"].startswith(api.outputs["executionArn"] + "/*/")


def test_exports_name_what_a_user_needs(dev: Recording) -> None:
    assert set(dev.exports) == {
        "apiUrl",
        "alarmTopicArn",
        "webhookUrl",
        "secretArn",
        "productId",
        "monthlyPriceId",
        "annualPriceId",
        "catalog",
        "subscriptionFunctionName",
        "webhookFunctionName",
        "reconcileFunctionName",
        "usersTableName",
        "eventsTableName",
        "usageFunctionName",
        "usageQueueUrl",
        "usageQueueArn",
        "usageProducerPolicyArn",
    }


def _inputs_by_urn(recording: Recording) -> dict[str, Any]:
    return {r.urn: r.inputs for r in recording.resources}


def test_rotating_the_api_key_changes_only_the_secret_version(dev: Recording) -> None:
    rotated = run_program(
        base_config("dev", **{"stripe:apiKey": fake_stripe_key("sk", "test", "ROTATED")})
    )
    before, after = _inputs_by_urn(dev), _inputs_by_urn(rotated)
    assert set(before) == set(after)
    changed = {urn for urn in before if before[urn] != after[urn]}
    assert [urn.rsplit("::", 1)[-1] for urn in changed] == ["app-secret-version"]
    assert document(rotated)["stripe_secret_key"] == fake_stripe_key("sk", "test", "ROTATED")


def test_bumping_the_secret_generation_replaces_the_endpoint(dev: Recording) -> None:
    bumped = run_program(base_config("dev", **{f"{PROJECT}:webhookSecretGeneration": 2}))
    old = dev.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    new = bumped.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    assert old.urn != new.urn, "a new generation must be a new endpoint (create, then delete old)"
    assert document(bumped)["stripe_webhook_secret"] == new.outputs["secret"]
    assert new.outputs["secret"] != old.outputs["secret"]


@pytest.mark.parametrize(
    ("overrides", "secret_keys", "message"),
    [
        ({"stripe:apiKey": None}, None, "stripe:apiKey is required"),
        ({}, (), "stripe:apiKey must be a secret"),
        ({"stripe:apiKey": fake_stripe_key("sk", "live")}, None, "must be a test key"),
        (
            {f"{PROJECT}:stripeRuntimeKey": fake_stripe_key("rk", "live")},
            None,
            "stripeRuntimeKey must be a test key",
        ),
        ({f"{PROJECT}:monthlyAmount": 0}, None, "monthlyAmount must be a positive integer"),
        ({f"{PROJECT}:annualAmount": "ten"}, None, "annualAmount must be an integer"),
        ({f"{PROJECT}:currency": "dollars"}, None, "currency must be a 3-letter"),
        (
            {f"{PROJECT}:appSecrets": {"stripe_secret_key": "x"}},
            None,
            "appSecrets.stripe_secret_key collides",
        ),
        ({f"{PROJECT}:secretRecoveryWindowDays": 0}, None, "between 7 and 30"),
        ({f"{PROJECT}:stripePublishableKey": None}, None, "stripePublishableKey is required"),
        ({f"{PROJECT}:jwtAudience": []}, None, "jwtAudience must be a non-empty list"),
        ({f"{PROJECT}:frontendDomain": "app.example.com"}, None, "frontendDomain must be"),
        ({f"{PROJECT}:logRetentionDays": 10}, None, "logRetentionDays must be one"),
    ],
)
def test_settings_errors_name_the_key(
    overrides: dict[str, Any], secret_keys: tuple[str, ...] | None, message: str
) -> None:
    from billing.config import SettingsError

    config = base_config("dev")
    for key, value in overrides.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    with pytest.raises(SettingsError, match=re.escape(message)) as raised:
        if secret_keys is None:
            run_program(config)
        else:
            run_program(config, secret_keys=secret_keys)
    assert "FAKE" not in str(raised.value), "a settings error must never print a key"


def test_a_test_key_is_refused_on_production() -> None:
    from billing.config import SettingsError

    config = base_config("prod", **{"stripe:apiKey": fake_stripe_key("sk", "test")})
    with pytest.raises(SettingsError, match="must be a live key"):
        run_program(config, stack="prod")


def test_production_stack_accepts_live_keys_and_protects_tables() -> None:
    recording = run_program(base_config("prod"), stack="prod")
    for table in recording.of_type(TABLE):
        assert table.inputs["deletionProtectionEnabled"] is True, table.urn
