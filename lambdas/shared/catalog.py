"""The stack's catalog, read from the secret document's `stripe_catalog` (no call to Stripe).

The program writes it on every `pulumi up`: `{"currency", "plans": [{"id", "name",
"description", "productId", "trialDays", "features", "prices": {"monthly": {"id", "amount",
"interval"}, "annual": {...}}}]}`. Handlers use it to accept only this stack's prices, to find
the plan behind a subscription's price, and to answer the pricing page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import secrets

DOCUMENT_KEY = "stripe_catalog"


@dataclass(frozen=True)
class PriceInCatalog:
    """A price of the catalog and the plan that offers it."""

    plan_id: str
    interval: str
    """`monthly` or `annual`."""
    trial_days: int | None
    features: tuple[str, ...]


def document() -> dict[str, Any]:
    """The catalog as the secret document holds it."""
    return secrets.require_object(DOCUMENT_KEY)


def plans() -> list[dict[str, Any]]:
    found = document().get("plans")
    return [plan for plan in found if isinstance(plan, dict)] if isinstance(found, list) else []


def find_price(price_id: str) -> PriceInCatalog | None:
    """The plan and interval of `price_id`, or None for a price this stack does not sell."""
    for plan in plans():
        for interval, price in (plan.get("prices") or {}).items():
            if isinstance(price, dict) and price.get("id") == price_id:
                trial = plan.get("trialDays")
                return PriceInCatalog(
                    plan_id=str(plan.get("id")),
                    interval=interval,
                    trial_days=trial if isinstance(trial, int) and trial > 0 else None,
                    features=tuple(str(f) for f in plan.get("features") or []),
                )
    return None


def public_prices() -> dict[str, Any]:
    """`GET /subscription/prices`: the first plan's ids (as before plans), currency, plans."""
    catalog = document()
    return {
        "monthly": secrets.get_secret("stripe_monthly_price_id"),
        "annual": secrets.get_secret("stripe_annual_price_id"),
        "currency": catalog.get("currency"),
        "plans": plans(),
    }
