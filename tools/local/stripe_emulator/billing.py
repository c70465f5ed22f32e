"""What Stripe Billing does on its own: invoices, charges, renewals, trials ending, dunning.

Every function runs under the state lock and emits the events Stripe would, in order. Time is
the customer's world (`StripeState.now`): its test clock's frozen time, else the wall clock.
A card is chosen with Stripe's test payment methods: `pm_card_visa` pays;
`pm_card_chargeCustomerFail` is attached fine and every later charge fails;
`pm_card_chargeDeclined` is declined at once (Checkout shows a `card_error`).

Decisions where Stripe's behaviour depends on the account's settings are
`AccountSettings` (retry schedule, what follows the final failed retry, the tax rate).
Invoices are finalised and charged as they are created (Stripe waits about an hour for
`invoice.upcoming` hooks and edits; nothing here edits a draft).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tools.local.stripe_emulator import meters
from tools.local.stripe_emulator.events import emit
from tools.local.stripe_emulator.objects import fixture, new_id, public
from tools.local.stripe_emulator.periods import nth_period_end
from tools.local.stripe_emulator.state import StripeState

DAY = 24 * 3600

#: Test payment methods (Stripe's magic ids) and whether a later charge succeeds.
CARDS = {
    "pm_card_visa": "succeeds",
    "pm_card_chargeCustomerFail": "later_charges_fail",
    "pm_card_chargeDeclined": "declined",
}

ENDED = ("canceled", "incomplete_expired")


def plan_of(price: Mapping[str, Any]) -> dict[str, Any]:
    """The legacy `plan` Stripe still puts on subscription items, from the item's price."""
    recurring = price.get("recurring") or {}
    return {
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "id": price["id"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": price.get("metadata") or {},
        "meter": recurring.get("meter"),
        "nickname": price.get("nickname"),
        "object": "plan",
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def metered(price: Mapping[str, Any]) -> bool:
    return (price.get("recurring") or {}).get("usage_type") == "metered"


def new_item(
    state: StripeState, subscription_id: str, price_id: str, quantity: int | None, now: int
) -> dict[str, Any]:
    price = state.objects[price_id]
    item = fixture("subscription_item")
    item.update(
        id=new_id("si"),
        created=now,
        subscription=subscription_id,
        price=public(price),
        plan=plan_of(price),
        billing_thresholds=None,
        current_period_start=now,
        current_period_end=now,
        metadata={},
        discounts=[],
    )
    if metered(price):
        item.pop("quantity", None)
    else:
        item["quantity"] = quantity or 1
    return item


# -- periods ------------------------------------------------------------------------------


def _interval(subscription: Mapping[str, Any]) -> tuple[str, int]:
    recurring = subscription["items"]["data"][0]["price"]["recurring"]
    return recurring["interval"], recurring["interval_count"]


def set_period(subscription: dict[str, Any], start: int, end: int) -> None:
    for item in subscription["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = start, end


def period(subscription: Mapping[str, Any]) -> tuple[int, int]:
    item = subscription["items"]["data"][0]
    return int(item["current_period_start"]), int(item["current_period_end"])


def next_period_end(subscription: dict[str, Any]) -> int:
    """The end of the period after the current one, counted from the cycle anchor."""
    interval, count = _interval(subscription)
    subscription["_cycle"] = subscription.get("_cycle", 0) + 1
    return nth_period_end(
        subscription["billing_cycle_anchor"], interval, count, subscription["_cycle"]
    )


# -- invoices and charges -----------------------------------------------------------------


def _line(
    invoice_id: str,
    subscription: Mapping[str, Any],
    item: Mapping[str, Any],
    amount: int,
    start: int,
    end: int,
    quantity: int | None,
    proration: bool = False,
    description: str | None = None,
) -> dict[str, Any]:
    line = fixture("invoice_line")
    price = item["price"]
    line.update(
        id=new_id("il"),
        invoice=invoice_id,
        amount=amount,
        subtotal=amount,
        currency=price["currency"],
        quantity=quantity,
        period={"start": start, "end": end},
        description=description
        or f"{quantity or ''} x {price.get('nickname') or price['product']}".strip(),
        parent={
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription["id"],
                "subscription_item": item["id"],
            },
        },
        pricing={
            "type": "price_details",
            "price_details": {"price": price["id"], "product": price["product"]},
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
    )
    return line


def usage_quantity(
    state: StripeState,
    subscription: Mapping[str, Any],
    item: Mapping[str, Any],
    start: int,
    end: int,
) -> Decimal:
    """The usage a metered item bills for [start, end): its meter's aggregate (sum, count or
    last) of the subscription's customer's events in that window."""
    return meters.usage_of(state, item["price"], str(subscription["customer"]), start, end)


def period_lines(
    state: StripeState,
    invoice_id: str,
    subscription: Mapping[str, Any],
    start: int,
    end: int,
    usage_start: int | None,
) -> list[dict[str, Any]]:
    """Licensed items billed in advance for [start, end); metered ones in arrears for the
    period that just ended (`usage_start` to `start`), as Stripe bills them."""
    lines = []
    for item in subscription["items"]["data"]:
        price = item["price"]
        if metered(price):
            if usage_start is None:
                continue
            used = usage_quantity(state, subscription, item, usage_start, start)
            amount = int((Decimal(price["unit_amount_decimal"]) * used).to_integral_value())
            quantity = int(used) if used == used.to_integral_value() else None
            lines.append(
                _line(invoice_id, subscription, item, amount, usage_start, start, quantity)
            )
        else:
            quantity = int(item.get("quantity") or 1)
            lines.append(
                _line(
                    invoice_id,
                    subscription,
                    item,
                    int(price["unit_amount"]) * quantity,
                    start,
                    end,
                    quantity,
                )
            )
    return lines


def _discount_amount(
    state: StripeState, subscription: dict[str, Any], subtotal: int
) -> tuple[int, list[str]]:
    """The subscription's discount on this invoice, counting down a repeating coupon."""
    amount, applied = 0, []
    for discount_id in list(subscription.get("discounts") or []):
        discount = state.objects[discount_id]
        coupon = state.objects[discount["source"]["coupon"]]
        if coupon["percent_off"] is not None:
            amount += round(subtotal * float(coupon["percent_off"]) / 100)
        else:
            amount += int(coupon["amount_off"] or 0)
        applied.append(discount_id)
        left = discount.get("_cycles_left")
        if left is not None:
            discount["_cycles_left"] = left - 1
            if discount["_cycles_left"] <= 0:
                subscription["discounts"].remove(discount_id)
    return min(amount, subtotal), applied


def create_invoice(
    state: StripeState,
    subscription: dict[str, Any],
    reason: str,
    lines: list[dict[str, Any]],
    start: int,
    end: int,
    now: int,
) -> dict[str, Any]:
    """A finalised invoice for `lines` (draft → open), with discount and tax, stored."""
    invoice = fixture("invoice")
    invoice_id = lines[0]["invoice"] if lines else new_id("in")
    customer = state.objects[subscription["customer"]]
    lines = lines + subscription.pop("_pending_lines", [])
    for line in lines:
        line["invoice"] = invoice_id
    subtotal = sum(line["amount"] for line in lines)
    discount, discounts = _discount_amount(state, subscription, max(subtotal, 0))
    taxed = subscription["automatic_tax"]["enabled"]
    tax = (
        round((subtotal - discount) * state.settings.tax_rate_basis_points / 10000)
        if taxed and subtotal > 0
        else 0
    )
    total = subtotal - discount + tax
    invoice.update(
        id=invoice_id,
        created=now,
        customer=subscription["customer"],
        customer_email=customer.get("email"),
        customer_name=customer.get("name"),
        currency=subscription["currency"],
        billing_reason=reason,
        period_start=start,
        period_end=end,
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total_excluding_tax=subtotal - discount,
        total=total,
        amount_due=max(total, 0),
        amount_remaining=max(total, 0),
        status="draft",
        discounts=discounts,
        test_clock=customer.get("test_clock"),
        total_discount_amounts=[{"amount": discount, "discount": d} for d in discounts[:1]]
        if discount
        else [],
        total_taxes=[
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "tax_rate_details": None,
                "taxability_reason": "standard_rated",
                "taxable_amount": subtotal - discount,
                "type": "tax_rate_details",
            }
        ]
        if tax
        else [],
        automatic_tax={
            "disabled_reason": None,
            "enabled": taxed,
            "liability": {"type": "self"} if taxed else None,
            "provider": "stripe" if taxed else None,
            "status": "complete" if taxed else None,
        },
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription.get("metadata") or {}),
                "subscription": subscription["id"],
            },
        },
        default_payment_method=None,
    )
    invoice["lines"] = {
        "object": "list",
        "data": lines,
        "has_more": False,
        "url": f"/v1/invoices/{invoice_id}/lines",
    }
    state.objects[invoice_id] = invoice
    subscription["latest_invoice"] = invoice_id
    emit(state, "invoice.created", invoice)
    invoice.update(status="open", number=f"EMU-{invoice_id[-6:]}", effective_at=now)
    invoice["status_transitions"]["finalized_at"] = now
    emit(state, "invoice.finalized", invoice)
    return invoice


