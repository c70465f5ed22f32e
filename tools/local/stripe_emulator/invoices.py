"""Invoices as billing made them: retrieve, list, their lines, and paying an open one."""

from __future__ import annotations

from typing import Any

from tools.local.stripe_emulator import billing
from tools.local.stripe_emulator.errors import StripeError, invalid
from tools.local.stripe_emulator.objects import list_page, public
from tools.local.stripe_emulator.router import Call, route


@route("GET", "/v1/invoices/{id}", "InvoiceRetrieveParams")
def retrieve_invoice(call: Call) -> dict[str, Any]:
    return public(call.state.get("invoice", call.id()))


@route("GET", "/v1/invoices", "InvoiceListParams")
def list_invoices(call: Call) -> dict[str, Any]:
    p = call.params

    def subscription_of(invoice: dict[str, Any]) -> str | None:
        details = (invoice.get("parent") or {}).get("subscription_details") or {}
        return details.get("subscription")

    found = [
        i
        for i in call.state.of_kind("invoice")
        if i["customer"] == p.get("customer", i["customer"])
        and i["status"] == p.get("status", i["status"])
        and ("subscription" not in p or subscription_of(i) == p["subscription"])
    ]
    found.sort(key=lambda i: (i["created"], i["id"]), reverse=True)
    return list_page(found, p, "/v1/invoices")


@route("GET", "/v1/invoices/{id}/lines", "InvoiceLineItemListParams")
def list_invoice_lines(call: Call) -> dict[str, Any]:
    invoice = call.state.get("invoice", call.id(), "invoice")
    return list_page(invoice["lines"]["data"], call.params, f"/v1/invoices/{call.id()}/lines")


@route("POST", "/v1/invoices/{id}/pay", "InvoicePayParams")
def pay_invoice(call: Call) -> dict[str, Any]:
    """Pay an open invoice now (after a card update): success makes its subscription active."""
    state = call.state
    invoice = state.get("invoice", call.id())
    if invoice["status"] != "open":
        raise invalid(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    if call.params.get("payment_method"):
        state.objects[invoice["customer"]]["_card"] = call.params["payment_method"]
    subscription_id = ((invoice.get("parent") or {}).get("subscription_details") or {}).get(
        "subscription"
    )
    subscription = state.objects.get(subscription_id or "")
    now = state.now(invoice["customer"])
    invoice["next_payment_attempt"] = None
    if not billing.charge(state, invoice, subscription or {}, now):
        raise StripeError(402, "card_error", "Your card was declined.", "card_declined")
    if subscription and subscription["status"] in ("past_due", "unpaid", "incomplete"):
        billing.change_status(state, subscription, "active")
    return public(invoice)
