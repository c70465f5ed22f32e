"""The catalog's features as Stripe entitlement features on their plans' products."""

from __future__ import annotations

from typing import Any

from tests.infra.test_catalog import PLANS, with_plans
from tools.mock_engine import Recording, run_program

FEATURE = "stripe:index/entitlementsFeature:EntitlementsFeature"
ATTACHMENT = "stripe:index/productFeature:ProductFeature"
PRODUCT = "stripe:index/product:Product"


def attachments(recording: Recording) -> set[tuple[str, str]]:
    """(product resource name, feature lookup key) for every ProductFeature."""
    products = {r.id: r.name for r in recording.of_type(PRODUCT)}
    features = {r.id: r.inputs["lookupKey"] for r in recording.of_type(FEATURE)}
    return {
        (products[r.inputs["product"]], features[r.inputs["entitlementsFeature"]])
        for r in recording.of_type(ATTACHMENT)
    }


def test_each_distinct_feature_is_one_stack_scoped_entitlement_feature() -> None:
    plans: Any = [*PLANS, {"id": "team", "name": "Team", "prices": {"monthly": 5000},
                            "features": ["reports", "sso"]}]  # fmt: skip
    recording = run_program(with_plans(plans))
    keys = sorted(r.inputs["lookupKey"] for r in recording.of_type(FEATURE))
    assert keys == ["dev-saas-billing-api", "dev-saas-billing-reports", "dev-saas-billing-sso"]
    assert attachments(recording) == {
        ("stripe-pro-product", "dev-saas-billing-reports"),
        ("stripe-pro-product", "dev-saas-billing-api"),
        ("stripe-team-product", "dev-saas-billing-reports"),
        ("stripe-team-product", "dev-saas-billing-sso"),
    }


def test_removing_a_feature_from_a_plan_detaches_only_it() -> None:
    before = run_program(with_plans())
    fewer: Any = [PLANS[0], {**PLANS[1], "features": ["reports"]}]
    after = run_program(with_plans(fewer))
    gone = {r.name for r in before.resources} - {r.name for r in after.resources}
    assert gone == {"stripe-entitlements-pro-api", "stripe-entitlements-api"}
    assert attachments(after) == {("stripe-pro-product", "dev-saas-billing-reports")}


def test_a_catalog_without_features_declares_no_entitlements() -> None:
    recording = run_program(with_plans([PLANS[0]]))
    assert not recording.of_type(FEATURE) and not recording.of_type(ATTACHMENT)