def card_of(state: StripeState, customer_id: str) -> str:
    customer = state.objects[customer_id]
    return str(customer.get("_card") or "pm_card_visa")


def charge(
    state: StripeState,
    invoice: dict[str, Any],
    subscription: dict[str, Any],
    now: int,
    first: bool = False,
) -> bool:
    """Attempt to pay an open invoice; emits `invoice.paid` or `invoice.payment_failed`.

    A zero total is paid without a charge. A failure schedules the next retry from the
    account's schedule (none after the last)."""
    behaviour = CARDS.get(card_of(state, invoice["customer"]), "succeeds")
    succeeds = (
        invoice["amount_due"] == 0
        or behaviour == "succeeds"
        or (first and behaviour == "later_charges_fail")
    )
    invoice["attempted"] = invoice["amount_due"] > 0 or invoice["attempted"]
    if invoice["amount_due"] > 0:
        invoice["attempt_count"] += 1
    if succeeds:
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
        )
        invoice["status_transitions"]["paid_at"] = now
        emit(state, "invoice.paid", invoice)
        emit(state, "invoice.payment_succeeded", invoice)
        return True
    schedule = state.settings.retry_schedule_days
    retries_done = invoice["attempt_count"] - 1
    invoice["next_payment_attempt"] = (
        now + schedule[retries_done] * DAY if retries_done < len(schedule) else None
    )
    emit(state, "invoice.payment_failed", invoice)
    return False


