"""The Stripe catalog: a product, its monthly and annual prices, a billing portal configuration."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_stripe as stripe

from billing.stripe_archive import archiving_hooks

#: Reasons the portal asks a cancelling customer for, in the order Stripe returns them. Stripe
#: always returns `cancellation_reason` (disabled with no options when unset), and the provider
#: reads it back into state, so leaving it unset makes every preview show an update; setting
#: it explicitly lets the configuration settle, and the answers are worth having.
CANCELLATION_REASONS = (
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
)


@dataclass(frozen=True)
class StripeCatalogArgs:
    """What the catalog sells."""

    product_name: str
    """The product's name, shown on Checkout and invoices."""
    currency: str
    """Lowercase ISO currency code of both prices."""
    monthly_amount: int
    """Monthly price in the currency's smallest unit (cents)."""
    annual_amount: int
    """Annual price in the currency's smallest unit."""
    lookup_key_prefix: str
    """`{environment}-{project}`: scopes lookup keys so stacks sharing an account never collide."""
    return_url: str
    """Where the billing portal sends customers back to."""
    admin_api_key: str
    """stripe:apiKey, for the hooks that archive replaced or destroyed prices and configurations."""


class StripeCatalog(pulumi.ComponentResource):
    """Product, prices and portal configuration.

    A Stripe price's amount is immutable: changing one replaces the price. The replacement is
    created first with `transfer_lookup_key`, so it takes the lookup key over atomically, then
    a `before_delete` hook archives the old price (the provider only forgets it; see
    `billing.stripe_archive`). The portal configuration is deactivated the same way when it is
    replaced or destroyed. The product is retained on delete, since Stripe refuses to delete a
    product that has prices, so `pulumi destroy` succeeds and leaves the product and its
    archived prices in the account's history.
    """

    product_id: pulumi.Output[str]
    monthly_price_id: pulumi.Output[str]
    annual_price_id: pulumi.Output[str]
    portal_configuration_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: StripeCatalogArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:StripeCatalog", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        metadata = {"managedBy": "pulumi", "stack": args.lookup_key_prefix}
        hooks = archiving_hooks(name, args.admin_api_key)

        product = stripe.Product(
            f"{name}-product",
            name=args.product_name,
            metadata=metadata,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True)),
        )
        price_opts = pulumi.ResourceOptions.merge(
            child,
            pulumi.ResourceOptions(
                replace_on_changes=["unitAmount", "currency", "recurring"],
                hooks=pulumi.ResourceHookBinding(before_delete=[hooks.price]),
            ),
        )
        prices = {
            plan: stripe.Price(
                f"{name}-{plan}-price",
                product=product.id,
                currency=args.currency,
                unit_amount=amount,
                recurring=stripe.PriceRecurringArgs(interval=interval, interval_count=1),
                lookup_key=f"{args.lookup_key_prefix}-{plan}",
                transfer_lookup_key=True,
                nickname=f"{args.product_name} ({plan})",
                metadata={**metadata, "plan": plan},
                opts=price_opts,
            )
            for plan, interval, amount in (
                ("monthly", "month", args.monthly_amount),
                ("annual", "year", args.annual_amount),
            )
        }
        portal = stripe.PortalConfiguration(
            f"{name}-portal-configuration",
            business_profile=stripe.PortalConfigurationBusinessProfileArgs(
                headline=f"Manage your {args.product_name} subscription",
            ),
            default_return_url=args.return_url,
            features=stripe.PortalConfigurationFeaturesArgs(
                invoice_history=stripe.PortalConfigurationFeaturesInvoiceHistoryArgs(enabled=True),
                payment_method_update=stripe.PortalConfigurationFeaturesPaymentMethodUpdateArgs(
                    enabled=True
                ),
                subscription_cancel=stripe.PortalConfigurationFeaturesSubscriptionCancelArgs(
                    enabled=True,
                    mode="at_period_end",
                    proration_behavior="none",
                    cancellation_reason=(
                        stripe.PortalConfigurationFeaturesSubscriptionCancelCancellationReasonArgs(
                            enabled=True, options=list(CANCELLATION_REASONS)
                        )
                    ),
                ),
                subscription_updates=[
                    stripe.PortalConfigurationFeaturesSubscriptionUpdateArgs(
                        enabled=True,
                        default_allowed_updates=["price"],
                        proration_behavior="create_prorations",
                        products=[
                            stripe.PortalConfigurationFeaturesSubscriptionUpdateProductArgs(
                                product=product.id,
                                prices=[prices["monthly"].id, prices["annual"].id],
                            )
                        ],
                    )
                ],
            ),
            metadata=metadata,
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    hooks=pulumi.ResourceHookBinding(before_delete=[hooks.portal_configuration])
                ),
            ),
        )

        self.product_id = product.id
        self.monthly_price_id = prices["monthly"].id
        self.annual_price_id = prices["annual"].id
        self.portal_configuration_id = portal.id
        self.register_outputs(
            {
                "productId": self.product_id,
                "monthlyPriceId": self.monthly_price_id,
                "annualPriceId": self.annual_price_id,
                "portalConfigurationId": self.portal_configuration_id,
            }
        )
