"""Events as an account makes them, renders them and delivers them to its webhook endpoints.

An event's `created` is the wall clock even when its object lives on a test clock, as Stripe's
are. Each event is rendered in its endpoint's `api_version`, else the account's default
version (`AccountSettings.api_version`), and `GET /v1/events` renders in the account's. A
version older than basil (2025-03-31) gets the shapes that version had (a subscription's period
at its top level, an invoice's `subscription`), so a handler that parses the wrong version shows.
Deliveries happen outside the state lock, in the order the events happened, once each: a failed
delivery is left to `delivery_success=false` (what a reconciliation reads), not retried.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import stripe

from tools.local.stripe_emulator.errors import StripeError, invalid
from tools.local.stripe_emulator.objects import (
    fixture,
    list_page,
    merged_metadata,
    new_id,
    public,
    secret_suffix,
)
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import PINNED_API_VERSION, StripeState

if TYPE_CHECKING:
    from tools.local.stripe_emulator.emulator import StripeFake

#: The first version with the basil shapes (periods on items, invoices' `parent`).
BASIL = "2025-03-31"

#: What `emit` runs after recording each event, under the state lock, with the stored event:
#: state Stripe derives from other objects' events (a customer's entitlements follow its
#: subscriptions) is kept by the module that owns it registering here, so the modules that
#: change subscriptions (billing, subscriptions, portal, checkout, customers) never import it.
#: An observer may emit events itself (they run through the observers too).
AFTER_EMIT: list[Callable[[StripeState, dict[str, Any]], None]] = []


def make_event(
    event_type: str,
    obj: Mapping[str, Any],
    created: int | None = None,
    previous_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An event about `obj` (a copy, as it is now), in the pinned version's shape."""
    event = fixture("event")
    data: dict[str, Any] = {"object": public(obj)}
    if previous_attributes:
        data["previous_attributes"] = copy.deepcopy(dict(previous_attributes))
    event.update(
        id=new_id("evt"),
        type=event_type,
        created=created or int(time.time()),
        api_version=PINNED_API_VERSION,
        data=data,
    )
    return event


