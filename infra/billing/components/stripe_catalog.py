"""The Stripe catalog: a product and its prices per plan, and a billing portal configuration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_stripe as stripe

from billing.components.stripe_archive import archiving_hooks
from billing.config.catalog import INTERVALS, Plan
from billing.config.meters import Meter
from billing.contract import contract

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


#: Stripe refuses a portal headline longer than this (business_profile.headline, maxLength 60).
HEADLINE_MAX_LENGTH = 60


def portal_headline(product_name: str | None) -> str:
    """The portal's headline: names the product when it fits Stripe's 60 characters."""
    named = f"Manage your {product_name} subscription" if product_name else ""
    return named if named and len(named) <= HEADLINE_MAX_LENGTH else "Manage your plan"


@dataclass(frozen=True)
class StripeCatalogArgs:
    """What the catalog sells."""

    plans: Sequence[Plan]
    """The plans, in the order the pricing page shows them."""
    currency: str
    """Lowercase ISO currency code of every price."""
    lookup_key_prefix: str
    """`{environment}-{project}`: scopes lookup keys so stacks sharing an account never collide."""
    return_url: str
    """Where the billing portal sends customers back to."""
    admin_api_key: str
    """stripe:apiKey, for the hooks that archive replaced or destroyed prices and configurations."""
    tax_behavior: str | None = None
    """`exclusive` or `inclusive` on every price (Stripe Tax needs one); None leaves Stripe's
    `unspecified`. Stripe lets a price's behaviour be set once, never changed: a stack that
    changes it needs new prices (a changed amount or plan id makes them)."""
    meters: Sequence[Meter] = ()
    """The stack's meters; plans' `usage` names them by id."""
    event_name_prefix: str = ""
    """`{environment}_{project}_`: a meter's event name is this and its id."""


@dataclass(frozen=True)
class PlanResources:
    """One plan's Stripe ids."""

    plan: Plan
    product_id: pulumi.Output[str]
    price_ids: dict[str, pulumi.Output[str]]
    """Interval (`monthly`, `annual`) → price id."""
    usage_price_ids: dict[str, dict[str, pulumi.Output[str]]] = field(default_factory=dict)
    """Meter id → interval → metered price id."""

    def catalog_plan(self) -> contract.CatalogPlan:
        """The plan as the secret document's `stripe_catalog` holds it (ids are outputs)."""
        return contract.CatalogPlan(
            id=self.plan.id,
            name=self.plan.name,
            description=self.plan.description,
            product_id=self.product_id,
            trial_days=self.plan.trial_days,
            features=tuple(self.plan.features),
            per_seat=self.plan.per_seat,
            prices={
                interval: contract.CatalogPrice(
                    price_id, self.plan.prices[interval], INTERVALS[interval]
                )
                for interval, price_id in self.price_ids.items()
            },
            usage={
                meter_id: {
                    interval: contract.CatalogUsagePrice(price_id, self.plan.usage[meter_id])
                    for interval, price_id in prices.items()
                }
                for meter_id, prices in self.usage_price_ids.items()
            },
        )


