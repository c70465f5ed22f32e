"""What a real `pulumi up` does that mocks would let slide: archiving, settling, ordering, names.

Mocks accept any property, so each test here pins a behaviour to what the providers and AWS
actually do (see the docstrings of `billing.components.stripe_archive`, `billing.config.names` and
`billing.components.stripe_catalog`), and the archiving runs against the loopback Stripe fake.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from billing.components.stripe_archive import archive_price_hook, deactivate_portal_hook
from billing.components.stripe_catalog import CANCELLATION_REASONS
from billing.config import SettingsError
from billing.config.names import LIMITS, StackNames
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import (
    PROJECT,
    Recording,
    base_config,
    dev_config,
    fake_stripe_key,
    run_program,
)

PRICE = "stripe:index/price:Price"
PORTAL = "stripe:index/portalConfiguration:PortalConfiguration"
LONGEST_STACK = "s" * 31  # `{stack}-saas-billing-stripe-webhook-role` is then exactly 64


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program(base_config("dev"))


@pytest.fixture
def stripe_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeFake]:
    fake = StripeFake().start()
    monkeypatch.setenv("STRIPE_API_BASE", fake.base_url)
    yield fake
    fake.stop()


def hook_args(object_id: str) -> pulumi.ResourceHookArgs:
    return pulumi.ResourceHookArgs(urn="urn:test", id=object_id, name="test", type=PRICE)


# -- archiving what the provider only forgets ---------------------------------------------------


def test_every_price_and_the_portal_configuration_archive_before_delete(dev: Recording) -> None:
    prices = dev.of_type(PRICE)
    assert len(prices) == 2
    for resource in [*prices, dev.one(PORTAL)]:
        names = resource.hooks.get("before_delete", [])
        assert len(names) == 1, f"{resource.urn} has no before_delete hook"
        assert names[0] in dev.hooks, f"{names[0]} was bound but never registered"
    assert {p.hooks["before_delete"][0] for p in prices} == {"stripe-archive-price"}
    assert dev.one(PORTAL).hooks["before_delete"] == ["stripe-deactivate-portal-configuration"]


def test_the_price_hook_archives_the_deleted_price(stripe_fake: StripeFake) -> None:
    key = fake_stripe_key("sk", "test")
    stripe_fake.state.valid_keys.add(key)
    stripe_fake.add_price("price_old", "month", 999)
    stripe_fake.add_price("price_kept", "month", 1999)
    archive_price_hook(key)(hook_args("price_old"))
    assert stripe_fake.state.objects["price_old"]["active"] is False
    assert stripe_fake.state.objects["price_kept"]["active"] is True
    (request,) = stripe_fake.requests_to("POST", "/v1/prices/")
    assert request.params == {"active": "false"} and request.api_key == key


def test_the_portal_hook_deactivates_the_deleted_configuration(stripe_fake: StripeFake) -> None:
    key = fake_stripe_key("sk", "test")
    stripe_fake.state.valid_keys.add(key)
    stripe_fake.add_portal_configuration("bpc_old")
    deactivate_portal_hook(key)(hook_args("bpc_old"))
    assert stripe_fake.state.objects["bpc_old"]["active"] is False


def test_archiving_is_idempotent_and_ignores_other_objects(stripe_fake: StripeFake) -> None:
    key = fake_stripe_key("sk", "test")
    stripe_fake.state.valid_keys.add(key)
    archive_price_hook(key)(hook_args("price_gone"))  # already gone from Stripe: no error
    archive_price_hook(key)(hook_args("prod_not_a_price"))  # never sent to Stripe
    assert [r.path for r in stripe_fake.state.requests] == ["/v1/prices/price_gone"]


def test_a_failed_archive_fails_the_delete_so_the_next_up_retries(
    stripe_fake: StripeFake,
) -> None:
    import stripe

    stripe_fake.add_price("price_old", "month", 999)
    with pytest.raises(stripe.AuthenticationError):  # the fake knows no key yet
        archive_price_hook(fake_stripe_key("sk", "test"))(hook_args("price_old"))
    assert stripe_fake.state.objects["price_old"]["active"] is True


# -- a configuration that settles, functions that wait for their policy ------------------------


def test_the_portal_configuration_sets_what_stripe_always_returns(dev: Recording) -> None:
    cancel = dev.one(PORTAL).inputs["features"]["subscriptionCancel"]
    assert cancel["cancellationReason"] == {
        "enabled": True,
        "options": list(CANCELLATION_REASONS),
    }
    assert cancel["mode"] == "at_period_end" and cancel["prorationBehavior"] == "none"


def test_each_function_waits_for_its_role_policy(dev: Recording) -> None:
    for prefix in ("subscription", "stripe-webhook"):
        function = dev.one("aws:lambda/function:Function", f"{prefix}-function")
        policy = dev.one("aws:iam/rolePolicy:RolePolicy", f"{prefix}-policy")
        assert policy.urn in function.dependencies, f"{function.urn} may run before its policy"


# -- names valid for every accepted stack name --------------------------------------------------


def test_every_physical_name_has_a_limit() -> None:
    names = StackNames.for_stack("dev", PROJECT).all()
    assert set(names) - {"prefix"} == set(LIMITS)


def test_the_longest_accepted_stack_name_gives_valid_aws_names() -> None:
    recording = run_program(base_config(LONGEST_STACK), stack=LONGEST_STACK)
    lambda_name = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
    for function in recording.of_type("aws:lambda/function:Function"):
        assert lambda_name.match(function.inputs["name"]), function.inputs["name"]
    for role in recording.of_type("aws:iam/role:Role"):
        assert len(role.inputs["name"]) <= 64, role.inputs["name"]
    assert max(len(r.inputs["name"]) for r in recording.of_type("aws:iam/role:Role")) == 64
    layer = recording.one("aws:lambda/layerVersion:LayerVersion").inputs["layerName"]
    assert re.match(r"^[A-Za-z0-9_-]{1,140}$", layer)
    for table in recording.of_type("aws:dynamodb/table:Table"):
        assert re.match(r"^[A-Za-z0-9_.-]{3,255}$", table.inputs["name"])
    for price in recording.of_type(PRICE):
        assert len(price.inputs["lookupKey"]) <= 200


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("s" * 32, "over the 64-character limit of IAM role names"),
        ("dev.eu", "may hold only letters, digits, '-' and '_'"),
        ("-dev", "may hold only letters, digits"),
    ],
)
def test_a_stack_name_aws_would_refuse_is_a_settings_error(stack: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        run_program(base_config(stack), stack=stack)


def test_the_length_error_says_how_long_a_stack_name_may_be() -> None:
    with pytest.raises(SettingsError, match="at most 31 characters"):
        run_program(base_config("s" * 40), stack="s" * 40)


# -- settings the offline plan must refuse as the real deploy would -----------------------------


def test_an_unknown_key_names_the_closest_known_one() -> None:
    with pytest.raises(SettingsError, match=r"monthlyAmmount .*did you mean saas-billing:monthly"):
        run_program(dev_config(monthlyAmmount=1999))


def test_a_multi_region_kms_key_is_accepted() -> None:
    arn = f"arn:aws:kms:us-east-1:123456789012:key/mrk-{'0a' * 16}"
    recording = run_program(dev_config(secretKmsKeyArn=arn))
    assert recording.one("aws:secretsmanager/secret:Secret").inputs["kmsKeyId"] == arn


def test_an_alias_is_not_a_kms_key_arn() -> None:
    with pytest.raises(SettingsError, match="secretKmsKeyArn must be a KMS key ARN"):
        run_program(dev_config(secretKmsKeyArn="arn:aws:kms:us-east-1:123456789012:alias/x"))


def test_app_secrets_given_as_a_secret_string_is_refused_without_echoing_it() -> None:
    value = "AC" + "FAKE" * 8
    with pytest.raises(SettingsError, match="appSecrets must be an object") as raised:
        run_program(dev_config(appSecrets=value))
    assert value not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_a_jwt_audience_string_is_a_settings_error_not_a_traceback() -> None:
    with pytest.raises(SettingsError, match="jwtAudience must be structured") as raised:
        run_program(dev_config(jwtAudience="my-client-id"))
    assert "my-client-id" not in str(raised.value)


def test_a_mistyped_integer_never_echoes_its_value() -> None:
    with pytest.raises(SettingsError, match="throttleRateLimit must be an integer") as raised:
        run_program(dev_config(throttleRateLimit="lots-and-lots"))
    assert "lots-and-lots" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {"jwtIssuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"},
            "jwtIssuer",
        ),
        ({"jwtAudience": ["example-client-id"]}, "jwtAudience"),
        ({"frontendDomain": "http://app.acme.test"}, "frontendDomain"),
        ({"frontendDomain": "https://localhost:3000"}, "frontendDomain"),
        ({"frontendDomain": "https://app.example.com"}, "frontendDomain still holds a placeholder"),
        ({"frontendDomain": "https://staging.app.example.org"}, "frontendDomain still holds"),
    ],
)
def test_production_refuses_the_shipped_placeholders(
    overrides: dict[str, Any], problem: str
) -> None:
    config = base_config("prod", **{f"{PROJECT}:{k}": v for k, v in overrides.items()})
    with pytest.raises(SettingsError, match=f"refuses placeholders: saas-billing:{problem}"):
        run_program(config, stack="prod")


@pytest.mark.parametrize("namespace", ["sass-billing", "saas_billing"])
def test_a_misspelt_namespace_is_refused_like_an_unknown_key(namespace: str) -> None:
    config = base_config("dev", **{f"{namespace}:alarmEmail": "oncall@acme-billing.test"})
    with pytest.raises(SettingsError, match=f"{namespace}:alarmEmail is not a setting.*"
                       f"did you mean {PROJECT}:alarmEmail"):  # fmt: skip
        run_program(config)


def test_other_stacks_accept_the_placeholders() -> None:
    recording = run_program(
        dev_config(
            frontendDomain="http://localhost:3000",
            jwtIssuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE",
            jwtAudience=["example-client-id"],
        )
    )
    assert recording.of_type("aws:lambda/function:Function")


def test_code_is_uploaded_from_folders_hashed_by_content(dev: Recording) -> None:
    from pathlib import Path

    from billing.build.packaging import build_function_archive, build_layer_archive

    expected = {
        "shared-layer-version": build_layer_archive(),
        "subscription-function": build_function_archive("subscription"),
        "stripe-webhook-function": build_function_archive("stripe_webhook"),
    }
    for name, archive in expected.items():
        resource = next(r for r in dev.resources if r.name == name)
        assert Path(resource.inputs["code"]["fileArchive"]) == archive.directory, name
        assert archive.directory.is_dir()
        assert resource.inputs["sourceCodeHash"] == archive.sha256, name


def test_a_new_pinned_api_version_replaces_the_webhook_endpoint(dev: Recording) -> None:
    endpoint = dev.one("stripe:index/webhookEndpoint:WebhookEndpoint")
    assert endpoint.replace_on_changes == ["apiVersion"]
