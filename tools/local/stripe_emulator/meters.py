"""Billing meters, meter events (v1, and v2's session and stream) and event summaries.

What Stripe does, and what this module does with it:

* A meter (`billing.meter`) counts the events whose `event_name` is its own, per customer (the
  payload key of `customer_mapping`), with the value under `value_settings.event_payload_key`,
  aggregated by `default_aggregation.formula`: `sum`, `count` or `last`. Only the display name
  can change after creation; a meter is deactivated and reactivated, never deleted. An active
  meter's event name is its own (decided: a second one is a 400, as Stripe refuses it).
* `identifier` is unique over a rolling 24 hours (Stripe's docs: "We'll enforce uniqueness
  within a rolling 24 hour period"). v1 refuses a repeat with a 400 `An event already exists
  with identifier ...` (seen in langfuse/langfuse#16292); the v2 stream validates
  asynchronously, so a repeat is accepted by the request and dropped, which is what makes a
  retried batch harmless. The window runs on the emulator's wall clock (`travel` moves it).
* v2: `POST /v2/billing/meter_event_session` (API key) answers a token valid 15 minutes;
  `POST /v2/billing/meter_event_stream` (JSON, at most 100 events) is authenticated by that
  token alone (an expired one: 401 `billing_meter_event_session_expired`) and answers `{}`.
  An event the stream cannot apply (no active meter, no customer, a value that is not a
  number, a timestamp outside 35 days back to 5 minutes ahead) is dropped and kept in
  `StripeState.meter_errors`, as Stripe reports it later (`v1.billing.meter.error_report_
  triggered`), never in the answer.
* An event's default timestamp is its customer's time (the test clock's), so usage sent while a
  clock is frozen lands in that clock's period, and renewal invoices bill it in arrears.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tools.local.stripe_emulator.errors import StripeError, invalid
from tools.local.stripe_emulator.objects import list_page, new_id, public, secret_suffix
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState

#: Stripe keeps an identifier unique for a rolling 24 hours.
IDENTIFIER_WINDOW_SECONDS = 24 * 3600
#: A meter event session's token lives 15 minutes.
SESSION_SECONDS = 15 * 60
#: At most 100 events per stream request.
STREAM_MAX_EVENTS = 100
#: Paths authenticated by a session token instead of an API key.
SESSION_AUTHENTICATED = ("/v2/billing/meter_event_stream",)
_PAST_SECONDS, _FUTURE_SECONDS = 35 * 24 * 3600, 5 * 60
_WINDOWS = {"hour": 3600, "day": 24 * 3600}


# -- meters -------------------------------------------------------------------------------


def add_meter(
    state: StripeState,
    display_name: str,
    event_name: str,
    formula: str = "sum",
    meter_id: str | None = None,
    customer_key: str = "stripe_customer_id",
    value_key: str = "value",
) -> dict[str, Any]:
    """A meter as Stripe stores it (refused when an active one already has `event_name`)."""
    if any(m["event_name"] == event_name and m["status"] == "active" for m in _meters(state)):
        raise invalid(
            f"An active meter with event_name '{event_name}' already exists.", "event_name"
        )
    now = int(time.time())
    meter: dict[str, Any] = {
        "id": meter_id or new_id("mtr"),
        "object": "billing.meter",
        "created": now,
        "customer_mapping": {"event_payload_key": customer_key, "type": "by_id"},
        "default_aggregation": {"formula": formula},
        "display_name": display_name,
        "event_name": event_name,
        "event_time_window": None,
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": now,
        "value_settings": {"event_payload_key": value_key},
    }
    state.objects[meter["id"]] = meter
    return meter


def _meters(state: StripeState) -> list[dict[str, Any]]:
    return state.of_kind("billing.meter")


@route("POST", "/v1/billing/meters", "billing.MeterCreateParams")
def create_meter(call: Call) -> dict[str, Any]:
    p = call.params
    mapping = p.get("customer_mapping") or {}
    return public(
        add_meter(
            call.state,
            p["display_name"],
            p["event_name"],
            p["default_aggregation"]["formula"],
            customer_key=mapping.get("event_payload_key", "stripe_customer_id"),
            value_key=(p.get("value_settings") or {}).get("event_payload_key", "value"),
        )
    )


@route("GET", "/v1/billing/meters", "billing.MeterListParams")
def list_meters(call: Call) -> dict[str, Any]:
    status = call.params.get("status")
    found = [m for m in _meters(call.state) if status is None or m["status"] == status]
    found.sort(key=lambda m: (m["created"], m["id"]), reverse=True)
    return list_page(found, call.params, "/v1/billing/meters")


@route("GET", "/v1/billing/meters/{id}", "billing.MeterRetrieveParams")
def retrieve_meter(call: Call) -> dict[str, Any]:
    return public(call.state.get("billing.meter", call.id()))


@route("POST", "/v1/billing/meters/{id}", "billing.MeterUpdateParams")
def update_meter(call: Call) -> dict[str, Any]:
    meter = call.state.get("billing.meter", call.id())
    if "display_name" in call.params:
        meter.update(display_name=call.params["display_name"], updated=int(time.time()))
    return public(meter)


@route("POST", "/v1/billing/meters/{id}/deactivate", "billing.MeterDeactivateParams")
def deactivate_meter(call: Call) -> dict[str, Any]:
    meter = call.state.get("billing.meter", call.id())
    if meter["status"] != "active":
        raise invalid(f"Meter '{meter['id']}' is already inactive.", "id")
    now = int(time.time())
    meter.update(status="inactive", updated=now, status_transitions={"deactivated_at": now})
    return public(meter)


@route("POST", "/v1/billing/meters/{id}/reactivate", "billing.MeterReactivateParams")
def reactivate_meter(call: Call) -> dict[str, Any]:
    meter = call.state.get("billing.meter", call.id())
    if meter["status"] == "active":
        raise invalid(f"Meter '{meter['id']}' is already active.", "id")
    others = [m for m in _meters(call.state) if m["status"] == "active"]
    if any(m["event_name"] == meter["event_name"] for m in others):
        raise invalid(
            f"An active meter with event_name '{meter['event_name']}' already exists.",
            "event_name",
        )
    meter.update(status="active", updated=int(time.time()))
    meter["status_transitions"] = {"deactivated_at": None}
    return public(meter)


# -- events -------------------------------------------------------------------------------


class _DroppedError(ValueError):
    """An event Stripe would not apply; the message says why."""


def _active_meter(state: StripeState, event_name: str) -> dict[str, Any]:
    for meter in _meters(state):
        if meter["event_name"] == event_name and meter["status"] == "active":
            return meter
    raise _DroppedError(f"No active meter has event_name '{event_name}'.")


def _record(
    call: Call,
    event_name: str,
    payload: Mapping[str, str],
    identifier: str | None,
    timestamp: int | None,
) -> dict[str, Any] | None:
    """Apply one event; None when its identifier was seen in the last 24 hours."""
    state, wall = call.state, call.emulator.wall_time()
    meter = _active_meter(state, event_name)
    customer = payload.get(meter["customer_mapping"]["event_payload_key"])
    if not customer or customer not in state.objects:
        raise _DroppedError(f"No customer '{customer}' for meter {meter['id']}.")
    raw_value = payload.get(meter["value_settings"]["event_payload_key"])
    try:
        counted = meter["default_aggregation"]["formula"] == "count"
        value = None if counted else Decimal(str(raw_value)) if raw_value is not None else None
        if not counted and (value is None or not value.is_finite()):
            raise InvalidOperation
    except InvalidOperation:
        raise _DroppedError(f"The value '{raw_value}' is not a number.") from None
    now = state.now(customer)
    at = now if timestamp is None else timestamp
    if not now - _PAST_SECONDS <= at <= now + _FUTURE_SECONDS:
        raise _DroppedError("The timestamp must be within the past 35 days or 5 minutes ahead.")
    identifier = identifier or new_id("mev_id")
    seen = state.meter_identifiers.get(identifier)
    if seen is not None and wall - seen < IDENTIFIER_WINDOW_SECONDS:
        return None
    state.meter_identifiers[identifier] = wall
    event = {
        "object": "billing.meter_event",
        "created": now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": False,
        "payload": dict(payload),
        "timestamp": at,
    }
    state.meter_events.append(
        {**event, "_meter": meter["id"], "_customer": customer, "_value": value}
    )
    return event


@route("POST", "/v1/billing/meter_events", "billing.MeterEventCreateParams")
def create_meter_event(call: Call) -> dict[str, Any]:
    """v1: validated as it is sent; a repeated identifier is a 400."""
    p = call.params
    try:
        event = _record(
            call, p["event_name"], p["payload"], p.get("identifier"), p.get("timestamp")
        )
    except _DroppedError as dropped:
        raise invalid(str(dropped), "payload") from None
    if event is None:
        raise invalid(f"An event already exists with identifier {p['identifier']}.", "identifier")
    return event


def _iso(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


@route("POST", "/v2/billing/meter_event_session", "v2.billing.MeterEventSessionCreateParams")
def create_session(call: Call) -> dict[str, Any]:
    """A token for the stream, valid 15 minutes of emulator wall time."""
    now = call.emulator.wall_time()
    token = f"mes_token_{secret_suffix()}"
    call.state.meter_sessions[token] = now + SESSION_SECONDS
    return {
        "id": new_id("mes"),
        "object": "v2.billing.meter_event_session",
        "authentication_token": token,
        "created": _iso(now),
        "expires_at": _iso(now + SESSION_SECONDS),
        "livemode": False,
    }


def authenticate_session(state: StripeState, authorization: str | None, now: float) -> str:
    """The stream's caller: a live session token, else Stripe's 401."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    expires = state.meter_sessions.get(token)
    if expires is None:
        raise StripeError(
            401, "invalid_request_error", "The meter event session token is not valid."
        )
    if now >= expires:
        raise StripeError(
            401,
            "invalid_request_error",
            "The meter event session has expired: create a new one.",
            code="billing_meter_event_session_expired",
        )
    return f"meter_event_session:{token[-4:]}"


