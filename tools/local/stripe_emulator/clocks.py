"""Test clocks: create, retrieve, list, delete, and advance, which runs billing.

Advancing answers at once with `status: advancing`, as Stripe does, and a worker moves the
clock through every due moment in order (trial ends, renewals, retries, cancellations),
delivering each moment's events before the next, then sets `ready`. `frozen_time` can only
move forward, and no further than two intervals of the shortest subscription on the clock
(Stripe's limit).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from tools.local.stripe_emulator import billing
from tools.local.stripe_emulator.errors import invalid
from tools.local.stripe_emulator.events import emit, flush
from tools.local.stripe_emulator.objects import fixture, list_page, new_id, public
from tools.local.stripe_emulator.periods import nth_period_end
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState

if TYPE_CHECKING:
    from tools.local.stripe_emulator.emulator import StripeFake

#: Stripe deletes a test clock 30 days after its creation.
CLOCK_LIFETIME = 30 * billing.DAY


def add_clock(state: StripeState, frozen_time: int, name: str | None = None) -> dict[str, Any]:
    clock = fixture("test_helpers.test_clock")
    now = int(time.time())
    clock.update(
        id=new_id("clock"),
        created=now,
        deletes_after=now + CLOCK_LIFETIME,
        frozen_time=frozen_time,
        name=name,
        status="ready",
    )
    state.objects[clock["id"]] = clock
    return clock


@route("POST", "/v1/test_helpers/test_clocks", "test_helpers.TestClockCreateParams")
def create_clock(call: Call) -> dict[str, Any]:
    return public(add_clock(call.state, call.params["frozen_time"], call.params.get("name")))


@route("GET", "/v1/test_helpers/test_clocks/{id}", "test_helpers.TestClockRetrieveParams")
def retrieve_clock(call: Call) -> dict[str, Any]:
    return public(call.state.get("test_helpers.test_clock", call.id()))


@route("GET", "/v1/test_helpers/test_clocks", "test_helpers.TestClockListParams")
def list_clocks(call: Call) -> dict[str, Any]:
    found = sorted(
        call.state.of_kind("test_helpers.test_clock"),
        key=lambda c: (c["created"], c["id"]),
        reverse=True,
    )
    return list_page(found, call.params, "/v1/test_helpers/test_clocks")


@route("DELETE", "/v1/test_helpers/test_clocks/{id}", "test_helpers.TestClockDeleteParams")
def delete_clock(call: Call) -> dict[str, Any]:
    """Deleting a clock deletes its customers and their subscriptions, without events."""
    call.state.get("test_helpers.test_clock", call.id())
    for obj in list(call.state.objects.values()):
        if obj.get("test_clock") == call.id():
            call.state.objects.pop(obj["id"], None)
    del call.state.objects[call.id()]
    return {"id": call.id(), "object": "test_helpers.test_clock", "deleted": True}


def subscriptions_on(state: StripeState, clock_id: str) -> list[dict[str, Any]]:
    customers = {c["id"] for c in state.of_kind("customer") if c.get("test_clock") == clock_id}
    return [s for s in state.of_kind("subscription") if s["customer"] in customers]


def _limit(state: StripeState, clock: dict[str, Any]) -> int | None:
    """Stripe's limit: two intervals of the shortest subscription past the frozen time."""
    ends = []
    for subscription in subscriptions_on(state, clock["id"]):
        if subscription["status"] in billing.ENDED:
            continue
        recurring = subscription["items"]["data"][0]["price"]["recurring"]
        ends.append(
            nth_period_end(
                clock["frozen_time"], recurring["interval"], recurring["interval_count"], 2
            )
        )
    return min(ends) if ends else None


def begin_advance(state: StripeState, clock_id: str, frozen_time: int) -> dict[str, Any]:
    """Check and mark a clock `advancing` (call under the lock)."""
    clock = state.get("test_helpers.test_clock", clock_id)
    if clock["status"] != "ready":
        raise invalid("The test clock is already advancing. Wait for it to be ready first.")
    if frozen_time <= clock["frozen_time"]:
        raise invalid(
            "The frozen_time must be after the test clock's current frozen_time.", "frozen_time"
        )
    limit = _limit(state, clock)
    if limit is not None and frozen_time > limit:
        raise invalid(
            "Cannot advance the test clock more than two intervals of the shortest subscription "
            f"interval at once; advance to {limit} or earlier first.",
            "frozen_time",
        )
    clock.update(
        status="advancing", status_details={"advancing": {"target_frozen_time": frozen_time}}
    )
    return clock


def run_advance(emulator: StripeFake, clock_id: str, frozen_time: int) -> None:
    """Move the clock to `frozen_time`, one due moment at a time, delivering as it goes."""
    state = emulator.state
    while True:
        with state.lock:
            clock = state.objects[clock_id]
            subscriptions = subscriptions_on(state, clock_id)
            due = [
                (t, s["id"])
                for s in subscriptions
                if (t := billing.next_due(state, s)) is not None and t <= frozen_time
            ]
            if not due:
                clock.update(frozen_time=frozen_time, status="ready", status_details={})
                emit(state, "test_helpers.test_clock.ready", clock)
                break
            when, subscription_id = min(due)
            clock["frozen_time"] = max(clock["frozen_time"], when)
            billing.act(state, state.objects[subscription_id], when)
        flush(emulator)
    flush(emulator)


@route("POST", "/v1/test_helpers/test_clocks/{id}/advance", "test_helpers.TestClockAdvanceParams")
def advance_clock(call: Call) -> dict[str, Any]:
    clock = begin_advance(call.state, call.id(), call.params["frozen_time"])
    worker = threading.Thread(
        target=run_advance, args=(call.emulator, call.id(), call.params["frozen_time"]), daemon=True
    )
    call.emulator.after_response(worker.start)
    return public(clock)