# -- the subscription's life --------------------------------------------------------------


def change_status(
    state: StripeState, subscription: dict[str, Any], status: str, **changes: Any
) -> None:
    """Move a subscription and emit `customer.subscription.updated` with what changed."""
    previous = {"status": subscription["status"]} if subscription["status"] != status else {}
    for key, value in changes.items():
        if subscription.get(key) != value:
            previous[key] = copy.deepcopy(subscription.get(key))
    subscription.update(status=status, **changes)
    if previous:
        emit(state, "customer.subscription.updated", subscription, previous)


def end(state: StripeState, subscription: dict[str, Any], now: int, reason: str) -> None:
    """Cancel now: `customer.subscription.deleted`, the subscription's last event."""
    subscription.update(
        status="canceled", ended_at=now, canceled_at=subscription.get("canceled_at") or now
    )
    subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}
    emit(state, "customer.subscription.deleted", subscription)


def next_due(state: StripeState, subscription: Mapping[str, Any]) -> int | None:
    """When Stripe next acts on this subscription on its own (None: never)."""
    if subscription["status"] in ENDED:
        return None
    times = [period(subscription)[1]]
    if subscription["status"] == "trialing" and subscription.get("trial_end"):
        times.append(int(subscription["trial_end"]))
    if subscription.get("cancel_at"):
        times.append(int(subscription["cancel_at"]))
    pause = subscription.get("pause_collection") or {}
    if pause.get("resumes_at"):
        times.append(int(pause["resumes_at"]))
    latest = state.objects.get(subscription.get("latest_invoice") or "")
    if latest and latest["status"] == "open" and latest.get("next_payment_attempt"):
        times.append(int(latest["next_payment_attempt"]))
    return min(times)


