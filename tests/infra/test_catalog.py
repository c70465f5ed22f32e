"""The catalog from stack config: plans, their Stripe resources, the document, the upgrade."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from billing.config import SettingsError
from tools.mock_engine import FRONTEND_ORIGIN, PROJECT, Recording, base_config, run_program

PRODUCT = "stripe:index/product:Product"
PRICE = "stripe:index/price:Price"
PORTAL = "stripe:index/portalConfiguration:PortalConfiguration"
LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_single_plan_registrations.json"

PLANS: list[dict[str, Any]] = [
    {"id": "basic", "name": "Basic", "prices": {"monthly": 900, "annual": 9000}},
    {
        "id": "pro",
        "name": "Pro",
        "description": "For growing teams",
        "prices": {"monthly": 2900},
        "trialDays": 14,
        "features": ["reports", "api"],
    },
]


def with_plans(plans: Any = PLANS, **overrides: Any) -> dict[str, Any]:
    config = base_config("dev", **{f"{PROJECT}:plans": plans})
    config.update({f"{PROJECT}:{key}": value for key, value in overrides.items()})
    return config


@pytest.fixture(scope="module")
def two_plans() -> Recording:
    return run_program(with_plans())


def document(recording: Recording) -> dict[str, Any]:
    version = recording.one("aws:secretsmanager/secretVersion:SecretVersion")
    return json.loads(version.inputs["secretString"])


def test_one_product_per_plan_with_its_own_prices(two_plans: Recording) -> None:
    products = {p.name: p.inputs for p in two_plans.of_type(PRODUCT)}
    assert set(products) == {"stripe-basic-product", "stripe-pro-product"}
    assert products["stripe-pro-product"]["name"] == "Pro"
    assert products["stripe-pro-product"]["description"] == "For growing teams"
    assert products["stripe-pro-product"]["metadata"]["planId"] == "pro"
    prices = {p.name: p.inputs for p in two_plans.of_type(PRICE)}
    assert set(prices) == {
        "stripe-basic-monthly-price",
        "stripe-basic-annual-price",
        "stripe-pro-monthly-price",
    }
    assert prices["stripe-pro-monthly-price"]["unitAmount"] == 2900
    assert prices["stripe-basic-annual-price"]["recurring"]["interval"] == "year"


def test_lookup_keys_are_scoped_by_stack_plan_and_interval(two_plans: Recording) -> None:
    keys = {p.name: p.inputs["lookupKey"] for p in two_plans.of_type(PRICE)}
    assert keys == {
        "stripe-basic-monthly-price": "dev-saas-billing-basic-monthly",
        "stripe-basic-annual-price": "dev-saas-billing-basic-annual",
        "stripe-pro-monthly-price": "dev-saas-billing-pro-monthly",
    }
    for price in two_plans.of_type(PRICE):
        assert price.inputs["transferLookupKey"] is True
        assert price.hooks["before_delete"] == ["stripe-archive-price"], price.urn


def test_the_portal_offers_every_plans_prices_for_switching(two_plans: Recording) -> None:
    products = {p.inputs["name"]: p.id for p in two_plans.of_type(PRODUCT)}
    price_ids = {p.name: p.id for p in two_plans.of_type(PRICE)}
    update = two_plans.one(PORTAL).inputs["features"]["subscriptionUpdates"][0]
    assert update["products"] == [
        {
            "product": products["Basic"],
            "prices": [
                price_ids["stripe-basic-monthly-price"],
                price_ids["stripe-basic-annual-price"],
            ],
        },
        {"product": products["Pro"], "prices": [price_ids["stripe-pro-monthly-price"]]},
    ]
    assert update["defaultAllowedUpdates"] == ["price"]


def test_the_document_holds_the_whole_catalog(two_plans: Recording) -> None:
    doc = document(two_plans)
    price_ids = {p.name: p.id for p in two_plans.of_type(PRICE)}
    catalog = doc["stripe_catalog"]
    assert catalog["currency"] == "usd"
    assert [plan["id"] for plan in catalog["plans"]] == ["basic", "pro"]
    pro = catalog["plans"][1]
    assert pro == {
        "id": "pro",
        "name": "Pro",
        "description": "For growing teams",
        "productId": next(p.id for p in two_plans.of_type(PRODUCT) if p.inputs["name"] == "Pro"),
        "trialDays": 14,
        "features": ["reports", "api"],
        "prices": {
            "monthly": {
                "id": price_ids["stripe-pro-monthly-price"],
                "amount": 2900,
                "interval": "month",
            }
        },
    }
    assert doc["stripe_monthly_price_id"] == price_ids["stripe-basic-monthly-price"]
    assert doc["stripe_annual_price_id"] == price_ids["stripe-basic-annual-price"]
    assert set(two_plans.exports["catalog"]) == {"basic", "pro"}


def test_legacy_price_keys_come_from_the_first_plan_that_has_the_interval() -> None:
    plans = [PLANS[1], PLANS[0]]  # pro (monthly only) first
    recording = run_program(with_plans(plans))
    doc = document(recording)
    price_ids = {p.name: p.id for p in recording.of_type(PRICE)}
    assert doc["stripe_monthly_price_id"] == price_ids["stripe-pro-monthly-price"]
    assert doc["stripe_annual_price_id"] == price_ids["stripe-basic-annual-price"]


def test_checkout_options_reach_the_subscription_function() -> None:
    recording = run_program(
        with_plans(allowPromotionCodes=True, automaticTax=True, taxBehavior="exclusive")
    )
    function = recording.one("aws:lambda/function:Function", "subscription-function")
    variables = function.inputs["environment"]["variables"]
    assert variables["ALLOW_PROMOTION_CODES"] == "true"
    assert variables["AUTOMATIC_TAX"] == "true"


def test_stripe_tax_sets_a_tax_behaviour_on_every_price() -> None:
    recording = run_program(with_plans(automaticTax=True, taxBehavior="inclusive"))
    prices = recording.of_type(PRICE)
    assert prices and all(p.inputs["taxBehavior"] == "inclusive" for p in prices)


def test_without_stripe_tax_prices_keep_stripes_unspecified(two_plans: Recording) -> None:
    assert all("taxBehavior" not in p.inputs for p in two_plans.of_type(PRICE))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"automaticTax": True}, "taxBehavior is required when saas-billing:automaticTax"),
        ({"taxBehavior": "sometimes"}, "taxBehavior must be exclusive or inclusive"),
        ({"currency": "xyz"}, "currency xyz is not a currency Stripe charges in"),
    ],
)
def test_what_stripe_would_refuse_is_refused_offline(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        run_program(with_plans(**overrides))


@pytest.mark.parametrize("name", ["Acme", "A" * 60])
def test_the_portal_headline_never_exceeds_stripes_60_characters(name: str) -> None:
    recording = run_program(base_config("dev", **{f"{PROJECT}:productName": name}))
    headline = recording.one(PORTAL).inputs["businessProfile"]["headline"]
    assert len(headline) <= 60
    assert headline == ("Manage your Acme subscription" if name == "Acme" else "Manage your plan")


def test_the_shipped_dev_stack_shows_a_trial_usage_and_a_per_seat_plan() -> None:
    from tools import plan

    config, secret_keys = plan.stack_config("dev")
    plans = config[f"{PROJECT}:plans"]
    assert len(plans) == 4
    assert any(p.get("trialDays") and p.get("features") for p in plans)
    assert [p["id"] for p in plans if p.get("usage")] == ["api"]
    assert [p["id"] for p in plans if p.get("perSeat")] == ["team"]
    recording = run_program(config, secret_keys=tuple(secret_keys))
    assert len(recording.of_type(PRODUCT)) == 4


def bad(index: int, **fields: Any) -> list[dict[str, Any]]:
    plans = [dict(plan) for plan in PLANS]
    plans[index].update(fields)
    return [{k: v for k, v in plan.items() if v is not None} for plan in plans]


@pytest.mark.parametrize(
    ("plans", "message"),
    [
        ("basic", "plans must be structured"),
        ([], None),  # an empty list means the legacy plan, not an error
        (bad(1, id="basic"), "plans[1].id 'basic' is used by another plan"),
        (bad(0, id="Basic"), "plans[0].id must match"),
        (bad(0, id="a" * 25), "plans[0].id must match"),
        (bad(0, name=""), "plans[0] (basic).name is required"),
        (bad(0, prices={}), "plans[0] (basic).prices needs a monthly and/or an annual amount"),
        (bad(0, prices={"weekly": 100}), "plans[0] (basic).prices has unknown intervals"),
        (bad(1, prices={"monthly": 0}), "plans[1] (pro).prices.monthly must be a positive integer"),
        (bad(1, prices={"monthly": 9.5}), "plans[1] (pro).prices.monthly must be a positive"),
        (bad(1, trialDays=0), "plans[1] (pro).trialDays must be a whole number of days from 1"),
        (bad(1, trialDays=731), "plans[1] (pro).trialDays must be a whole number of days from 1"),
        (bad(1, features="reports"), "plans[1] (pro).features must be a list"),
        (bad(0, colour="blue"), "plans[0] (basic) has unknown fields ['colour']"),
        (
            [{"id": f"p{i}", "name": f"P{i}", "prices": {"monthly": 100}} for i in range(11)],
            "plans has 11 plans; the billing portal offers at most 10",
        ),
    ],
)
def test_every_plan_mistake_names_the_plan_and_the_field(plans: Any, message: str | None) -> None:
    if message is None:
        assert run_program(with_plans(plans)).of_type(PRODUCT)
        return
    with pytest.raises(SettingsError, match=re.escape(f"{PROJECT}:{message}")):
        run_program(with_plans(plans))


def test_older_single_plan_keys_beside_plans_are_refused() -> None:
    with pytest.raises(SettingsError, match="plans replaces saas-billing:monthlyAmount"):
        run_program(with_plans(monthlyAmount=1999))


# -- upgrading a stack that predates plans --------------------------------------------------


#: What decides create, replace or keep for Stripe resources (the golden file records these).
FIELDS = ("name", "unitAmount", "currency", "recurring", "lookupKey", "nickname", "metadata",
          "description", "product")  # fmt: skip


def stripe_registrations(
    recording: Recording, fields: tuple[str, ...] = (*FIELDS, "features")
) -> dict[str, dict[str, Any]]:
    return {
        r.urn: {
            "type": r.type,
            "inputs": {key: r.inputs[key] for key in fields if key in r.inputs},
            "replaceOnChanges": r.replace_on_changes,
        }
        for r in recording.resources
        if r.type.startswith("stripe:") or r.type == "billing:index:StripeCatalog"
    }


def test_a_stack_without_plans_upgrades_with_no_stripe_resource_replaced() -> None:
    """Registrations recorded from the program before plans existed, for the same config."""
    before = json.loads(LEGACY.read_text())
    after = stripe_registrations(run_program(base_config("dev")), FIELDS)
    assert set(after) == set(before), "a changed URN would create a new resource and delete one"
    for urn, old in before.items():
        assert after[urn] == old, f"{urn} would change"


def test_adding_a_plan_touches_only_that_plans_resources(two_plans: Recording) -> None:
    three = run_program(
        with_plans([*PLANS, {"id": "team", "name": "Team", "prices": {"annual": 50000}}])
    )
    before, after = stripe_registrations(two_plans), stripe_registrations(three)
    added = set(after) - set(before)
    assert {urn.rsplit("::", 1)[1] for urn in added} == {
        "stripe-team-product",
        "stripe-team-annual-price",
    }
    changed = {urn for urn in before if after.get(urn) != before[urn]}
    assert {urn.rsplit("::", 1)[1] for urn in changed} == {"stripe-portal-configuration"}


def test_removing_a_plan_deletes_only_its_resources_and_archives_its_prices(
    two_plans: Recording,
) -> None:
    one = run_program(with_plans([PLANS[0]]))
    before, after = stripe_registrations(two_plans), stripe_registrations(one)
    removed = {urn.rsplit("::", 1)[1] for urn in set(before) - set(after)}
    entitlements = {"stripe-entitlements-reports", "stripe-entitlements-api",
                    "stripe-entitlements-pro-reports", "stripe-entitlements-pro-api"}  # fmt: skip
    assert removed == {"stripe-pro-product", "stripe-pro-monthly-price", *entitlements}
    pro = next(r for r in two_plans.of_type(PRODUCT) if r.name == "stripe-pro-product")
    assert pro.retain_on_delete, "a product with prices cannot be deleted in Stripe"
    pro_price = next(r for r in two_plans.of_type(PRICE) if r.name == "stripe-pro-monthly-price")
    assert pro_price.hooks["before_delete"] == ["stripe-archive-price"]


def test_renaming_a_plan_updates_its_product_in_place(two_plans: Recording) -> None:
    renamed = run_program(with_plans(bad(1, name="Professional")))
    before, after = stripe_registrations(two_plans), stripe_registrations(renamed)
    assert set(before) == set(after)
    product = next(urn for urn in after if urn.endswith("::stripe-pro-product"))
    assert after[product]["inputs"]["name"] == "Professional"


def test_redirect_paths_reach_the_function_and_the_portal() -> None:
    recording = run_program(
        with_plans(
            checkoutSuccessPath="/welcome",
            checkoutCancelPath="/pricing",
            portalReturnPath="/settings/billing",
        )
    )
    variables = recording.one("aws:lambda/function:Function", "subscription-function").inputs[
        "environment"
    ]["variables"]
    assert (variables["CHECKOUT_SUCCESS_PATH"], variables["CHECKOUT_CANCEL_PATH"]) == (
        "/welcome",
        "/pricing",
    )
    assert variables["PORTAL_RETURN_PATH"] == "/settings/billing"
    portal = recording.one(PORTAL).inputs
    assert portal["defaultReturnUrl"] == FRONTEND_ORIGIN + "/settings/billing"


@pytest.mark.parametrize("path", ["billing/success", "https://evil.example/x", "/a?b=c", "//x"])
def test_a_redirect_path_that_is_not_a_path_is_refused(path: str) -> None:
    with pytest.raises(SettingsError, match="checkoutSuccessPath must be a path"):
        run_program(with_plans(checkoutSuccessPath=path))
