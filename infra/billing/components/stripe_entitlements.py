"""The catalog's features as Stripe entitlement features, attached to their plans' products.

Stripe, not the app, then decides what a customer may use: its active entitlements follow its
subscriptions (a subscription made in the Dashboard, or on another plan, entitles just as one
made through Checkout), and the webhook stores them (`shared.entitlements`).

Each distinct feature is one `stripe.EntitlementsFeature` named `{name}-{feature}` with the
lookup key `{environment}-{projectName}-{feature}` (stacks share accounts, and a lookup key is
unique in one). Each (plan, feature) is one `stripe.ProductFeature` named
`{name}-{plan id}-{feature}`: removing a feature from a plan deletes that attachment, which
detaches it in Stripe, and the customers' entitlements follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_stripe as stripe


@dataclass(frozen=True)
class PlanFeatures:
    """One plan's product and the features it grants."""

    plan_id: str
    product_id: pulumi.Input[str]
    features: Sequence[str]


@dataclass(frozen=True)
class StripeEntitlementsArgs:
    plans: Sequence[PlanFeatures]
    lookup_key_prefix: str
    """`{environment}-{project}`: scopes each feature's lookup key to the stack."""


class StripeEntitlements(pulumi.ComponentResource):
    """Entitlement features and their attachments to products."""

    feature_ids: dict[str, pulumi.Output[str]]
    """Feature (unscoped) → Stripe's `feat_` id."""

    def __init__(
        self, name: str, args: StripeEntitlementsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:StripeEntitlements", name, None, opts)
        features = sorted({feature for plan in args.plans for feature in plan.features})
        self.feature_ids = {
            feature: stripe.EntitlementsFeature(
                f"{name}-{feature}",
                name=feature,
                lookup_key=f"{args.lookup_key_prefix}-{feature}",
                metadata={"managedBy": "pulumi", "stack": args.lookup_key_prefix},
                opts=pulumi.ResourceOptions(parent=self),
            ).id
            for feature in features
        }
        for plan in args.plans:
            for feature in plan.features:
                stripe.ProductFeature(
                    f"{name}-{plan.plan_id}-{feature}",
                    product=plan.product_id,
                    entitlements_feature=self.feature_ids[feature],
                    opts=pulumi.ResourceOptions(parent=self),
                )
        self.register_outputs({"featureIds": self.feature_ids})
