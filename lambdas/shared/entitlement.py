"""What entitles a customer, and which of a customer's subscriptions decides: pure rules.

No AWS and no Stripe call here: the webhook, the sync and the reconciliation apply these rules
to what Stripe says (`shared.customer_state`), and tests call them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Stripe statuses that count as subscribed. past_due keeps access while Stripe retries the
#: payment (its dunning moves the subscription to `canceled` or `unpaid` if every retry fails,
#: and that revokes it); a past_due user gets 409 at checkout: the fix is a new card in the
#: portal, not a second subscription.
ENTITLED_STATUSES = frozenset({"active", "trialing", "past_due"})


def entitled_subscriptions(
    subscriptions: Sequence[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    """The subscriptions whose status entitles (active, trialing, past_due), newest first."""
    dated = [
        s for s in subscriptions if isinstance(s, Mapping) and isinstance(s.get("created"), int)
    ]
    entitled = [s for s in dated if s.get("status") in ENTITLED_STATUSES]
    return sorted(entitled, key=lambda s: s["created"], reverse=True)


def deciding_subscription(subscriptions: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The subscription that decides a customer's state: the newest that entitles, else the
    newest. A canceled duplicate created later never hides a subscription still paid for."""
    dated = [
        s for s in subscriptions if isinstance(s, Mapping) and isinstance(s.get("created"), int)
    ]
    entitled = entitled_subscriptions(dated)
    return entitled[0] if entitled else max(dated, key=lambda s: s["created"], default=None)
