"""The catalog a stack sells: plans from `<project>:plans`, or one legacy plan from older keys.

A plan is a Stripe product with a monthly and/or an annual price. Its `id` is stable: it names
the plan's Pulumi resources and its prices' lookup keys, so renaming a plan (`name`) updates
the product in place while a new `id` is a new plan (the old one's prices are archived).

Without `plans`, the catalog is one plan built from `productName`, `monthlyAmount` and
`annualAmount`, and it keeps the resource names and lookup keys those keys always had, so an
existing stack upgrades without a Stripe resource being replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from billing.config import readers
from billing.config.currencies import STRIPE_CURRENCIES
from billing.config.errors import SettingsError
from billing.config.meters import Meter, MeterError, parse_meters, parse_usage
from billing.config.readers import STABLE_ID
from billing.contract import contract

#: Each interval a plan may offer, and Stripe's name for it.
INTERVALS: dict[str, str] = dict(contract.INTERVALS)
PLAN_ID = STABLE_ID
MAX_TRIAL_DAYS = 730  # Stripe's limit for `subscription_data.trial_period_days`
#: A portal configuration's `features.subscription_update.products` takes at most 10 products.
MAX_PORTAL_PRODUCTS = 10
_PLAN_FIELDS = {
    "id", "name", "description", "prices", "trialDays", "features", "usage", "perSeat",
}  # fmt: skip


class PlanError(ValueError):
    """A plan is malformed; the message names the plan and the field."""


@dataclass(frozen=True)
class Plan:
    """One tier of the catalog."""

    id: str
    name: str
    prices: Mapping[str, int]
    """Interval (`monthly`, `annual`) → amount in the currency's smallest unit."""
    description: str | None = None
    trial_days: int | None = None
    features: tuple[str, ...] = ()
    per_seat: bool = False
    """The flat price is per seat: Checkout takes a quantity, the portal may change it."""
    legacy: bool = False
    """Built from productName/monthlyAmount/annualAmount: keeps those resources' names."""
    usage: Mapping[str, str] = field(default_factory=dict)
    """Meter id → unit amount (decimal string, smallest unit): one metered price per interval
    the plan sells (monthly when it has no flat `prices`)."""

    @property
    def usage_intervals(self) -> tuple[str, ...]:
        """The intervals its metered prices bill on: its flat prices', else monthly."""
        return tuple(self.prices) or ("monthly",)

    def usage_lookup_key(self, prefix: str, meter_id: str, interval: str) -> str:
        return f"{prefix}-{self.id}-{meter_id}-{interval}"

    def lookup_key(self, prefix: str, interval: str) -> str:
        """The price's stack-scoped lookup key; the legacy plan keeps its historical one."""
        if self.legacy:
            return f"{prefix}-{interval}"
        return f"{prefix}-{self.id}-{interval}"


@dataclass(frozen=True)
class CatalogSettings:
    """The whole catalog and the stack-wide Checkout options."""

    plans: tuple[Plan, ...]
    currency: str
    allow_promotion_codes: bool = False
    automatic_tax: bool = False
    tax_behavior: str | None = None
    """`exclusive` or `inclusive`, set on every price (required with automatic tax)."""
    meters: tuple[Meter, ...] = ()
    """The stack's Stripe meters (`<project>:meters`)."""


def legacy_plan(product_name: str, monthly_amount: int, annual_amount: int) -> Plan:
    """The one plan of a stack that does not set `plans`."""
    slug = re.sub(r"[^a-z0-9]+", "-", product_name.lower()).strip("-")[:24].rstrip("-")
    return Plan(
        id=slug if PLAN_ID.match(slug) else "default",
        name=product_name,
        prices={"monthly": monthly_amount, "annual": annual_amount},
        legacy=True,
    )


def parse_plans(
    full_key: str, raw: Any, meter_ids: frozenset[str] = frozenset()
) -> tuple[Plan, ...]:
    """Validate `<project>:plans`; every error names the plan (by id or position) and field."""
    if not isinstance(raw, list) or not raw:
        raise PlanError(f"{full_key} must be a non-empty list of plans")
    if len(raw) > MAX_PORTAL_PRODUCTS:
        raise PlanError(
            f"{full_key} has {len(raw)} plans; the billing portal offers at most "
            f"{MAX_PORTAL_PRODUCTS} products for switching"
        )
    plans: list[Plan] = []
    for position, item in enumerate(raw):
        plans.append(_parse_plan(f"{full_key}[{position}]", item, meter_ids))
    seen: set[str] = set()
    for position, plan in enumerate(plans):
        if plan.id in seen:
            raise PlanError(f"{full_key}[{position}].id {plan.id!r} is used by another plan")
        seen.add(plan.id)
    return tuple(plans)


