"""What the emulator holds: objects by id, the account's settings, events, requests seen."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import stripe

#: The version stripe-python pins, the version this emulator speaks.
PINNED_API_VERSION: str = stripe._api_version._ApiVersion.CURRENT

#: How long Stripe keeps an idempotency key's result.
IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass
class RecordedRequest:
    """One request as it arrived: `params` are the flat form fields (`line_items[0][price]`)."""

    method: str
    path: str
    params: dict[str, str]
    api_key: str
    stripe_version: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class IdempotentResult:
    """What a key was first used for, and what it answered then."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    payload: dict[str, Any]
    at: float


@dataclass
class AccountSettings:
    """The account's settings that decide what Stripe does on its own (Dashboard settings)."""

    api_version: str = PINNED_API_VERSION
    """The account's default API version: events render in it unless their endpoint pins one."""
    retry_schedule_days: tuple[int, ...] = (3, 5, 7)
    """Smart Retries as a custom schedule: days after the previous failed attempt."""
    after_final_failure: Literal["cancel", "unpaid", "past_due"] = "cancel"
    """What a subscription becomes when every retry of an invoice failed."""
    clock_per_customer: bool = False
    """Emulator-only (local mode): a customer made without `test_clock` gets a clock of its own,
    so a frontend developer (or a story) can move one customer's time without the app knowing."""
    tax_rate_basis_points: int = 1000
    """Automatic tax's rate here (Stripe Tax would compute it from the address): 10%."""


@dataclass
class StripeState:
    """Objects by id, the keys Stripe accepts, events and every request seen.

    `lock` guards everything; webhook deliveries happen outside it (the webhook calls back)."""

    valid_keys: set[str] = field(default_factory=set)
    any_test_key: bool = False
    """Standalone mode: any `sk_test_` key authenticates, as every test key of an account does."""
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, IdempotentResult] = field(default_factory=dict)
    """Each Idempotency-Key's first request and answer (kept 24 hours of emulator time)."""
    in_flight: set[str] = field(default_factory=set)
    requests: list[RecordedRequest] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Events Stripe would list, each with `_delivered` (its delivery_success)."""
    outbox: list[dict[str, Any]] = field(default_factory=list)
    """Events made but not yet delivered, in the order they happened."""
    meter_events: list[dict[str, Any]] = field(default_factory=list)
    """Applied meter events, with `_meter`, `_customer` and `_value` (a Decimal)."""
    meter_identifiers: dict[str, float] = field(default_factory=dict)
    """Each meter event identifier and when (emulator wall time) it was first applied."""
    meter_errors: list[dict[str, Any]] = field(default_factory=list)
    """Stream events dropped after the request (Stripe's asynchronous validation), `_reason`."""
    meter_sessions: dict[str, float] = field(default_factory=dict)
    """Meter event session tokens and when (emulator wall time) each expires."""
    settings: AccountSettings = field(default_factory=AccountSettings)
    fail_next: int = 0
    """Test hook: the next N authenticated requests fail as a Stripe outage would (500)."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    idempotency_lock: threading.Lock = field(default_factory=threading.Lock)
    """Guards `requests`, `idempotent`, `in_flight` and `fail_next`: never held while working."""
    delivery_lock: threading.Lock = field(default_factory=threading.Lock)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every stored object of `kind` (`subscription`, `checkout.session`...), oldest first."""
        return [obj for obj in self.objects.values() if obj.get("object") == kind]

    def get(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        """The stored object, or Stripe's 404 `resource_missing` naming its kind."""
        from tools.local.stripe_emulator.errors import missing

        found = self.objects.get(object_id)
        if found is None or found.get("object") != kind:
            raise missing(kind, object_id, param)
        return found

    def now(self, customer_id: str | None = None) -> int:
        """The time of a customer's world: its test clock's frozen time, else the wall clock."""
        customer = self.objects.get(customer_id or "")
        clock_id = customer.get("test_clock") if customer else None
        if clock_id and clock_id in self.objects:
            return int(self.objects[clock_id]["frozen_time"])
        return int(time.time())