@route("POST", "/v2/billing/meter_event_stream", "v2.billing.MeterEventStreamCreateParams")
def stream_events(call: Call) -> dict[str, Any]:
    """v2: accepted whole, validated afterwards; what cannot apply is dropped, not refused."""
    events = call.params["events"]
    if len(events) > STREAM_MAX_EVENTS:
        raise invalid(f"At most {STREAM_MAX_EVENTS} events per request.", "events")
    for event in events:
        stamp = event.get("timestamp")
        try:
            recorded = _record(
                call,
                event["event_name"],
                event["payload"],
                event.get("identifier"),
                _epoch(stamp) if stamp else None,
            )
            if recorded is None:
                call.state.meter_errors.append({**event, "_reason": "duplicate identifier"})
        except (_DroppedError, ValueError) as dropped:
            call.state.meter_errors.append({**event, "_reason": str(dropped)})
    return {}


# -- aggregation --------------------------------------------------------------------------


def aggregate(
    state: StripeState, meter: Mapping[str, Any], customer: str, start: int, end: int
) -> Decimal:
    """The meter's value for `customer` over [start, end): sum, count or last (0 for none)."""
    found = [
        e
        for e in state.meter_events
        if e["_meter"] == meter["id"]
        and e["_customer"] == customer
        and start <= e["timestamp"] < end
    ]
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return Decimal(len(found))
    if not found:
        return Decimal(0)
    if formula == "last":
        return max(enumerate(found), key=lambda pair: (pair[1]["timestamp"], pair[0]))[1]["_value"]
    return sum((e["_value"] for e in found), Decimal(0))


