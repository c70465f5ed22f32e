"""Each settings section parses its own keys, alone, and names the key in every refusal."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.runtime.config import set_all_config

from billing.config import SettingsError
from billing.config.api import parse_api
from billing.config.catalog import parse_catalog
from billing.config.operations import parse_operations
from billing.config.organizations import parse_organizations
from billing.config.secrets import parse_secrets
from billing.config.stripe import parse_stripe
from tools.mock_engine import PROJECT, fake_stripe_key


def project_config(secret: tuple[str, ...] = (), **values: Any) -> pulumi.Config:
    """`<project>:<key>` config as the engine hands it to the program (`secret` keys encrypted)."""

    def full_key(key: str) -> str:
        return key if ":" in key else f"{PROJECT}:{key}"

    full = {
        full_key(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
    }
    set_all_config(full, [full_key(key) for key in secret])
    return pulumi.Config(PROJECT)


def test_stripe_takes_test_keys_off_production_and_keeps_them_secret() -> None:
    config = project_config(
        ("stripe:apiKey",),
        **{"stripe:apiKey": fake_stripe_key("sk"), "stripePublishableKey": fake_stripe_key("pk")},
    )
    settings = parse_stripe(config, pulumi.Config("stripe"), production=False)
    assert settings.provider_key == fake_stripe_key("sk")
    with pytest.raises(SettingsError, match="stripe:apiKey must be a live key"):
        parse_stripe(config, pulumi.Config("stripe"), production=True)


def test_stripe_refuses_a_key_stored_in_plain_text() -> None:
    config = project_config((), **{"stripe:apiKey": fake_stripe_key("sk")})
    with pytest.raises(SettingsError, match="stripe:apiKey must be a secret"):
        parse_stripe(config, pulumi.Config("stripe"), production=False)


def test_catalog_defaults_to_the_legacy_plan_in_usd() -> None:
    catalog = parse_catalog(project_config())
    assert catalog.currency == "usd" and [p.legacy for p in catalog.plans] == [True]
    assert catalog.tax_behavior is None and catalog.automatic_tax is False


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"currency": "xyz"}, "currency xyz is not a currency Stripe charges in"),
        ({"automaticTax": True}, f"{PROJECT}:taxBehavior is required"),
        ({"plans": [{"id": "Bad Id", "name": "x", "prices": {"monthly": 1}}]}, "plans"),
    ],
)
def test_catalog_refusals_name_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_catalog(project_config(**values))


def test_api_reads_origin_issuer_audience_and_paths() -> None:
    config = project_config(
        frontendDomain="https://app.acme-billing.test/",
        jwtIssuer="https://auth.acme-billing.test/",
        jwtAudience=["billing-api"],
        checkoutSuccessPath="/welcome",
    )
    api = parse_api(config, production=True)
    assert api.frontend_domain == "https://app.acme-billing.test"
    assert api.redirect_paths["checkoutSuccessPath"] == "/welcome"
    assert api.domain is None and api.throttle_rate_limit == 50


def test_api_on_production_refuses_an_example_origin() -> None:
    config = project_config(
        frontendDomain="https://app.example.com",
        jwtIssuer="https://auth.acme-billing.test/",
        jwtAudience=["billing-api"],
    )
    with pytest.raises(SettingsError, match="frontendDomain still holds a placeholder"):
        parse_api(config, production=True)


def test_secrets_section_refuses_a_reserved_app_secret_and_a_short_recovery() -> None:
    with pytest.raises(SettingsError, match="secretRecoveryWindowDays must be between 7 and 30"):
        parse_secrets(project_config(secretRecoveryWindowDays=0))
    config = project_config(("appSecrets",), appSecrets={"stripe_secret_key": "x"})
    with pytest.raises(SettingsError, match=r"appSecrets\.stripe_secret_key collides"):
        parse_secrets(config)
    assert parse_secrets(project_config()).cache_ttl_seconds == 300


def test_operations_section_defaults_and_refusals() -> None:
    operations = parse_operations(project_config())
    assert (operations.log_level, operations.reconcile_interval_minutes) == ("INFO", 60)
    with pytest.raises(SettingsError, match="logLevel must be one of DEBUG, INFO, WARN"):
        parse_operations(project_config(logLevel="ERROR"))
    with pytest.raises(SettingsError, match="alarmEmail must be an e-mail address"):
        parse_operations(project_config(alarmEmail="not-an-address"))


TEAM_PLAN = {"id": "team", "name": "Team", "prices": {"monthly": 1200}, "perSeat": True}


def test_organizations_are_off_on_a_b2c_stack() -> None:
    config = project_config(plans=[{"id": "pro", "name": "Pro", "prices": {"monthly": 900}}])
    settings = parse_organizations(config, parse_catalog(config))
    assert (settings.enabled, settings.seat_proration_behavior) == (False, "create_prorations")


def test_organizations_take_the_claim_the_admin_claim_and_its_values() -> None:
    config = project_config(
        plans=[TEAM_PLAN], organizationClaim="custom:org_id", organizationAdminClaim="org_role",
        organizationAdminValues=["admin", "owner"], seatProrationBehavior="always_invoice",
    )  # fmt: skip
    settings = parse_organizations(config, parse_catalog(config))
    assert settings.claim == "custom:org_id" and settings.admin_values == ("admin", "owner")
    assert settings.seat_proration_behavior == "always_invoice"
    assert parse_catalog(config).plans[0].per_seat is True


@pytest.mark.parametrize(
    ("values", "refusal"),
    [
        ({"organizationClaim": "org_id"}, "organizationClaim needs"),
        ({"organizationAdminClaim": "org_role"}, "need saas-billing:organizationClaim"),
        ({"plans": [TEAM_PLAN]}, "sells team per seat"),
        ({"seatProrationBehavior": "sometimes"}, "seatProrationBehavior must be one of"),
        ({"organizationClaim": "org id"}, "must be a JWT claim name"),
        ({"organizationClaim": "org_id", "organizationAdminClaim": "role",
          "organizationAdminValues": []}, "organizationAdminValues must be a non-empty list"),
    ],
)  # fmt: skip
def test_organization_settings_refuse_what_cannot_work(
    values: dict[str, Any], refusal: str
) -> None:
    config = project_config(
        **{"plans": [{"id": "pro", "name": "Pro", "prices": {"monthly": 900}}], **values}
    )
    with pytest.raises(SettingsError, match=refusal):
        parse_organizations(config, parse_catalog(config))


def test_a_plans_per_seat_flag_is_a_boolean() -> None:
    config = project_config(plans=[{**TEAM_PLAN, "perSeat": "yes"}])
    with pytest.raises(Exception, match=r"perSeat must be true or false"):
        parse_catalog(config)
