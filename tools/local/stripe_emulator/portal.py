"""The customer portal: configurations, sessions, and what a customer does on the page.

The page offers what its configuration enables: cancel (at period end or at once, per
`subscription_cancel.mode`), switch to another of `subscription_update.products`' prices
(prorated per its `proration_behavior`), change the quantity (with `quantity` in
`default_allowed_updates`), and resume a subscription set to cancel. Each action changes the
subscription as the API would, so the same events follow.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from tools.local.stripe_emulator import billing
from tools.local.stripe_emulator.errors import invalid
from tools.local.stripe_emulator.events import emit
from tools.local.stripe_emulator.objects import fixture, list_page, merged_metadata, new_id, public
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState
from tools.local.stripe_emulator.subscriptions import apply_changes


def _features(current: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Features as Stripe keeps them: given ones merged in, each product with its
    `adjustable_quantity` (off unless asked for)."""
    merged = copy.deepcopy(current)
    for name, value in given.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), dict):
            merged[name] = _features(merged[name], value)
        else:
            merged[name] = copy.deepcopy(value)
    for product in (merged.get("subscription_update") or {}).get("products") or []:
        quantity = {"enabled": False, "maximum": None, "minimum": 1}
        product["adjustable_quantity"] = {**quantity, **(product.get("adjustable_quantity") or {})}
    return merged


