"""`StripeFake`: the emulator's server and state, and the back doors tests stock it through.

`base_url` goes into STRIPE_API_BASE. With `hosted_pages` (local mode), Checkout and portal
URLs point at this server's own pages instead of checkout.stripe.com and billing.stripe.com.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from tools.local.stripe_emulator import (  # noqa: F401  (each registers its routes)
    billing,
    catalog,
    checkout,
    clocks,
    customers,
    entitlements,
    events,
    invoices,
    meters,
    portal,
    subscriptions,
)
from tools.local.stripe_emulator.objects import fixture, public
from tools.local.stripe_emulator.periods import nth_period_end
from tools.local.stripe_emulator.router import Call
from tools.local.stripe_emulator.server import handler_for
from tools.local.stripe_emulator.state import RecordedRequest, StripeState


class SessionNotOpenError(ValueError):
    """A completed or expired Checkout Session cannot be paid."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class StripeFake:
    """The emulator: a Stripe API on loopback, its hosted pages, and test back doors."""

    def __init__(
        self, hosted_pages: bool = False, port: int = 0, any_test_key: bool = False
    ) -> None:
        self.state = StripeState(any_test_key=any_test_key)
        self.hosted_pages = hosted_pages
        self.wall_offset = 0.0
        self._after = threading.local()
        self._server = _Server(("127.0.0.1", port), handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- server -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StripeFake:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def checkout_url(self, session_id: str) -> str:
        base = self.base_url if self.hosted_pages else "https://checkout.stripe.com"
        return f"{base}/c/pay/{session_id}"

    def portal_url(self, session_id: str) -> str:
        base = self.base_url if self.hosted_pages else "https://billing.stripe.com"
        return f"{base}/p/session/{session_id}"

    def begin_request(self) -> None:
        self._after.calls = []

    def after_response(self, call: Callable[[], None]) -> None:
        """Run `call` once this request's answer is sent (deliveries, a clock's worker)."""
        calls = getattr(self._after, "calls", None)
        if calls is None:
            call()
        elif call not in calls:
            calls.append(call)

    def end_request(self) -> None:
        calls, self._after.calls = getattr(self._after, "calls", None) or [], None
        for call in calls:
            call()

    def deliver(self) -> None:
        """Deliver every event not yet delivered (in order) to the webhook endpoints."""
        events.flush(self)

    def wall_time(self) -> float:
        """The emulator's wall clock (`travel` moves it: idempotency keys, session expiry)."""
        return time.time() + self.wall_offset

    def travel(self, seconds: float) -> None:
        self.wall_offset += seconds

    def reset(self) -> None:
        with self.state.lock:
            fresh = StripeState(any_test_key=self.state.any_test_key)
            for name in (
                "valid_keys",
                "objects",
                "idempotent",
                "in_flight",
                "requests",
                "events",
                "outbox",
                "meter_events",
                "meter_identifiers",
                "meter_errors",
                "meter_sessions",
            ):
                setattr(self.state, name, getattr(fresh, name))
            self.state.fail_next = 0

    # -- webhooks -----------------------------------------------------------------------

    def add_webhook_endpoint(
        self,
        url: str,
        secret: str,
        enabled_events: Iterable[str] = ("*",),
        api_version: str | None = None,
    ) -> dict[str, Any]:
        with self.state.lock:
            return events.add_endpoint(
                self.state, url, list(enabled_events), api_version, secret=secret
            )

    @property
    def webhook(self) -> tuple[str, str] | None:
        endpoints = self.state.of_kind("webhook_endpoint")
        return (endpoints[0]["url"], endpoints[0]["_secret"]) if endpoints else None

    @webhook.setter
    def webhook(self, endpoint: tuple[str, str]) -> None:
        self.add_webhook_endpoint(*endpoint)

    # -- stocking (what `pulumi up` would have made in the account) -----------------------

    def stock(self, document: Mapping[str, Any], stack_id: str | None = None) -> None:
        """Know the stack's key, every catalog price and its portal configuration, as the
        account a real `pulumi up` wrote them into would; with `stack_id`, each plan's
        features too, as entitlement features (`{stack_id}-{feature}`) on its product."""
        catalog_doc = document["stripe_catalog"]
        with self.state.lock:
            self.state.valid_keys.add(document["stripe_secret_key"])
            for meter in catalog_doc.get("meters") or []:
                if meter.get("meterId") not in self.state.objects:
                    meters.add_meter(
                        self.state,
                        meter["name"],
                        meter["eventName"],
                        meter.get("aggregation") or "sum",
                        meter_id=meter.get("meterId") or None,
                    )
            products = []
            for plan in catalog_doc["plans"]:
                product_id = plan.get("productId") or None
                if product_id not in self.state.objects:
                    product_id = catalog.add_product(self.state, plan["name"], product_id)["id"]
                prices = []
                for interval, price in plan["prices"].items():
                    self.add_price(
                        price["id"],
                        price["interval"],
                        price["amount"],
                        catalog_doc["currency"],
                        nickname=f"{plan['name']} ({interval})",
                        product=product_id,
                    )
                    prices.append(price["id"])
                self._stock_usage(plan, product_id, catalog_doc)
                if prices:
                    products.append({"product": product_id, "prices": prices})
            if stack_id is not None:
                self._stock_features(catalog_doc["plans"], stack_id)
            per_seat = any(plan.get("perSeat") for plan in catalog_doc["plans"])
            self.add_portal_configuration(
                document["stripe_portal_configuration_id"], products, quantity=per_seat
            )

    def _stock_usage(
        self, plan: Mapping[str, Any], product_id: str, catalog_doc: Mapping[str, Any]
    ) -> None:
        """A plan's metered prices, on the meters the document names."""
        by_id = {meter["id"]: meter.get("meterId") for meter in catalog_doc.get("meters") or []}
        for meter_id, intervals in (plan.get("usage") or {}).items():
            for interval, price in intervals.items():
                catalog.add_price(
                    self.state,
                    product_id,
                    catalog_doc["currency"],
                    None,
                    {"monthly": "month", "annual": "year"}[interval],
                    price["id"],
                    unit_amount_decimal=price["unitAmountDecimal"],
                    usage_type="metered",
                    meter=by_id.get(meter_id),
                    nickname=f"{plan['name']} {meter_id} ({interval})",
                )

    def _stock_features(self, plans: list[Mapping[str, Any]], stack_id: str) -> None:
        """Entitlement features attached to their plans' products, as the program declares."""
        made: dict[str, str] = {}
        for plan in plans:
            for feature in plan.get("features") or []:
                if feature not in made:
                    params = {"name": feature, "lookup_key": f"{stack_id}-{feature}"}
                    made[feature] = entitlements.create_feature(Call(self, params, {}))["id"]
                attach = {"entitlement_feature": made[feature]}
                entitlements.attach_feature(Call(self, attach, {"product": plan["productId"]}))

    def add_price(
        self,
        price_id: str,
        interval: str,
        amount: int,
        currency: str = "usd",
        nickname: str | None = None,
        product: str | None = None,
    ) -> None:
        with self.state.lock:
            if product is None:
                product = catalog.add_product(self.state, nickname or price_id)["id"]
            catalog.add_price(
                self.state, product, currency, amount, interval, price_id, nickname=nickname
            )

    def add_portal_configuration(
        self,
        configuration_id: str,
        products: list[dict[str, Any]] | None = None,
        quantity: bool = False,
    ) -> None:
        features = {
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
            "subscription_update": {
                "enabled": bool(products),
                "default_allowed_updates": ["price", "quantity"] if quantity else ["price"],
                "products": products or [],
            },
        }
        with self.state.lock:
            portal.add_configuration(self.state, features, configuration_id)

    # -- back doors: state as if it already happened, without events ---------------------

    def _quietly(self, make: Callable[[], Any]) -> Any:
        with self.state.lock:
            seen, queued = len(self.state.events), len(self.state.outbox)
            made = make()
            del self.state.events[seen:]
            del self.state.outbox[queued:]
            return made

    def ensure_customer(
        self, customer_id: str, email: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> None:
        """A customer with this id exists (made without events when it did not)."""
        with self.state.lock:
            if customer_id not in self.state.objects:
                customer = fixture("customer")
                customer.update(
                    id=customer_id,
                    created=int(time.time()),
                    email=email,
                    metadata=dict(metadata or {}),
                )
                self.state.objects[customer_id] = customer

    def create_subscription(
        self,
        customer_id: str,
        price_id: str,
        user_id: str | None,
        status: str = "active",
        period_end: int | None = None,
        cancel_at_period_end: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A subscription as if Checkout had made it, without its events (`metadata` replaces
        the default `{"userId": user_id}`)."""

        def make() -> dict[str, Any]:
            self.ensure_customer(customer_id)
            meta = (
                dict(metadata) if metadata is not None else ({"userId": user_id} if user_id else {})
            )
            subscription = subscriptions.start_subscription(
                self.state, customer_id, [(price_id, 1)], meta
            )
            end = period_end or billing.period(subscription)[1]
            billing.set_period(subscription, end - 30 * billing.DAY, end)
            subscription.update(
                status=status,
                cancel_at_period_end=cancel_at_period_end,
                cancel_at=end if cancel_at_period_end else None,
            )
            return public(subscription)

        made: dict[str, Any] = self._quietly(make)
        return made

    def update_subscription(self, subscription_id: str, **changes: Any) -> dict[str, Any]:
        with self.state.lock:
            subscription = self.state.objects[subscription_id]
            subscription.update(changes)
            return public(subscription)

    def complete_checkout(self, session_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Pay a session without delivering its events: (completed session, subscription)."""

        def make() -> tuple[dict[str, Any], dict[str, Any]]:
            session = self._pay(session_id)
            return public(session), public(self.state.objects[session["subscription"]])

        made: tuple[dict[str, Any], dict[str, Any]] = self._quietly(make)
        return made

    def pay_checkout(
        self,
        session_id: str,
        payment_method: str = "pm_card_visa",
        promotion_code: str | None = None,
    ) -> str:
        """Pay as the hosted page does, deliver Stripe's events, and return the success URL."""
        with self.state.lock:
            session = self._pay(session_id, payment_method, promotion_code)
        self.deliver()
        return checkout.success_url(session)

    def _pay(
        self,
        session_id: str,
        payment_method: str = "pm_card_visa",
        promotion_code: str | None = None,
    ) -> dict[str, Any]:
        with self.state.lock:
            status = self.state.get("checkout.session", session_id)["status"]
            if status != "open":
                raise SessionNotOpenError(f"checkout session {session_id} is {status}")
            return checkout.pay(self.state, session_id, payment_method, promotion_code)

    def invoice_for(self, subscription: Mapping[str, Any], paid: bool) -> dict[str, Any]:
        """An invoice of the subscription's current period, stored, without events."""

        def make() -> dict[str, Any]:
            stored = self.state.objects[subscription["id"]]
            start, end = billing.period(stored)
            invoice = billing.create_invoice(
                self.state,
                stored,
                "subscription_cycle",
                billing.period_lines(self.state, billing.new_id("in"), stored, start, end, None),
                start,
                end,
                int(time.time()),
            )
            if paid:
                invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
            return public(invoice)

        made: dict[str, Any] = self._quietly(make)
        return made

    # -- events -------------------------------------------------------------------------

    @staticmethod
    def event(
        event_type: str, obj: Mapping[str, Any], created: int | None = None
    ) -> dict[str, Any]:
        return events.make_event(event_type, obj, created)

    def record_event(self, event: Mapping[str, Any], delivered: bool) -> None:
        """Keep `event` for GET /v1/events, as delivered or as a failed delivery."""
        with self.state.lock:
            self.state.events.append({**copy.deepcopy(dict(event)), "_delivered": delivered})

    signed = staticmethod(events.signed)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Requests to exactly `path`, or under it when `path` ends with a slash."""
        return [
            r
            for r in self.state.requests
            if r.method == method
            and (r.path == path or (path.endswith("/") and r.path.startswith(path)))
        ]

    # -- clocks -------------------------------------------------------------------------

    def clock_of(self, customer_id: str) -> str:
        """The test clock a customer lives on (see `AccountSettings.clock_per_customer`)."""
        with self.state.lock:
            clock = self.state.get("customer", customer_id).get("test_clock")
        assert clock, f"customer {customer_id} is on no test clock"
        return str(clock)

    def advance(self, clock_id: str, seconds: int = 0, months: int = 0) -> dict[str, Any]:
        """Advance one clock by `seconds` (or calendar `months`) and return once every event
        is delivered."""
        with self.state.lock:
            frozen = int(self.state.get("test_helpers.test_clock", clock_id)["frozen_time"])
            target = nth_period_end(frozen, "month", 1, months) if months else frozen + seconds
            clocks.begin_advance(self.state, clock_id, target)
        clocks.run_advance(self, clock_id, target)
        return self.wait_for_clock(clock_id)

    def clocks(self) -> list[dict[str, Any]]:
        """The test clocks that have customers, oldest first."""
        with self.state.lock:
            ids = {c["test_clock"] for c in self.state.of_kind("customer") if c.get("test_clock")}
            return [public(self.state.objects[i]) for i in sorted(ids) if i in self.state.objects]

    def advance_all(self, days: int = 0, months: int = 0) -> list[dict[str, Any]]:
        """Advance every clock that has customers (local mode's "advance one day" button)."""
        return [self.advance(c["id"], days * billing.DAY, months) for c in self.clocks()]

    def wait_for_clock(self, clock_id: str, timeout: float = 60) -> dict[str, Any]:
        """Block until a test clock is `ready` again (its advance delivered everything)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                clock = self.state.objects[clock_id]
                if clock["status"] == "ready" and not self.state.outbox:
                    return public(clock)
            time.sleep(0.01)
        raise TimeoutError(f"test clock {clock_id} still advancing after {timeout} s")
