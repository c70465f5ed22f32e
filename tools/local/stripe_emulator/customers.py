"""Customers: create (on a test clock, with a test card), retrieve, update, list, delete."""

from __future__ import annotations

import copy
import time
from typing import Any

from tools.local.stripe_emulator import billing
from tools.local.stripe_emulator.clocks import add_clock
from tools.local.stripe_emulator.errors import invalid
from tools.local.stripe_emulator.events import emit
from tools.local.stripe_emulator.objects import fixture, list_page, merged_metadata, new_id, public
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState

#: Stripe's limit of customers on one test clock.
CUSTOMERS_PER_CLOCK = 3


def add_customer(
    state: StripeState, email: str | None = None, test_clock: str | None = None, **fields: Any
) -> dict[str, Any]:
    if test_clock is None and state.settings.clock_per_customer:
        test_clock = add_clock(state, int(time.time()), f"customer {email or ''}".strip())["id"]
    if test_clock:
        state.get("test_helpers.test_clock", test_clock, "test_clock")
        on_clock = [c for c in state.of_kind("customer") if c.get("test_clock") == test_clock]
        if len(on_clock) >= CUSTOMERS_PER_CLOCK:
            raise invalid(
                f"You can only have up to {CUSTOMERS_PER_CLOCK} customers on a test clock.",
                "test_clock",
            )
    customer = fixture("customer")
    customer.update(id=new_id("cus"), email=email, test_clock=test_clock, **fields)
    customer["created"] = (
        state.now(None) if not test_clock else int(state.objects[test_clock]["frozen_time"])
    )
    state.objects[customer["id"]] = customer
    emit(state, "customer.created", customer)
    return customer


def _card(customer: dict[str, Any], payment_method: str | None) -> None:
    """Attach one of Stripe's test payment methods as the default for invoices."""
    if payment_method is None:
        return
    if payment_method not in billing.CARDS:
        raise invalid(
            f"No such PaymentMethod: '{payment_method}'", "payment_method", "resource_missing"
        )
    customer["_card"] = payment_method
    customer["invoice_settings"]["default_payment_method"] = payment_method


@route("POST", "/v1/customers", "CustomerCreateParams")
def create_customer(call: Call) -> dict[str, Any]:
    p = call.params
    customer = add_customer(
        call.state,
        p.get("email"),
        p.get("test_clock"),
        name=p.get("name"),
        metadata=dict(p.get("metadata") or {}),
        description=p.get("description"),
    )
    _card(
        customer,
        p.get("payment_method") or (p.get("invoice_settings") or {}).get("default_payment_method"),
    )
    return public(customer)


@route("GET", "/v1/customers/{id}", "CustomerRetrieveParams")
def retrieve_customer(call: Call) -> dict[str, Any]:
    customer = call.state.objects.get(call.id())
    if customer and customer.get("deleted"):
        return {"id": call.id(), "object": "customer", "deleted": True}
    return public(call.state.get("customer", call.id()))


@route("POST", "/v1/customers/{id}", "CustomerUpdateParams")
def update_customer(call: Call) -> dict[str, Any]:
    """Changes emit `customer.updated` with the previous values, as Stripe's do."""
    customer = call.state.get("customer", call.id())
    before = copy.deepcopy(customer)
    p = call.params
    for name in ("email", "name", "description"):
        if name in p:
            customer[name] = p[name] or None
    if "metadata" in p:
        customer["metadata"] = merged_metadata(customer.get("metadata"), p["metadata"])
    _card(customer, (p.get("invoice_settings") or {}).get("default_payment_method"))
    previous = {k: v for k, v in before.items() if not k.startswith("_") and customer.get(k) != v}
    if previous:
        emit(call.state, "customer.updated", customer, previous)
    return public(customer)


@route("GET", "/v1/customers", "CustomerListParams")
def list_customers(call: Call) -> dict[str, Any]:
    p = call.params
    found = [
        c
        for c in call.state.of_kind("customer")
        if not c.get("deleted")
        and c.get("email") == p.get("email", c.get("email"))
        and c.get("test_clock") == p.get("test_clock", c.get("test_clock"))
    ]
    found.sort(key=lambda c: (c["created"], c["id"]), reverse=True)
    return list_page(found, p, "/v1/customers")


@route("DELETE", "/v1/customers/{id}", "CustomerDeleteParams")
def delete_customer(call: Call) -> dict[str, Any]:
    """Deleting a customer cancels its subscriptions at once, as Stripe does."""
    customer = call.state.get("customer", call.id())
    now = call.state.now(customer["id"])
    for subscription in call.state.of_kind("subscription"):
        if (
            subscription["customer"] == customer["id"]
            and subscription["status"] not in billing.ENDED
        ):
            billing.end(call.state, subscription, now, "cancellation_requested")
    customer["deleted"] = True
    emit(call.state, "customer.deleted", customer)
    return {"id": customer["id"], "object": "customer", "deleted": True}
