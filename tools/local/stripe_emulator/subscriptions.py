"""Subscriptions and their items: create, retrieve, list, update (with proration), cancel."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tools.local.stripe_emulator import billing
from tools.local.stripe_emulator.errors import StripeError, invalid
from tools.local.stripe_emulator.events import emit
from tools.local.stripe_emulator.objects import fixture, list_page, merged_metadata, new_id, public
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState

DAY = billing.DAY


def discount_for(
    state: StripeState,
    subscription_id: str,
    customer: str,
    coupon_id: str,
    promotion_code: str | None,
    now: int,
) -> dict[str, Any]:
    """A discount object applying `coupon_id`, counting its cycles if it repeats."""
    coupon = state.objects[coupon_id]
    discount = fixture("discount")
    discount.update(
        id=new_id("di"),
        customer=customer,
        subscription=subscription_id,
        start=now,
        promotion_code=promotion_code,
        source={"coupon": coupon_id, "type": "coupon"},
    )
    cycles = {"once": 1, "forever": None}.get(coupon["duration"], coupon.get("duration_in_months"))
    discount["_cycles_left"] = cycles
    coupon["times_redeemed"] += 1
    if promotion_code:
        state.objects[promotion_code]["times_redeemed"] += 1
    state.objects[discount["id"]] = discount
    return discount


def start_subscription(
    state: StripeState,
    customer: str,
    items: list[tuple[str, int | None]],
    metadata: Mapping[str, str] | None = None,
    trial_end: int | None = None,
    coupon: str | None = None,
    promotion_code: str | None = None,
    automatic_tax: bool = False,
    first_payment: bool = True,
) -> dict[str, Any]:
    """A subscription as Stripe starts it: its first invoice made and charged (nothing to
    charge on a trial), `customer.subscription.created` then the invoice's events."""
    now = state.now(customer)
    subscription = fixture("subscription")
    subscription_id = new_id("sub")
    prices = [state.objects[price_id] for price_id, _ in items]
    anchor = trial_end or now
    subscription.update(
        id=subscription_id,
        created=now,
        start_date=now,
        billing_cycle_anchor=anchor,
        customer=customer,
        currency=prices[0]["currency"],
        status="incomplete",
        metadata=dict(metadata or {}),
        test_clock=state.objects[customer].get("test_clock"),
        trial_start=now if trial_end else None,
        trial_end=trial_end,
        automatic_tax={
            "disabled_reason": None,
            "enabled": automatic_tax,
            "liability": {"type": "self"} if automatic_tax else None,
        },
        discounts=[],
        _cycle=0,
    )
    subscription["items"] = {
        "object": "list",
        "has_more": False,
        "url": f"/v1/subscription_items?subscription={subscription_id}",
        "data": [billing.new_item(state, subscription_id, price, qty, now) for price, qty in items],
    }
    period_end = trial_end or billing.next_period_end(subscription)
    billing.set_period(subscription, now, period_end)
    if coupon:
        discount = discount_for(state, subscription_id, customer, coupon, promotion_code, now)
        subscription["discounts"] = [discount["id"]]
    state.objects[subscription_id] = subscription
    invoice_id = new_id("in")
    lines = billing.period_lines(state, invoice_id, subscription, now, period_end, None)
    if trial_end:
        for line in lines:
            line.update(amount=0, subtotal=0, description=f"Trial period for {line['description']}")
    subscription["status"] = "trialing" if trial_end else "incomplete"
    emit(state, "customer.subscription.created", subscription)
    invoice = billing.create_invoice(
        state, subscription, "subscription_create", lines, now, period_end, now
    )
    if billing.charge(state, invoice, subscription, now, first=first_payment) and not trial_end:
        billing.change_status(state, subscription, "active")
    return subscription


@route("POST", "/v1/subscriptions", "SubscriptionCreateParams")
def create_subscription(call: Call) -> dict[str, Any]:
    p = call.params
    customer = call.state.get("customer", p["customer"], "customer")
    items = [
        (_price(call.state, i.get("price"), f"items[{n}][price]"), i.get("quantity"))
        for n, i in enumerate(p["items"])
    ]
    if p.get("default_payment_method"):
        customer["_card"] = p["default_payment_method"]
    now = call.state.now(customer["id"])
    trial_end = p.get("trial_end") if isinstance(p.get("trial_end"), int) else None
    if p.get("trial_period_days"):
        trial_end = now + int(p["trial_period_days"]) * DAY
    coupon = None
    for entry in p.get("discounts") or []:
        coupon = (
            entry.get("coupon")
            or call.state.get("promotion_code", entry["promotion_code"])["promotion"]["coupon"]
        )
    subscription = start_subscription(
        call.state,
        customer["id"],
        items,
        p.get("metadata"),
        trial_end,
        coupon,
        automatic_tax=bool((p.get("automatic_tax") or {}).get("enabled")),
    )
    return public(subscription)