def emit(
    state: StripeState,
    event_type: str,
    obj: Mapping[str, Any],
    previous_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an event for GET /v1/events and queue it for delivery (call under the lock)."""
    event = make_event(event_type, obj, previous_attributes=previous_attributes)
    stored = {**event, "_delivered": None}
    state.events.append(stored)
    state.outbox.append(stored)
    for observer in AFTER_EMIT:
        observer(state, stored)
    return event


def render(event: Mapping[str, Any], version: str) -> dict[str, Any]:
    """The event as an endpoint (or the events list) pinned to `version` sees it."""
    rendered = copy.deepcopy({k: v for k, v in event.items() if not k.startswith("_")})
    rendered["api_version"] = version
    if version[:10] < BASIL:
        _older_shape(rendered["data"]["object"])
    return rendered


def _older_shape(obj: dict[str, Any]) -> None:
    """What acacia and older versions sent: periods on the subscription, not its items."""
    if obj.get("object") == "subscription":
        items = obj.get("items", {}).get("data") or [{}]
        obj["current_period_start"] = items[0].pop("current_period_start", None)
        obj["current_period_end"] = items[0].pop("current_period_end", None)
    if obj.get("object") == "invoice":
        details = (obj.pop("parent", None) or {}).get("subscription_details") or {}
        obj["subscription"] = details.get("subscription")


def signed(
    event: Mapping[str, Any] | str, secret: str, timestamp: int | None = None
) -> tuple[str, str]:
    """(payload, Stripe-Signature header) as Stripe would deliver them."""
    payload = event if isinstance(event, str) else json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp or int(time.time())
    )
    return payload, header


def _post(url: str, secret: str, event: Mapping[str, Any]) -> bool:
    """POST one signed event as Stripe does; True on a 2xx answer."""
    payload, header = signed(event, secret)
    request = urllib.request.Request(
        url,
        data=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _listens(endpoint: Mapping[str, Any], event_type: str) -> bool:
    enabled = endpoint.get("enabled_events") or []
    return endpoint.get("status") == "enabled" and ("*" in enabled or event_type in enabled)


def flush(emulator: StripeFake) -> None:
    """Deliver every queued event, oldest first, to each endpoint listening for its type.

    Call without holding the state lock: the endpoint (the webhook function) calls back."""
    state = emulator.state
    with state.delivery_lock:
        while True:
            with state.lock:
                if not state.outbox:
                    return
                event = state.outbox.pop(0)
                endpoints = [
                    (e["url"], e["_secret"], e.get("api_version") or state.settings.api_version)
                    for e in state.of_kind("webhook_endpoint")
                    if _listens(e, event["type"])
                ]
                event["pending_webhooks"] = len(endpoints)
            answers = [
                _post(url, secret, render(event, version)) for url, secret, version in endpoints
            ]
            with state.lock:
                event["_delivered"] = bool(answers) and all(answers)
                event["pending_webhooks"] = answers.count(False)


# -- routes -------------------------------------------------------------------------------


def _matches(event: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    types = set(params.get("types") or ([params["type"]] if "type" in params else []))
    delivered = params.get("delivery_success")
    created = params.get("created")
    if types and not any(_type_matches(event["type"], t) for t in types):
        return False
    if delivered is not None and event["_delivered"] is not delivered:
        return False
    if isinstance(created, int):
        return bool(event["created"] == created)
    if isinstance(created, Mapping):
        checks = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
        return all(checks[op](event["created"], int(bound)) for op, bound in created.items())
    return True


def _type_matches(event_type: str, pattern: str) -> bool:
    """`customer.subscription.*` matches as Stripe's wildcard does."""
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


@route("GET", "/v1/events", "EventListParams")
def list_events(call: Call) -> dict[str, Any]:
    """Newest first (ties by id), filtered by type(s), delivery_success and created."""
    found = [e for e in call.state.events if _matches(e, call.params)]
    found.sort(key=lambda e: (e["created"], e["id"]), reverse=True)
    version = call.state.settings.api_version
    return list_page((render(e, version) for e in found), call.params, "/v1/events")


@route("GET", "/v1/events/{id}", "EventRetrieveParams")
def retrieve_event(call: Call) -> dict[str, Any]:
    for event in call.state.events:
        if event["id"] == call.id():
            return render(event, call.state.settings.api_version)
    raise StripeError(
        404, "invalid_request_error", f"No such event: '{call.id()}'", "resource_missing", "id"
    )


@route("POST", "/v1/webhook_endpoints", "WebhookEndpointCreateParams")
def create_webhook_endpoint(call: Call) -> dict[str, Any]:
    """The endpoint with its `secret`, shown on creation only (as Stripe does)."""
    endpoint = add_endpoint(
        call.state,
        call.params["url"],
        call.params["enabled_events"],
        call.params.get("api_version"),
        call.params.get("metadata") or {},
        call.params.get("description"),
    )
    return {**public(endpoint), "secret": endpoint["_secret"]}


def add_endpoint(
    state: StripeState,
    url: str,
    enabled_events: list[str],
    api_version: str | None = None,
    metadata: Mapping[str, str] | None = None,
    description: str | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise invalid("Invalid URL: URL must be publicly accessible.", "url", "url_invalid")
    endpoint = fixture("webhook_endpoint")
    endpoint.update(
        id=new_id("we"),
        created=int(time.time()),
        url=url,
        enabled_events=list(enabled_events),
        api_version=api_version,
        metadata=dict(metadata or {}),
        description=description,
        _secret=secret or "whsec_" + secret_suffix(),
    )
    state.objects[endpoint["id"]] = endpoint
    return endpoint


@route("GET", "/v1/webhook_endpoints", "WebhookEndpointListParams")
def list_webhook_endpoints(call: Call) -> dict[str, Any]:
    found = sorted(call.state.of_kind("webhook_endpoint"), key=lambda e: e["created"], reverse=True)
    return list_page(found, call.params, "/v1/webhook_endpoints")


@route("GET", "/v1/webhook_endpoints/{id}", "WebhookEndpointRetrieveParams")
def retrieve_webhook_endpoint(call: Call) -> dict[str, Any]:
    return public(call.state.get("webhook_endpoint", call.id()))


@route("POST", "/v1/webhook_endpoints/{id}", "WebhookEndpointUpdateParams")
def update_webhook_endpoint(call: Call) -> dict[str, Any]:
    endpoint = call.state.get("webhook_endpoint", call.id())
    for name in ("url", "enabled_events", "description"):
        if name in call.params:
            endpoint[name] = call.params[name]
    if "disabled" in call.params:
        endpoint["status"] = "disabled" if call.params["disabled"] else "enabled"
    if "metadata" in call.params:
        endpoint["metadata"] = merged_metadata(endpoint.get("metadata"), call.params["metadata"])
    return public(endpoint)


@route("DELETE", "/v1/webhook_endpoints/{id}", "WebhookEndpointDeleteParams")
def delete_webhook_endpoint(call: Call) -> dict[str, Any]:
    call.state.get("webhook_endpoint", call.id())
    del call.state.objects[call.id()]
    return {"id": call.id(), "object": "webhook_endpoint", "deleted": True}