class StripeCatalog(pulumi.ComponentResource):
    """One product and its prices per plan, and a portal configuration to switch between them.

    A Stripe price's amount is immutable: changing one replaces the price. The replacement is
    created first with `transfer_lookup_key`, so it takes the lookup key over atomically, then
    a `before_delete` hook archives the old price (the provider only forgets it; see
    `billing.components.stripe_archive`). The portal configuration is deactivated the same way
    when it is replaced or destroyed. Products are retained on delete, since Stripe refuses to
    delete a product that has prices, so `pulumi destroy` succeeds and leaves the products and
    their archived prices in the account's history.

    Logical names are per plan (`{name}-{plan id}-product`, `{name}-{plan id}-{interval}-price`),
    so adding, renaming or removing a plan touches only that plan's resources. The legacy plan
    (no `plans` in config) keeps the names it always had (`{name}-product`,
    `{name}-{interval}-price`), so an existing stack upgrades with nothing replaced.
    """

    plans: list[PlanResources]
    meter_ids: dict[str, pulumi.Output[str]]
    """Meter config id → Stripe's `mtr_` id."""
    portal_configuration_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: StripeCatalogArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:StripeCatalog", name, None, opts)
        self._name = name
        self._args = args
        self._hooks = archiving_hooks(name, args.admin_api_key)
        self.meter_ids = {meter.id: self._meter(meter).id for meter in args.meters}
        self.plans = [self._plan(plan) for plan in args.plans]
        portal = self._portal_configuration()
        self.portal_configuration_id = portal.id
        self.register_outputs(
            {
                "productIds": [plan.product_id for plan in self.plans],
                "portalConfigurationId": self.portal_configuration_id,
            }
        )

    def first_price_id(self, interval: str) -> pulumi.Output[str] | None:
        """The first plan's price for `interval` (or the first plan that has one)."""
        return next((p.price_ids[interval] for p in self.plans if interval in p.price_ids), None)

    def document(self) -> dict[str, Any]:
        """The secret document's `stripe_catalog` value (`shared.contract.Catalog`)."""
        catalog = contract.Catalog(
            self._args.currency,
            tuple(plan.catalog_plan() for plan in self.plans),
            tuple(
                contract.CatalogMeter(
                    meter.id,
                    meter.name,
                    self.meter_ids[meter.id],
                    self._args.event_name_prefix + meter.id,
                    meter.aggregation,
                )
                for meter in self._args.meters
            ),
        )
        return catalog.to_document()

    def _meter(self, meter: Meter) -> stripe.Meter:
        """A meter; Stripe cannot delete one, so a `before_delete` hook deactivates it."""
        return stripe.Meter(
            f"{self._name}-{meter.id}-meter",
            display_name=meter.name,
            event_name=self._args.event_name_prefix + meter.id,
            default_aggregation=stripe.MeterDefaultAggregationArgs(formula=meter.aggregation),
            customer_mapping=stripe.MeterCustomerMappingArgs(
                event_payload_key=contract.METER_CUSTOMER_KEY, type="by_id"
            ),
            value_settings=stripe.MeterValueSettingsArgs(
                event_payload_key=contract.METER_VALUE_KEY
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                replace_on_changes=["eventName", "defaultAggregation", "customerMapping"],
                hooks=pulumi.ResourceHookBinding(before_delete=[self._hooks.meter]),
            ),
        )

    def _plan(self, plan: Plan) -> PlanResources:
        args, stack = self._args, self._args.lookup_key_prefix
        base = self._name if plan.legacy else f"{self._name}-{plan.id}"
        metadata = {"managedBy": "pulumi", "stack": stack}
        if not plan.legacy:
            metadata["planId"] = plan.id
        product = stripe.Product(
            f"{base}-product",
            name=plan.name,
            description=plan.description,
            metadata=metadata,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        price_opts = pulumi.ResourceOptions(
            parent=self,
            replace_on_changes=["unitAmount", "currency", "recurring"],
            hooks=pulumi.ResourceHookBinding(before_delete=[self._hooks.price]),
        )
        price_ids = {}
        for interval, amount in plan.prices.items():
            price = stripe.Price(
                f"{base}-{interval}-price",
                product=product.id,
                currency=args.currency,
                unit_amount=amount,
                recurring=stripe.PriceRecurringArgs(interval=INTERVALS[interval], interval_count=1),
                lookup_key=plan.lookup_key(stack, interval),
                transfer_lookup_key=True,
                nickname=f"{plan.name} ({interval})",
                tax_behavior=args.tax_behavior,
                metadata={**metadata, "plan": interval},
                opts=price_opts,
            )
            price_ids[interval] = price.id
        usage = {
            meter_id: self._usage_prices(plan, base, product.id, meter_id, metadata, price_opts)
            for meter_id in plan.usage
        }
        return PlanResources(plan, product.id, price_ids, usage)

    def _usage_prices(
        self,
        plan: Plan,
        base: str,
        product_id: pulumi.Output[str],
        meter_id: str,
        metadata: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> dict[str, pulumi.Output[str]]:
        """One metered price per interval the plan sells, per unit of the meter's aggregate
        (pulumi-stripe types `unit_amount_decimal` as a number)."""
        args, stack = self._args, self._args.lookup_key_prefix
        ids = {}
        for interval in plan.usage_intervals:
            price = stripe.Price(
                f"{base}-{meter_id}-{interval}-usage-price",
                product=product_id,
                currency=args.currency,
                unit_amount_decimal=float(plan.usage[meter_id]),
                recurring=stripe.PriceRecurringArgs(
                    interval=INTERVALS[interval],
                    interval_count=1,
                    usage_type="metered",
                    meter=self.meter_ids[meter_id],
                ),
                lookup_key=plan.usage_lookup_key(stack, meter_id, interval),
                transfer_lookup_key=True,
                nickname=f"{plan.name} {meter_id} ({interval})",
                tax_behavior=args.tax_behavior,
                metadata={**metadata, "plan": interval, "meter": meter_id},
                opts=pulumi.ResourceOptions.merge(
                    opts, pulumi.ResourceOptions(replace_on_changes=["unitAmountDecimal"])
                ),
            )
            ids[interval] = price.id
        return ids

    def _portal_configuration(self) -> stripe.PortalConfiguration:
        legacy = [p.plan for p in self.plans if p.plan.legacy]
        headline = portal_headline(legacy[0].name if legacy else None)
        return stripe.PortalConfiguration(
            f"{self._name}-portal-configuration",
            business_profile=stripe.PortalConfigurationBusinessProfileArgs(headline=headline),
            default_return_url=self._args.return_url,
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
                        # The provider cannot limit quantity changes to one product, so with any
                        # per-seat plan every plan's quantity is adjustable; the webhook records
                        # seats only for a per-seat plan.
                        default_allowed_updates=(
                            ["price", "quantity"]
                            if any(p.plan.per_seat for p in self.plans)
                            else ["price"]
                        ),
                        proration_behavior="create_prorations",
                        products=[
                            stripe.PortalConfigurationFeaturesSubscriptionUpdateProductArgs(
                                product=plan.product_id, prices=list(plan.price_ids.values())
                            )
                            for plan in self.plans
                            # Plans billed on usage alone have no flat price to switch to.
                            if plan.price_ids
                        ],
                    )
                ],
            ),
            metadata={"managedBy": "pulumi", "stack": self._args.lookup_key_prefix},
            opts=pulumi.ResourceOptions(
                parent=self,
                hooks=pulumi.ResourceHookBinding(before_delete=[self._hooks.portal_configuration]),
            ),
        )
