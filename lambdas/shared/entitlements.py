"""What a customer may use, as Stripe decides it: its active entitlements.

Each catalog feature is an entitlement feature whose lookup key is scoped to the stack
(`{environment}-{projectName}-{feature}`); the program attaches it to the products of the plans
that list it. Stripe then keeps each customer's active entitlements, and says when they change
(`entitlements.active_entitlement_summary.updated`). The summary shows only a first page, and
its shape is the event's API version's, so the handler reads the full list (every page) and
stores the lookup keys of this stack's features, unscoped, on the record (`entitlements`).
A later read always wins over an earlier one (`entitlementsTrueFrom`, the read's start).
"""

from __future__ import annotations

import time
from typing import Any

from shared import customer_state, users
from shared.stripe_client import call_stripe

#: The record attribute holding the account's active entitlements (unscoped lookup keys).
ENTITLEMENTS = "entitlements"


def unscoped(lookup_key: Any) -> str | None:
    """The feature a stack-scoped lookup key names, or None for another stack's feature."""
    prefix = f"{customer_state.stack_id()}-"
    if (
        isinstance(lookup_key, str)
        and lookup_key.startswith(prefix)
        and len(lookup_key) > len(prefix)
    ):
        return lookup_key[len(prefix) :]
    return None


def read_active(customer_id: str) -> tuple[list[str], int]:
    """This stack's active features of the customer (every page), and when the read began (ms)."""
    started = int(time.time() * 1000)
    page = call_stripe(
        lambda client: client.v1.entitlements.active_entitlements.list(
            params={"customer": customer_id, "limit": 100}
        )
    )
    features: list[str] = []
    for entitlement in page.auto_paging_iter():
        feature = unscoped(entitlement.lookup_key)
        if feature is not None and feature not in features:
            features.append(feature)
    return sorted(features), started


def refresh(
    user_id: str, customer_id: str, event: users.EventMark | None = None
) -> users.EventOutcome:
    """Read the customer's active entitlements and store them on the account's record."""
    features, read_from_ms = read_active(customer_id)
    return users.store().write_entitlements(user_id, features, read_from_ms, customer_id, event)