def _parse_plan(where: str, item: Any, meter_ids: frozenset[str]) -> Plan:
    if not isinstance(item, dict):
        raise PlanError(f"{where} must be an object with id, name and prices")
    plan_id = item.get("id")
    if not isinstance(plan_id, str) or not PLAN_ID.match(plan_id):
        raise PlanError(
            f"{where}.id must match {PLAN_ID.pattern} (lowercase letters, digits and '-', "
            "starting with a letter, at most 24 characters)"
        )
    where = f"{where} ({plan_id})"
    unknown = set(item) - _PLAN_FIELDS
    if unknown:
        raise PlanError(
            f"{where} has unknown fields {sorted(unknown)}; known: {sorted(_PLAN_FIELDS)}"
        )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PlanError(f"{where}.name is required: the Stripe product's name")
    description = item.get("description")
    if description is not None and (not isinstance(description, str) or not description.strip()):
        raise PlanError(f"{where}.description must be a non-empty string")
    try:
        usage = parse_usage(where, item.get("usage"), set(meter_ids))
    except MeterError as error:
        raise PlanError(str(error)) from None
    # A plan billed on usage alone has no flat price (it then sells monthly).
    prices = _prices(where, item.get("prices")) if not usage or "prices" in item else {}
    return Plan(
        id=plan_id,
        name=name,
        description=description,
        prices=prices,
        trial_days=_trial_days(where, item.get("trialDays")),
        features=_features(where, item.get("features")),
        usage=usage,
        per_seat=_per_seat(where, item.get("perSeat")),
    )


def _per_seat(where: str, raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise PlanError(f"{where}.perSeat must be true or false")
    return raw


def _prices(where: str, raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict) or not raw:
        raise PlanError(f"{where}.prices needs a monthly and/or an annual amount")
    unknown = set(raw) - set(INTERVALS)
    if unknown:
        raise PlanError(
            f"{where}.prices has unknown intervals {sorted(unknown)}: use monthly, annual"
        )
    prices = {}
    for interval in INTERVALS:
        if interval not in raw:
            continue
        amount = raw[interval]
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise PlanError(
                f"{where}.prices.{interval} must be a positive integer amount in the currency's "
                "smallest unit (999 = 9.99)"
            )
        prices[interval] = amount
    return prices


def _trial_days(where: str, raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_TRIAL_DAYS:
        raise PlanError(
            f"{where}.trialDays must be a whole number of days from 1 to {MAX_TRIAL_DAYS}"
        )
    return raw


def _features(where: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(f, str) and f.strip() for f in raw):
        raise PlanError(f"{where}.features must be a list of non-empty strings")
    return tuple(raw)


_CURRENCY = re.compile(r"^[a-z]{3}$")
#: The keys of a single-plan stack, with Pulumi.yaml's defaults.
_LEGACY_PLAN_DEFAULTS = {"productName": "Premium", "monthlyAmount": "999", "annualAmount": "9990"}


def parse_catalog(config: pulumi.Config) -> CatalogSettings:
    """The plans, their currency and the Checkout options, refused where Stripe would refuse."""
    automatic_tax = readers.boolean(config, "automaticTax", default=False)
    meters = _meters(config)
    return CatalogSettings(
        plans=_plans(config, frozenset(meter.id for meter in meters)),
        meters=meters,
        currency=_currency(config),
        allow_promotion_codes=readers.boolean(config, "allowPromotionCodes", default=False),
        automatic_tax=automatic_tax,
        tax_behavior=_tax_behavior(config, automatic_tax),
    )


def _currency(config: pulumi.Config) -> str:
    full_key = config.full_key("currency")
    currency = (readers.string(config, "currency") or "usd").lower()
    if not _CURRENCY.match(currency):
        raise SettingsError(f"{full_key} must be a 3-letter ISO code such as usd")
    if currency not in STRIPE_CURRENCIES:
        raise SettingsError(
            f"{full_key} {currency} is not a currency Stripe charges in "
            "(see docs.stripe.com/currencies): set one such as usd or eur"
        )
    return currency


def _tax_behavior(config: pulumi.Config, automatic_tax: bool) -> str | None:
    """Whether prices include tax; Stripe Tax cannot compute tax on a price without one (unless
    the account has a default), so automaticTax requires it."""
    behavior = readers.string(config, "taxBehavior")
    if behavior is not None and behavior not in ("exclusive", "inclusive"):
        raise SettingsError(f"{config.full_key('taxBehavior')} must be exclusive or inclusive")
    if automatic_tax and behavior is None:
        raise SettingsError(
            f"{config.full_key('taxBehavior')} is required when "
            f"{config.full_key('automaticTax')} is true: pulumi config set "
            f"{config.full_key('taxBehavior')} exclusive (tax added on top) or inclusive"
        )
    return behavior


def _meters(config: pulumi.Config) -> tuple[Meter, ...]:
    try:
        return parse_meters(config.full_key("meters"), readers.structured(config, "meters"))
    except MeterError as error:
        raise SettingsError(str(error)) from None


def _plans(config: pulumi.Config, meter_ids: frozenset[str]) -> tuple[Plan, ...]:
    """`plans` when set, else the one plan the older keys describe (never both).

    The CLI hands the program Pulumi.yaml's defaults as if they were set, so an older key
    counts as set beside `plans` only when it differs from its default.
    """
    raw = readers.structured(config, "plans")
    if raw is None or raw == []:
        return (
            legacy_plan(
                readers.string(config, "productName") or _LEGACY_PLAN_DEFAULTS["productName"],
                readers.positive_integer(config, "monthlyAmount", default=999),
                readers.positive_integer(config, "annualAmount", default=9990),
            ),
        )
    stale = [
        key
        for key, default in _LEGACY_PLAN_DEFAULTS.items()
        if config.get(key) not in (None, default)
    ]
    if stale:
        raise SettingsError(
            f"{config.full_key('plans')} replaces {', '.join(config.full_key(k) for k in stale)}: "
            "describe that plan in plans and remove the older keys"
        )
    try:
        return parse_plans(config.full_key("plans"), raw, meter_ids)
    except PlanError as error:
        raise SettingsError(str(error)) from None
