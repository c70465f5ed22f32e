"""Entitlements: features, the features attached to products, and customers' active entitlements.

What Stripe does, and where it says so (found with the `search` tool):

* A feature's `lookup_key` is unique among the account's features "unless you archive the
  feature associated with the Lookup Key" (docs.stripe.com/billing/entitlements, Dashboard
  variant): creating a feature with the key of an active one is a 400; an archived one's key is
  free again. The key "may be up to 80 characters" (the API reference of `lookup_key`).
* "Inactive features cannot be attached to new products and will not be returned from the
  features list endpoint" (the `active` field's reference): `GET /v1/entitlements/features`
  lists active ones unless `archived=true` asks for the archived ones.
* A customer is entitled to the features of the products it subscribes to: "When customers
  subscribe to your products, Stripe Billing entitles the customer to the product's features.
  Listen to the Active Entitlement Summary webhook" (the API variant of the same page);
  `entitlements.active_entitlement_summary.updated` "occurs whenever a customer's entitlements
  change" (stripe-ruby's event class).
* "Existing subscriptions will create active entitlements for any product feature changes at
  the start of the next billing period" (the API variant's note on attaching a feature): a
  feature attached to (or detached from) a product reaches its current subscribers when their
  next period starts, not at once. A subscription's features are read off its products when it
  starts, when its prices change (a price change is how developers make a newly attached
  feature show at once: sgtpepperoni.substack.com "Working around a Stripe Entitlements
  Gotcha", quoting the Dashboard's "Entitlements are updated at subscription creation or on a
  new billing cycle") and when a new period starts (a renewal, a trial's end).
* Which statuses entitle is not written down; "as long as a customer maintains an active
  subscription for a feature, they retain an active entitlement" (the guide, as quoted on
  Stack Overflow 79385906) and a paused subscription keeps its entitlements (Stripe's answer in
  the same thread). Decided here: `trialing`, `active`, `past_due` and `paused` entitle;
  `incomplete` (nothing paid yet), `unpaid`, `canceled` and `incomplete_expired` do not.

Decided where no source was found: the refusals' messages and codes; an archived feature
cannot be updated (alchemy.run's Stripe provider documents "Archived features cannot be edited
or unarchived"); archiving a feature leaves it attached and granted where it already was; the
summary's `entitlements` is the first page (10, newest first) of the customer's active
entitlements, and `previous_attributes.entitlements` that page before the change.

How it follows subscriptions: `events.AFTER_EMIT` runs `_follow` after every event; on a
`customer.subscription.*` one it recomputes that customer's entitlements and emits the summary
event if they changed. Every path that changes a subscription (the API, the portal, Checkout,
a clock's renewals, retries and cancellations, deleting the customer) already emits one of
those events, so none of them has to know about entitlements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tools.local.stripe_emulator import billing, events
from tools.local.stripe_emulator.errors import StripeError, invalid
from tools.local.stripe_emulator.objects import fixture, list_page, merged_metadata, new_id, public
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState

FEATURE = "entitlements.feature"
PRODUCT_FEATURE = "product_feature"
ACTIVE = "entitlements.active_entitlement"
SUMMARY_UPDATED = "entitlements.active_entitlement_summary.updated"

#: The subscription statuses whose products' features a customer is entitled to.
ENTITLING = ("trialing", "active", "past_due", "paused")

LOOKUP_KEY_MAX = 80


def _no_such(label: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404, "invalid_request_error", f"No such {label}: '{object_id}'", "resource_missing", param
    )


def _feature(state: StripeState, feature_id: str, param: str = "id") -> dict[str, Any]:
    found = state.objects.get(feature_id)
    if found is None or found.get("object") != FEATURE:
        raise _no_such("feature", feature_id, param)
    return found


# -- features -----------------------------------------------------------------------------


@route("POST", "/v1/entitlements/features", "entitlements.FeatureCreateParams")
def create_feature(call: Call) -> dict[str, Any]:
    p = call.params
    lookup_key = p["lookup_key"]
    if len(lookup_key) > LOOKUP_KEY_MAX:
        raise invalid(
            f"Invalid string: {lookup_key}; must be at most {LOOKUP_KEY_MAX} characters",
            "lookup_key",
        )
    for other in call.state.of_kind(FEATURE):
        if other["active"] and other["lookup_key"] == lookup_key:
            raise invalid(
                f"A feature (`{other['id']}`) already uses the lookup_key `{lookup_key}`; "
                "archive it to use the key for another feature.",
                "lookup_key",
                "resource_already_exists",
            )
    feature = fixture(FEATURE)
    feature.update(
        id=new_id("feat_test"),
        name=p["name"],
        lookup_key=lookup_key,
        metadata=dict(p.get("metadata") or {}),
    )
    call.state.objects[feature["id"]] = feature
    return public(feature)


@route("GET", "/v1/entitlements/features", "entitlements.FeatureListParams")
def list_features(call: Call) -> dict[str, Any]:
    """Active features, newest first; `archived=true` lists the archived ones instead."""
    p = call.params
    archived = bool(p.get("archived", False))
    found = [
        f
        for f in call.state.of_kind(FEATURE)
        if f["active"] is not archived and f["lookup_key"] == p.get("lookup_key", f["lookup_key"])
    ]
    return list_page(reversed(found), p, "/v1/entitlements/features")


@route("GET", "/v1/entitlements/features/{id}", "entitlements.FeatureRetrieveParams")
def retrieve_feature(call: Call) -> dict[str, Any]:
    return public(_feature(call.state, call.id()))


@route("POST", "/v1/entitlements/features/{id}", "entitlements.FeatureUpdateParams")
def update_feature(call: Call) -> dict[str, Any]:
    """Name, metadata, or `active=false` to archive; an archived feature stays archived."""
    feature = _feature(call.state, call.id())
    p = call.params
    if not feature["active"]:
        raise invalid("This feature is archived: it can no longer be updated.", "id")
    if "name" in p:
        feature["name"] = p["name"]
    if "metadata" in p:
        feature["metadata"] = merged_metadata(feature.get("metadata"), p["metadata"])
    if "active" in p:
        feature["active"] = bool(p["active"])
    return public(feature)


# -- product features ---------------------------------------------------------------------


def _rendered(state: StripeState, attached: Mapping[str, Any]) -> dict[str, Any]:
    """A product feature with its feature as it is now."""
    return {**public(attached), "entitlement_feature": public(state.objects[attached["_feature"]])}


def features_of(state: StripeState, product_id: str) -> list[dict[str, Any]]:
    """The product features attached to a product, oldest first."""
    return [pf for pf in state.of_kind(PRODUCT_FEATURE) if pf["_product"] == product_id]


def _attached(call: Call) -> dict[str, Any]:
    call.state.get("product", call.id("product"), "product")
    for attached in features_of(call.state, call.id("product")):
        if attached["id"] == call.id():
            return attached
    raise _no_such("product feature", call.id())


@route("POST", "/v1/products/{product}/features", "ProductFeatureCreateParams")
def attach_feature(call: Call) -> dict[str, Any]:
    """Attach a feature; current subscribers get it when their next period starts."""
    state = call.state
    product_id = call.id("product")
    state.get("product", product_id, "product")
    feature = _feature(state, call.params["entitlement_feature"], "entitlement_feature")
    if not feature["active"]:
        raise invalid(
            f"The feature `{feature['id']}` is archived: inactive features cannot be attached "
            "to products.",
            "entitlement_feature",
        )
    if any(pf["_feature"] == feature["id"] for pf in features_of(state, product_id)):
        raise invalid(
            f"The feature `{feature['id']}` is already attached to the product `{product_id}`.",
            "entitlement_feature",
            "resource_already_exists",
        )
    attached = fixture(PRODUCT_FEATURE)
    attached.update(id=new_id("prodft"), _product=product_id, _feature=feature["id"])
    state.objects[attached["id"]] = attached
    return _rendered(state, attached)


@route("GET", "/v1/products/{product}/features", "ProductFeatureListParams")
def list_product_features(call: Call) -> dict[str, Any]:
    product_id = call.id("product")
    call.state.get("product", product_id, "product")
    found = [_rendered(call.state, pf) for pf in reversed(features_of(call.state, product_id))]
    return list_page(found, call.params, f"/v1/products/{product_id}/features")


@route("GET", "/v1/products/{product}/features/{id}", "ProductFeatureRetrieveParams")
def retrieve_product_feature(call: Call) -> dict[str, Any]:
    return _rendered(call.state, _attached(call))


@route("DELETE", "/v1/products/{product}/features/{id}", "ProductFeatureDeleteParams")
def detach_feature(call: Call) -> dict[str, Any]:
    """Detach a feature; current subscribers lose it when their next period starts."""
    attached = _attached(call)
    del call.state.objects[attached["id"]]
    return {"id": attached["id"], "object": PRODUCT_FEATURE, "deleted": True}


# -- active entitlements ------------------------------------------------------------------


def held(state: StripeState, customer_id: str) -> list[dict[str, Any]]:
    """A customer's active entitlements, newest first."""
    return [e for e in reversed(state.of_kind(ACTIVE)) if e["_customer"] == customer_id]