def add_configuration(
    state: StripeState,
    features: Mapping[str, Any],
    configuration_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A configuration as the API makes it: never the default (that is the Dashboard's)."""
    configuration = fixture("billing_portal.configuration")
    now = int(time.time())
    configuration.update(id=configuration_id or new_id("bpc"), created=now, updated=now, **fields)
    configuration["features"] = _features(configuration["features"], features)
    state.objects[configuration["id"]] = configuration
    return configuration


@route("POST", "/v1/billing_portal/configurations", "billing_portal.ConfigurationCreateParams")
def create_configuration(call: Call) -> dict[str, Any]:
    p = call.params
    for product in ((p.get("features") or {}).get("subscription_update") or {}).get(
        "products"
    ) or []:
        call.state.get(
            "product", product["product"], "features[subscription_update][products][0][product]"
        )
    configuration = add_configuration(
        call.state,
        p.get("features") or {},
        metadata=dict(p.get("metadata") or {}),
        name=p.get("name"),
        default_return_url=p.get("default_return_url"),
    )
    if "business_profile" in p:
        configuration["business_profile"].update(p["business_profile"])
    return public(configuration)


@route("GET", "/v1/billing_portal/configurations", "billing_portal.ConfigurationListParams")
def list_configurations(call: Call) -> dict[str, Any]:
    p = call.params
    found = [
        c
        for c in call.state.of_kind("billing_portal.configuration")
        if ("active" not in p or c["active"] is p["active"])
        and ("is_default" not in p or c["is_default"] is p["is_default"])
    ]
    found.sort(key=lambda c: (c["created"], c["id"]), reverse=True)
    return list_page(found, p, "/v1/billing_portal/configurations")


@route(
    "GET", "/v1/billing_portal/configurations/{id}", "billing_portal.ConfigurationRetrieveParams"
)
def retrieve_configuration(call: Call) -> dict[str, Any]:
    return public(call.state.get("billing_portal.configuration", call.id()))


@route("POST", "/v1/billing_portal/configurations/{id}", "billing_portal.ConfigurationUpdateParams")
def update_configuration(call: Call) -> dict[str, Any]:
    configuration = call.state.get("billing_portal.configuration", call.id())
    p = call.params
    if "active" in p:
        if configuration["is_default"] and not p["active"]:
            raise invalid("You cannot deactivate the default portal configuration.", "active")
        configuration["active"] = p["active"]
    if "features" in p:
        configuration["features"] = _features(configuration["features"], p["features"])
    if "metadata" in p:
        configuration["metadata"] = merged_metadata(configuration.get("metadata"), p["metadata"])
    configuration["updated"] = int(time.time())
    return public(configuration)


@route("POST", "/v1/billing_portal/sessions", "billing_portal.SessionCreateParams")
def create_portal_session(call: Call) -> dict[str, Any]:
    p = call.params
    call.state.get("customer", p["customer"], "customer")
    configurations = call.state.of_kind("billing_portal.configuration")
    if "configuration" in p:
        configuration = call.state.get(
            "billing_portal.configuration", p["configuration"], "configuration"
        )
    else:
        configuration = next((c for c in configurations if c["is_default"]), {})
        if not configuration:
            raise invalid(
                "You can't create a portal session in test mode until you save your customer "
                "portal settings in test mode."
            )
    if not configuration.get("active", True):
        raise invalid("This configuration is inactive.", "configuration")
    session = fixture("billing_portal.session")
    session_id = new_id("bps")
    session.update(
        id=session_id,
        created=int(time.time()),
        customer=p["customer"],
        configuration=configuration["id"],
        locale=p.get("locale"),
        return_url=p.get("return_url") or configuration.get("default_return_url"),
        url=call.emulator.portal_url(session_id),
    )
    call.state.objects[session_id] = session
    return public(session)


# -- what the portal page does ------------------------------------------------------------


def current_subscription(state: StripeState, customer: str) -> dict[str, Any] | None:
    live = [
        s
        for s in state.of_kind("subscription")
        if s["customer"] == customer and s["status"] not in billing.ENDED
    ]
    return max(live, key=lambda s: (s["created"], s["id"]), default=None)


def offered_prices(state: StripeState, configuration: Mapping[str, Any]) -> list[dict[str, Any]]:
    update = configuration["features"]["subscription_update"]
    if not update.get("enabled"):
        return []
    ids = [
        price for product in update.get("products") or [] for price in product.get("prices") or []
    ]
    return [state.objects[i] for i in ids if i in state.objects and state.objects[i]["active"]]


def act(state: StripeState, session_id: str, action: str, form: Mapping[str, str]) -> None:
    """One portal action (`cancel`, `resume`, `switch`, `quantity`) on the customer's
    current subscription, allowed by the session's configuration."""
    session = state.get("billing_portal.session", session_id)
    configuration = state.objects[session["configuration"]]
    subscription = current_subscription(state, session["customer"])
    if subscription is None:
        raise invalid("This customer has no subscription to manage.")
    features = configuration["features"]
    now = state.now(session["customer"])
    before = copy.deepcopy(subscription)
    update = features["subscription_update"]
    if action == "cancel" and features["subscription_cancel"].get("enabled"):
        if features["subscription_cancel"].get("mode") == "immediately":
            billing.end(state, subscription, now, "cancellation_requested")
            return
        apply_changes(state, subscription, {"cancel_at_period_end": True}, now)
    elif action == "resume" and subscription["cancel_at"]:
        apply_changes(state, subscription, {"cancel_at_period_end": False}, now)
    elif action == "switch" and form.get("price") in {
        p["id"] for p in offered_prices(state, configuration)
    }:
        item = subscription["items"]["data"][0]
        apply_changes(
            state,
            subscription,
            {
                "items": [{"id": item["id"], "price": form["price"]}],
                "proration_behavior": update.get("proration_behavior", "create_prorations"),
            },
            now,
        )
    elif (
        action == "quantity"
        and "quantity" in (update.get("default_allowed_updates") or [])
        and form.get("quantity", "").isdigit()
    ):
        item = subscription["items"]["data"][0]
        apply_changes(
            state,
            subscription,
            {
                "items": [{"id": item["id"], "quantity": int(form["quantity"])}],
                "proration_behavior": update.get("proration_behavior", "create_prorations"),
            },
            now,
        )
    else:
        raise invalid(f"The portal does not offer `{action}` here.", "action")
    previous = {
        k: before[k] for k in before if not k.startswith("_") and before[k] != subscription.get(k)
    }
    if previous:
        emit(state, "customer.subscription.updated", subscription, previous)