def act(state: StripeState, subscription: dict[str, Any], now: int) -> None:
    """Do the one thing due at `now`: a cancellation, a resumption, a retry, a renewal."""
    if subscription.get("cancel_at") and subscription["cancel_at"] <= now:
        end(state, subscription, int(subscription["cancel_at"]), "cancellation_requested")
        return
    pause = subscription.get("pause_collection") or {}
    if pause.get("resumes_at") and pause["resumes_at"] <= now:
        change_status(state, subscription, subscription["status"], pause_collection=None)
        return
    latest = state.objects.get(subscription.get("latest_invoice") or "")
    retry_at = latest.get("next_payment_attempt") if latest and latest["status"] == "open" else None
    if retry_at and retry_at <= now:
        retry(state, subscription, latest, now)  # type: ignore[arg-type]
        return
    renew(state, subscription, now)


def renew(state: StripeState, subscription: dict[str, Any], now: int) -> None:
    """Start the next period (a trial's end starts the first paid one): invoice it, licensed
    items in advance and metered ones in arrears, and charge it."""
    old_start, old_end = period(subscription)
    old_status = subscription["status"]
    start = int(subscription["trial_end"]) if old_status == "trialing" else old_end
    new_end = next_period_end(subscription)
    previous_items = copy.deepcopy(subscription["items"])
    set_period(subscription, start, new_end)
    invoice_id = new_id("in")
    lines = period_lines(state, invoice_id, subscription, start, new_end, old_start)
    invoice = create_invoice(state, subscription, "subscription_cycle", lines, start, new_end, now)
    status = old_status
    if subscription.get("pause_collection"):
        _paused_invoice(state, invoice, subscription["pause_collection"]["behavior"], now)
    elif old_status != "unpaid":  # Stripe keeps invoicing an unpaid one without charging it.
        status = "active" if charge(state, invoice, subscription, now) else "past_due"
    previous: dict[str, Any] = {"items": previous_items}
    if status != old_status:
        previous["status"] = old_status
    subscription["status"] = status
    emit(state, "customer.subscription.updated", subscription, previous)


def _paused_invoice(state: StripeState, invoice: dict[str, Any], behaviour: str, now: int) -> None:
    """`pause_collection`: the invoice is voided, kept as a draft or marked uncollectible."""
    if behaviour == "void":
        invoice.update(status="void", amount_remaining=0)
        invoice["status_transitions"]["voided_at"] = now
        emit(state, "invoice.voided", invoice)
    elif behaviour == "mark_uncollectible":
        invoice["status"] = "uncollectible"
        invoice["status_transitions"]["marked_uncollectible_at"] = now
        emit(state, "invoice.marked_uncollectible", invoice)


def retry(
    state: StripeState, subscription: dict[str, Any], invoice: dict[str, Any], now: int
) -> None:
    """A scheduled retry: paid → active; the last one failed → the account's setting."""
    if charge(state, invoice, subscription, now):
        change_status(state, subscription, "active")
        return
    if invoice["next_payment_attempt"] is not None:
        return
    action = state.settings.after_final_failure
    if action == "cancel":
        end(state, subscription, now, "payment_failed")
    elif action == "unpaid":
        change_status(state, subscription, "unpaid")
