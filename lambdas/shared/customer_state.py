"""A user's billing state as a function of the customer's subscriptions in Stripe, now.

The record follows the customer's deciding subscription (entitled beats not entitled, then the
newest), never simply the last event seen. Every path that cannot settle a state from an
event's own object (a payment, a completed Checkout, an event about another subscription than
the recorded one, a revocation, an event as old as the stored state, a sync) reads the
customer's subscriptions here and writes what Stripe says at the time of the read.

Stacks may share one Stripe account: a subscription stamped with another stack's identity
(`metadata.stack`) is never this stack's. Two entitled subscriptions for one customer (two
Checkout tabs paid) are logged at ERROR with `outcome: duplicate_subscription`, which an alarm
counts: an operator refunds one; nothing here cancels or refunds money on its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from shared import users
from shared.config import runtime_config
from shared.contract import (
    DUPLICATE_SUBSCRIPTION_OUTCOME,
    STACK_METADATA_KEY,
    USER_METADATA_KEY,
)
from shared.entitlement import deciding_subscription, entitled_subscriptions
from shared.log import get_logger
from shared.stripe_client import call_stripe
from shared.subscription_state import subscription_fields

logger = get_logger("customer_state")

#: A read whose write meets a state written meanwhile is repeated at most this often: each new
#: read starts after that state was written, so one more read normally settles it.
MAX_READS = 3


def stack_id() -> str:
    """This stack's identity, `{environment}-{projectName}`, as stamped in Stripe metadata."""
    return runtime_config().stack_id


def stack_metadata(user_id: str) -> dict[str, str]:
    """The metadata every customer, Checkout Session and subscription this stack makes carries."""
    return {USER_METADATA_KEY: user_id, STACK_METADATA_KEY: stack_id()}


def of_other_stack(metadata: Any) -> bool:
    """True when `metadata` is stamped with another stack's identity (unstamped: not known)."""
    stamp = metadata.get(STACK_METADATA_KEY) if isinstance(metadata, Mapping) else None
    return isinstance(stamp, str) and bool(stamp) and stamp != stack_id()


def _now_ms() -> int:
    return int(time.time() * 1000)


def read_subscriptions(customer_id: str) -> tuple[list[dict[str, Any]], users.Stamp]:
    """This stack's subscriptions of the customer (newest 100, every status), and when read."""
    started = _now_ms()
    page = call_stripe(
        lambda client: client.v1.subscriptions.list(
            params={"customer": customer_id, "status": "all", "limit": 100}
        )
    )
    finished = _now_ms()
    subscriptions = [subscription.to_dict() for subscription in page.data]
    ours = [s for s in subscriptions if not of_other_stack(s.get("metadata"))]
    return ours, users.Stamp.of_read(started, finished)


def deciding_state(customer_id: str, subscriptions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The state of the customer's deciding subscription (None when there is none).

    A second entitled subscription is logged at ERROR, naming both, for an operator to refund.
    """
    entitled = entitled_subscriptions(subscriptions)
    if len(entitled) > 1:
        logger.error(
            "customer %s has %d entitled subscriptions (%s): refund the duplicates",
            customer_id,
            len(entitled),
            ", ".join(str(s.get("id")) for s in entitled),
            extra={"outcome": DUPLICATE_SUBSCRIPTION_OUTCOME},
        )
    chosen = deciding_subscription(subscriptions)
    if chosen is None:
        return None
    state = subscription_fields(chosen)
    state["stripeCustomerId"] = customer_id
    return {key: value for key, value in state.items() if value is not None}


def refresh(
    user_id: str, customer_id: str, event: users.EventMark | None = None
) -> users.EventOutcome | None:
    """Read the customer's subscriptions and write the deciding one's state, stamped with the read.

    None when the customer has no subscription of this stack (nothing is written). A write that
    meets a state written during the read is repeated with a fresh read, so what Stripe says
    now wins.
    """
    for _ in range(MAX_READS):
        subscriptions, stamp = read_subscriptions(customer_id)
        state = deciding_state(customer_id, subscriptions)
        if state is None:
            return None
        outcome = users.store().write_state(user_id, state, stamp, customer_id, event)
        if outcome is not users.EventOutcome.UNSETTLED:
            return outcome
    raise RuntimeError(f"the record of {user_id} kept changing while Stripe was read")