def _page(state: StripeState, customer_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return list_page(
        held(state, customer_id),
        params,
        f"/v1/entitlements/active_entitlements?customer={customer_id}",
    )


@route("GET", "/v1/entitlements/active_entitlements", "entitlements.ActiveEntitlementListParams")
def list_active_entitlements(call: Call) -> dict[str, Any]:
    customer_id = call.params["customer"]
    call.state.get("customer", customer_id, "customer")
    page = _page(call.state, customer_id, call.params)
    page["url"] = "/v1/entitlements/active_entitlements"
    return page


@route(
    "GET",
    "/v1/entitlements/active_entitlements/{id}",
    "entitlements.ActiveEntitlementRetrieveParams",
)
def retrieve_active_entitlement(call: Call) -> dict[str, Any]:
    found = call.state.objects.get(call.id())
    if (
        found is None
        or found.get("object") != ACTIVE
        or found["_customer"] not in call.state.objects
    ):
        raise _no_such("active entitlement", call.id())
    return public(found)


# -- following subscriptions --------------------------------------------------------------


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def granted_by(state: StripeState, subscription: dict[str, Any]) -> list[str]:
    """The features a subscription grants: read off its products when it started, when its
    prices changed and when its current period started (kept in `_entitled`), as Stripe
    applies product feature changes to existing subscriptions at their next period."""
    prices = [item["price"]["id"] for item in subscription["items"]["data"]]
    period_start = billing.period(subscription)[0] if prices else None
    kept = subscription.get("_entitled")
    if kept is None or kept["prices"] != prices or kept["period_start"] != period_start:
        products = _unique(item["price"]["product"] for item in subscription["items"]["data"])
        features = _unique(
            pf["_feature"] for product in products for pf in features_of(state, product)
        )
        kept = {"prices": prices, "period_start": period_start, "features": features}
        subscription["_entitled"] = kept
    return list(kept["features"])


def entitled_to(state: StripeState, customer_id: str) -> list[str]:
    """The features of the customer's subscriptions in an entitling status (oldest first)."""
    return _unique(
        feature
        for subscription in state.of_kind("subscription")
        if subscription["customer"] == customer_id and subscription["status"] in ENTITLING
        for feature in granted_by(state, subscription)
        if feature in state.objects
    )


def summary(state: StripeState, customer_id: str) -> dict[str, Any]:
    found = fixture("entitlements.active_entitlement_summary")
    found.update(customer=customer_id, entitlements=_page(state, customer_id, {}))
    return found


def recompute(state: StripeState, customer_id: str) -> None:
    """Bring a customer's active entitlements in line with its subscriptions; if they changed,
    emit `entitlements.active_entitlement_summary.updated` (call under the state lock)."""
    wanted = entitled_to(state, customer_id)
    current = held(state, customer_id)
    have = {e["feature"] for e in current}
    if have == set(wanted):
        return
    before = _page(state, customer_id, {})
    for entitlement in current:
        if entitlement["feature"] not in wanted:
            del state.objects[entitlement["id"]]
    for feature_id in wanted:
        if feature_id not in have:
            entitlement = fixture(ACTIVE)
            entitlement.update(
                id=new_id("ent_test"),
                feature=feature_id,
                lookup_key=state.objects[feature_id]["lookup_key"],
                _customer=customer_id,
            )
            state.objects[entitlement["id"]] = entitlement
    events.emit(state, SUMMARY_UPDATED, summary(state, customer_id), {"entitlements": before})


def _follow(state: StripeState, event: Mapping[str, Any]) -> None:
    if not event["type"].startswith("customer.subscription."):
        return
    subscription = state.objects.get(event["data"]["object"]["id"])
    if subscription is not None:
        recompute(state, subscription["customer"])


events.AFTER_EMIT.append(_follow)