def _price(state: StripeState, price_id: str | None, param: str) -> str:
    return str(recurring_price(state, price_id, param)["id"])


def recurring_price(
    state: StripeState,
    price_id: str | None,
    param: str,
    one_time: str = "The price specified is set to `type=one_time` but this field only accepts "
    "prices with `type=recurring`.",
) -> dict[str, Any]:
    """An active recurring price a subscription (or Checkout, with its own `one_time`
    message) may sell, else Stripe's refusal naming `param`."""
    if not price_id:
        raise invalid(f"Missing required param: {param}.", param, "parameter_missing")
    price = state.get("price", price_id, param)
    if not price["active"]:
        raise invalid(
            "The price specified is inactive. This field only accepts active prices.", param
        )
    if price["type"] != "recurring":
        raise invalid(one_time, param)
    return price


@route("GET", "/v1/subscriptions/{id}", "SubscriptionRetrieveParams")
def retrieve_subscription(call: Call) -> dict[str, Any]:
    return public(call.state.get("subscription", call.id()))


@route("GET", "/v1/subscriptions", "SubscriptionListParams")
def list_subscriptions(call: Call) -> dict[str, Any]:
    """Newest first; without `status` canceled ones are left out, as Stripe lists them."""
    p = call.params
    status = p.get("status")
    found = [
        s
        for s in call.state.of_kind("subscription")
        if s["customer"] == p.get("customer", s["customer"])
        and s.get("test_clock") == p.get("test_clock", s.get("test_clock"))
        and any(i["price"]["id"] == p.get("price", i["price"]["id"]) for i in s["items"]["data"])
        and (
            status == "all"
            or s["status"] == status
            or (status is None and s["status"] not in billing.ENDED)
        )
    ]
    found.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
    return list_page(found, p, "/v1/subscriptions")