def number(value: Decimal) -> float | int:
    """A Decimal as JSON shows it: an int when whole."""
    return int(value) if value == value.to_integral_value() else float(value)


@route("GET", "/v1/billing/meters/{id}/event_summaries", "billing.MeterEventSummaryListParams")
def event_summaries(call: Call) -> dict[str, Any]:
    """One summary for [start_time, end_time), or one per hour or day (aligned, as Stripe
    requires), newest first (decided, as the other lists)."""
    meter = call.state.get("billing.meter", call.id())
    p = call.params
    start, end, customer = p["start_time"], p["end_time"], p["customer"]
    if end <= start:
        raise invalid("end_time must be after start_time.", "end_time")
    window = _WINDOWS.get(p.get("value_grouping_window", ""), end - start)
    if window != end - start and (start % window or end % window):
        raise invalid(
            "start_time and end_time must align with the value_grouping_window.", "start_time"
        )
    summaries = [
        {
            "id": f"mtrusg_{meter['id']}_{customer}_{at}",
            "object": "billing.meter_event_summary",
            "aggregated_value": number(aggregate(call.state, meter, customer, at, at + window)),
            "end_time": at + window,
            "livemode": False,
            "meter": meter["id"],
            "start_time": at,
        }
        for at in range(start, end, window)
    ]
    url = f"/v1/billing/meters/{meter['id']}/event_summaries"
    return list_page(reversed(summaries), p, url)


def usage_of(
    state: StripeState, price: Mapping[str, Any], customer: str, start: int, end: int
) -> Decimal:
    """What a metered price bills a customer for [start, end): its meter's aggregate."""
    meter_id = (price.get("recurring") or {}).get("meter")
    meter = state.objects.get(meter_id or "")
    if meter is None:
        return Decimal(0)
    return aggregate(state, meter, customer, start, end)
