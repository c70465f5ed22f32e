"""`GET /subscription/usage`: what the caller's account has used in its current period.

Stripe is the record of usage (the usage function sends meter events there), so the answer is
read from it: the subscription's current period (one read), then each of the plan's meters'
event summaries for the customer over that period (one read per meter). `amount` is the
value times the metered price's unit amount, in the currency's smallest unit, rounded as an
invoice line is; the invoice at period end is what is billed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from shared import accounts, catalog, users
from shared.http import Caller
from shared.stripe_client import call_stripe

if TYPE_CHECKING:
    from stripe.params.billing import MeterEventSummaryListParams


def usage(caller: Caller) -> dict[str, Any]:
    """The current period's usage per meter of the account's plan (none without usage)."""
    account = accounts.account_of(caller)
    record = users.store().get_user(account.id) or {}
    plan = next((p for p in catalog.catalog().plans if p.id == record.get("planId")), None)
    subscription_id, customer_id = (
        record.get("stripeSubscriptionId"),
        record.get("stripeCustomerId"),
    )
    if plan is None or not plan.usage or not subscription_id or not customer_id:
        return {"periodStart": None, "periodEnd": None, "meters": []}
    subscription = call_stripe(
        lambda client: client.v1.subscriptions.retrieve(str(subscription_id))
    )
    item = subscription["items"].data[0]
    start, end = int(item.current_period_start), int(item.current_period_end)
    interval = "annual" if record.get("plan") == "annual" else "monthly"
    meters = {meter.id: meter for meter in catalog.catalog().meters}
    answer = []
    for meter_id, prices in plan.usage.items():
        price = prices.get(interval) or next(iter(prices.values()))
        meter = meters[meter_id]
        value = _used(str(meter.meter_id), str(customer_id), start, end)
        amount = (Decimal(str(value)) * Decimal(price.unit_amount_decimal)).quantize(
            Decimal(1), ROUND_HALF_UP
        )
        answer.append({
            "id": meter_id, "name": meter.name, "value": value,
            "unitAmountDecimal": price.unit_amount_decimal, "amount": int(amount),
        })  # fmt: skip
    return {"periodStart": start, "periodEnd": end, "meters": answer}


def _used(meter_id: str, customer_id: str, start: int, end: int) -> float | int:
    """The meter's aggregate for the customer over [start, end) (Stripe wants whole minutes)."""
    params: MeterEventSummaryListParams = {
        "customer": customer_id,
        "start_time": start - start % 60,
        "end_time": -(-end // 60) * 60,
    }
    summaries = call_stripe(
        lambda client: client.v1.billing.meters.event_summaries.list(meter_id, params=params)
    )
    total = sum((float(s.aggregated_value) for s in summaries.auto_paging_iter()), 0.0)
    return int(total) if total.is_integer() else total