@route("POST", "/v1/subscriptions/{id}", "SubscriptionUpdateParams")
def update_subscription(call: Call) -> dict[str, Any]:
    state = call.state
    subscription = state.get("subscription", call.id())
    if subscription["status"] in billing.ENDED:
        raise invalid(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    before = copy.deepcopy(subscription)
    now = state.now(subscription["customer"])
    apply_changes(state, subscription, call.params, now)
    previous = {
        k: before[k] for k in before if not k.startswith("_") and before[k] != subscription.get(k)
    }
    if previous:
        emit(state, "customer.subscription.updated", subscription, previous)
    if call.params.get("trial_end") == "now" and subscription["status"] == "trialing":
        subscription["trial_end"] = now
        billing.renew(state, subscription, now)
    return public(subscription)


def apply_changes(
    state: StripeState, subscription: dict[str, Any], p: Mapping[str, Any], now: int
) -> None:
    """The fields an update (API or portal) changes, in Stripe's rules."""
    if "cancel_at_period_end" in p:
        ending = bool(p["cancel_at_period_end"])
        subscription.update(
            cancel_at_period_end=ending,
            cancel_at=billing.period(subscription)[1] if ending else None,
            canceled_at=now if ending else None,
        )
    if "cancel_at" in p:
        cancel_at = p["cancel_at"]
        if cancel_at in ("min_period_end", "max_period_end"):
            cancel_at = billing.period(subscription)[1]
        subscription.update(
            cancel_at=cancel_at or None,
            cancel_at_period_end=False,
            canceled_at=now if cancel_at else None,
        )
    if "pause_collection" in p:
        pause = p["pause_collection"]
        subscription["pause_collection"] = (
            {"behavior": pause["behavior"], "resumes_at": pause.get("resumes_at")}
            if pause
            else None
        )
    if "metadata" in p:
        subscription["metadata"] = merged_metadata(subscription.get("metadata"), p["metadata"])
    if "default_payment_method" in p:
        state.objects[subscription["customer"]]["_card"] = p["default_payment_method"]
    if "items" in p:
        change_items(
            state, subscription, p["items"], p.get("proration_behavior", "create_prorations"), now
        )


def change_items(
    state: StripeState,
    subscription: dict[str, Any],
    changes: list[Mapping[str, Any]],
    behaviour: str,
    now: int,
) -> None:
    """Price and quantity changes: prorated (credit the unused time, charge the rest) into
    the next invoice, invoiced now (`always_invoice`), or not at all (`none`)."""
    start, end = billing.period(subscription)
    fraction = max(end - now, 0) / max(end - start, 1)
    invoice_id = new_id("in")
    proration: list[dict[str, Any]] = []
    items = subscription["items"]["data"]
    for n, change in enumerate(changes):
        old = _item(items, change, n)
        new_price = (
            _price(state, change.get("price"), f"items[{n}][price]")
            if change.get("price")
            else None
        )
        if old is None:
            old = billing.new_item(
                state, subscription["id"], new_price or "", change.get("quantity"), now
            )
            old.update(current_period_start=start, current_period_end=end)
            items.append(old)
            continue
        credit = -_prorated(old, int(old.get("quantity") or 1), fraction)
        if change.get("deleted"):
            items.remove(old)
            proration.append(
                billing._line(
                    invoice_id,
                    subscription,
                    old,
                    credit,
                    now,
                    end,
                    old.get("quantity"),
                    True,
                    "Unused time",
                )
            )
            continue
        if new_price:
            price = state.objects[new_price]
            old.update(price=public(price), plan=billing.plan_of(price))
        if "quantity" in change and not billing.metered(old["price"]):
            old["quantity"] = change["quantity"]
        debit = _prorated(old, int(old.get("quantity") or 1), fraction)
        if not billing.metered(old["price"]):
            proration.append(
                billing._line(
                    invoice_id, subscription, old, credit, now, end, None, True, "Unused time"
                )
            )
            proration.append(
                billing._line(
                    invoice_id,
                    subscription,
                    old,
                    debit,
                    now,
                    end,
                    old.get("quantity"),
                    True,
                    "Remaining time",
                )
            )
    if behaviour == "none" or not proration or subscription["status"] == "trialing":
        return
    if behaviour == "always_invoice":
        invoice = billing.create_invoice(
            state, subscription, "subscription_update", proration, now, now, now
        )
        billing.charge(state, invoice, subscription, now)
    else:
        subscription.setdefault("_pending_lines", []).extend(proration)


def _item(items: list[dict[str, Any]], change: Mapping[str, Any], n: int) -> dict[str, Any] | None:
    if "id" in change:
        for item in items:
            if item["id"] == change["id"]:
                return item
        raise StripeError(
            404,
            "invalid_request_error",
            f"No such subscription item: '{change['id']}'",
            "resource_missing",
            f"items[{n}][id]",
        )
    return None


def _prorated(item: Mapping[str, Any], quantity: int, fraction: float) -> int:
    if billing.metered(item["price"]):
        return 0
    return round(int(item["price"]["unit_amount"]) * quantity * fraction)


@route("DELETE", "/v1/subscriptions/{id}", "SubscriptionCancelParams")
def cancel_subscription(call: Call) -> dict[str, Any]:
    """Cancel now (`customer.subscription.deleted`); a canceled one is a 404-free 400."""
    subscription = call.state.get("subscription", call.id())
    if subscription["status"] in billing.ENDED:
        raise invalid(f"No such subscription: '{call.id()}'", "id", "resource_missing")
    billing.end(
        call.state, subscription, call.state.now(subscription["customer"]), "cancellation_requested"
    )
    return public(subscription)


@route("GET", "/v1/subscription_items", "SubscriptionItemListParams")
def list_subscription_items(call: Call) -> dict[str, Any]:
    subscription = call.state.get("subscription", call.params["subscription"], "subscription")
    return list_page(subscription["items"]["data"], call.params, "/v1/subscription_items")


def _owning(state: StripeState, item_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for subscription in state.of_kind("subscription"):
        for item in subscription["items"]["data"]:
            if item["id"] == item_id:
                return subscription, item
    raise StripeError(
        404,
        "invalid_request_error",
        f"No such subscription item: '{item_id}'",
        "resource_missing",
        "id",
    )


@route("GET", "/v1/subscription_items/{id}", "SubscriptionItemRetrieveParams")
def retrieve_subscription_item(call: Call) -> dict[str, Any]:
    return public(_owning(call.state, call.id())[1])


@route("POST", "/v1/subscription_items/{id}", "SubscriptionItemUpdateParams")
def update_subscription_item(call: Call) -> dict[str, Any]:
    """A quantity or price change of one item, prorated as a subscription update is."""
    subscription, item = _owning(call.state, call.id())
    before = copy.deepcopy(subscription["items"])
    change: dict[str, Any] = {
        "id": item["id"],
        **{k: call.params[k] for k in ("price", "quantity") if k in call.params},
    }
    now = call.state.now(subscription["customer"])
    change_items(
        call.state,
        subscription,
        [change],
        call.params.get("proration_behavior", "create_prorations"),
        now,
    )
    if "metadata" in call.params:
        item["metadata"] = merged_metadata(item.get("metadata"), call.params["metadata"])
    emit(call.state, "customer.subscription.updated", subscription, {"items": before})
    return public(item)
