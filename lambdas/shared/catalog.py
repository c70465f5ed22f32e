"""The stack's catalog, read from the secret document's `stripe_catalog` (no call to Stripe).

The program writes it on every `pulumi up` through `shared.contract.Catalog.to_document`; here
it is read back through `Catalog.from_document` into frozen structures, parsed once per
version of the secret document. Handlers use it to accept only this stack's prices, to find the
plan behind a subscription's price, and to answer the pricing page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from shared import secrets
from shared.contract import Catalog, SecretKey

_lock = threading.Lock()
_parsed: tuple[dict[str, Any], Catalog] | None = None


@dataclass(frozen=True)
class PriceInCatalog:
    """A price of the catalog and the plan that offers it."""

    plan_id: str
    interval: str
    """`monthly` or `annual`."""
    trial_days: int | None
    features: tuple[str, ...]
    per_seat: bool = False
    metered: bool = False
    """A metered (usage) price, billed in arrears without a quantity."""
    metered_prices: tuple[str, ...] = ()
    """The plan's metered prices for this interval: Checkout sells them beside the flat one."""


def document() -> dict[str, Any]:
    """The catalog as the secret document holds it."""
    return secrets.require_object(SecretKey.STRIPE_CATALOG)


def catalog() -> Catalog:
    """The catalog, parsed once per version of the secret document."""
    global _parsed
    raw = document()
    with _lock:
        if _parsed is None or _parsed[0] is not raw:
            _parsed = (raw, Catalog.from_document(raw))
        return _parsed[1]


def find_price(price_id: str) -> PriceInCatalog | None:
    """The plan and interval of `price_id` (a flat or a metered price), or None for a price
    this stack does not sell."""
    for plan in catalog().plans:
        found = [(interval, False) for interval, p in plan.prices.items() if p.id == price_id]
        found += [
            (interval, True)
            for by_interval in plan.usage.values()
            for interval, p in by_interval.items()
            if p.id == price_id
        ]
        if found:
            interval, metered = found[0]
            usage = tuple(
                str(by_interval[interval].id)
                for by_interval in plan.usage.values()
                if interval in by_interval
            )
            return PriceInCatalog(
                plan.id, interval, plan.trial_days, plan.features, plan.per_seat, metered, usage
            )
    return None


def public_prices() -> dict[str, Any]:
    """`GET /subscription/prices`: the first plan's ids (as before plans), currency, plans."""
    current = catalog()
    return {
        "monthly": secrets.get_secret(SecretKey.STRIPE_MONTHLY_PRICE_ID),
        "annual": secrets.get_secret(SecretKey.STRIPE_ANNUAL_PRICE_ID),
        "currency": current.currency,
        "plans": [plan.to_document() for plan in current.plans],
    }
