"""A local Stripe API on loopback, serving objects in Stripe's real shapes.

The shapes come from stripe_objects/ beside this file (copied from Stripe's published
fixtures). It checks the bearer key like Stripe (401 for an unknown key, which stripe-python
raises as AuthenticationError), honours Idempotency-Key on creates, records every request, and
makes signed webhook events with stripe-python's own `generate_signature_header`.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

DATA = Path(__file__).resolve().parent / "stripe_objects"


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of one Stripe object fixture."""
    return json.loads((DATA / f"{name}.json").read_text())


class SessionNotOpenError(ValueError):
    """A completed or expired Checkout Session cannot be paid."""


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    api_key: str
    stripe_version: str | None
    idempotency_key: str | None


#: How long Stripe keeps an idempotency key's result.
IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class IdempotentResult:
    """What a key was first used for, and what it answered then."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    payload: dict[str, Any]
    at: float


@dataclass
class StripeState:
    """Objects by id, the keys Stripe accepts and every request seen."""

    valid_keys: set[str] = field(default_factory=set)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, IdempotentResult] = field(default_factory=dict)
    """Each Idempotency-Key's first request and answer (kept 24 hours, as Stripe keeps them)."""
    requests: list[RecordedRequest] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Events Stripe would list, each with `_delivered` (its delivery_success)."""
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_fake{next(_counter):010d}"


class StripeFake:
    """The emulator's state and helpers; `base_url` goes into STRIPE_API_BASE.

    With `hosted_pages` (local mode), Checkout and portal session URLs point at this server's
    own pages instead of checkout.stripe.com: paying there completes the session, signs the
    events Stripe would send and delivers them to `webhook` (URL and signing secret).
    """

    def __init__(self, hosted_pages: bool = False, port: int = 0) -> None:
        self.state = StripeState()
        self.hosted_pages = hosted_pages
        self.webhook: tuple[str, str] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def checkout_url(self, session_id: str) -> str:
        base = self.base_url if self.hosted_pages else "https://checkout.stripe.com"
        return f"{base}/c/pay/{session_id}"

    def portal_url(self, session_id: str) -> str:
        base = self.base_url if self.hosted_pages else "https://billing.stripe.com"
        return f"{base}/p/session/{session_id}"

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

    def reset(self) -> None:
        with self.state.lock:
            self.state.valid_keys.clear()
            self.state.objects.clear()
            self.state.idempotent.clear()
            self.state.requests.clear()
            self.state.events.clear()
            self.state.fail_next = 0

    # -- objects -------------------------------------------------------------------------

    def stock(self, document: Mapping[str, Any]) -> None:
        """Know the stack's key, every catalog price and its portal configuration, as the
        account a real `pulumi up` wrote them into would."""
        self.state.valid_keys.add(document["stripe_secret_key"])
        catalog = document["stripe_catalog"]
        for plan in catalog["plans"]:
            for interval, price in plan["prices"].items():
                self.add_price(
                    price["id"], price["interval"], price["amount"], catalog["currency"],
                    nickname=f"{plan['name']} ({interval})",  # as the program names it
                )  # fmt: skip
        self.add_portal_configuration(document["stripe_portal_configuration_id"])

    def add_price(
        self,
        price_id: str,
        interval: str,
        amount: int,
        currency: str = "usd",
        nickname: str | None = None,
    ) -> None:
        price = fixture("price")
        price.update(
            id=price_id, unit_amount=amount, currency=currency, type="recurring", nickname=nickname
        )
        price["recurring"] = {
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
        self.state.objects[price_id] = price

    def add_portal_configuration(self, configuration_id: str) -> None:
        configuration = fixture("billing_portal.configuration")
        configuration.update(id=configuration_id, is_default=False, livemode=False)
        self.state.objects[configuration_id] = configuration

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
        """A subscription as Stripe creates it when Checkout completes (`metadata` replaces the
        default `{"userId": user_id}`)."""
        subscription = fixture("subscription")
        item = fixture("subscription_item")
        period_end = period_end or int(time.time()) + 30 * 24 * 3600
        subscription_id = new_id("sub")
        item.update(
            id=new_id("si"),
            subscription=subscription_id,
            price=copy.deepcopy(self.state.objects[price_id]),
            current_period_start=period_end - 30 * 24 * 3600,
            current_period_end=period_end,
        )
        now = int(time.time())
        subscription.update(
            id=subscription_id,
            created=now,
            start_date=now,
            billing_cycle_anchor=now,
            customer=customer_id,
            status=status,
            cancel_at_period_end=cancel_at_period_end,
            # What Stripe sends for a subscription nobody has cancelled or put on trial.
            cancel_at=period_end if cancel_at_period_end else None,
            canceled_at=None,
            ended_at=None,
            trial_start=None,
            trial_end=None,
            metadata=dict(metadata)
            if metadata is not None
            else ({"userId": user_id} if user_id else {}),
        )
        subscription["items"] = {
            "object": "list",
            "data": [item],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        }
        self.state.objects[subscription_id] = subscription
        return copy.deepcopy(subscription)

    def update_subscription(self, subscription_id: str, **changes: Any) -> dict[str, Any]:
        subscription = self.state.objects[subscription_id]
        subscription.update(changes)
        return copy.deepcopy(subscription)

    def complete_checkout(self, session_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Pay a Checkout Session: returns (completed session, new subscription).

        As Stripe's hosted page, only an open session can be paid (`SessionNotOpenError`)."""
        session = self.state.objects[session_id]
        if session.get("status") != "open":
            raise SessionNotOpenError(f"checkout session {session_id} is {session.get('status')}")
        # As Stripe does: the subscription's metadata is `subscription_data.metadata`.
        subscription = self.create_subscription(
            session["customer"],
            session["_price"],
            user_id=None,
            metadata=_nested(session["_params"], "subscription_data[metadata]"),
        )
        session.update(status="complete", payment_status="paid", subscription=subscription["id"])
        public = {k: v for k, v in session.items() if not k.startswith("_")}
        return copy.deepcopy(public), subscription

    def pay_checkout(self, session_id: str) -> str:
        """Complete a session as a paying customer would: deliver Stripe's events to the webhook
        (when one is set) and return the URL Checkout sends the customer back to."""
        session, subscription = self.complete_checkout(session_id)
        invoice = self.invoice_for(subscription, paid=True)
        now = int(time.time())
        events = [
            self.event("customer.subscription.created", subscription, now),
            self.event("invoice.paid", invoice, now),
            self.event("checkout.session.completed", session, now),
        ]
        for event in events:
            delivered = self.webhook is not None and _deliver(self.webhook, event)
            self.record_event(event, delivered)
        return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)

    def invoice_for(self, subscription: Mapping[str, Any], paid: bool) -> dict[str, Any]:
        invoice = fixture("invoice")
        invoice.update(
            id=new_id("in"),
            customer=subscription["customer"],
            status="paid" if paid else "open",
            subscription=None,
        )
        invoice["parent"] = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription.get("metadata") or {}),
                "subscription": subscription["id"],
            },
        }
        return invoice

    # -- events --------------------------------------------------------------------------

    @staticmethod
    def event(
        event_type: str, obj: Mapping[str, Any], created: int | None = None
    ) -> dict[str, Any]:
        event = fixture("event")
        event.update(
            id=new_id("evt"),
            type=event_type,
            created=created or int(time.time()),
            api_version=stripe._api_version._ApiVersion.CURRENT,
            data={"object": copy.deepcopy(dict(obj))},
        )
        return event

    def record_event(self, event: Mapping[str, Any], delivered: bool) -> None:
        """Keep `event` for GET /v1/events, as delivered or as a failed delivery."""
        with self.state.lock:
            self.state.events.append({**copy.deepcopy(dict(event)), "_delivered": delivered})

    @staticmethod
    def signed(
        event: Mapping[str, Any] | str, secret: str, timestamp: int | None = None
    ) -> tuple[str, str]:
        """(payload, Stripe-Signature header) as Stripe would deliver them."""
        payload = event if isinstance(event, str) else json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(
            payload, secret, timestamp=timestamp or int(time.time())
        )
        return payload, header

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Requests to exactly `path`, or under it when `path` ends with a slash."""
        return [
            r
            for r in self.state.requests
            if r.method == method
            and (r.path == path or (path.endswith("/") and r.path.startswith(path)))
        ]


def _error(status: int, kind: str, message: str, code: str | None = None) -> tuple[int, dict]:
    return status, {"error": {"type": kind, "message": message, "code": code}}


def _handler_for(fake: StripeFake) -> type[BaseHTTPRequestHandler]:
    state = fake.state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            if fake.hosted_pages and url.path.startswith(("/c/pay/", "/p/session/")):
                status, headers, page = hosted_page(fake, method, url.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else url.query
            params = dict(parse_qsl(body, keep_blank_values=True))
            api_key = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            idempotency_key = self.headers.get("Idempotency-Key")
            with state.lock:
                state.requests.append(
                    RecordedRequest(
                        method,
                        url.path,
                        params,
                        api_key,
                        self.headers.get("Stripe-Version"),
                        idempotency_key,
                    )
                )
                replayed = _replay(state, method, url.path, params, idempotency_key)
                if replayed is None:
                    status, payload = self._route(
                        method, url.path, params, api_key, idempotency_key
                    )
                else:
                    status, payload = replayed
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", new_id("req"))
            if replayed is not None and status == 200:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            self.wfile.write(data)

        def _route(
            self,
            method: str,
            path: str,
            params: dict[str, str],
            api_key: str,
            idempotency_key: str | None,
        ) -> tuple[int, dict[str, Any]]:
            if api_key not in state.valid_keys:
                return _error(401, "invalid_request_error", "Invalid API Key provided")
            if state.fail_next > 0:
                state.fail_next -= 1
                return _error(400, "invalid_request_error", "Simulated failure", "simulated")
            parts = path.strip("/").split("/")
            status, payload = self._dispatch(method, parts, params)
            if method == "POST" and idempotency_key and status == 200:
                state.idempotent[idempotency_key] = IdempotentResult(
                    method, path, tuple(sorted(params.items())), payload, time.time()
                )
            return status, payload

        def _dispatch(
            self, method: str, parts: list[str], params: dict[str, str]
        ) -> tuple[int, dict[str, Any]]:
            match method, parts:
                case "GET", ["v1", "prices"]:
                    keys = {v for k, v in params.items() if k.startswith("lookup_keys[")}
                    prices = [
                        obj
                        for obj in state.objects.values()
                        if obj.get("object") == "price" and obj.get("lookup_key") in keys
                    ]
                    return 200, _page(prices, "/v1/prices")
                case "POST", ["v1", "products"]:
                    return _created(state, "product", "prod", name=params.get("name"),
                                    metadata=_nested(params, "metadata"))  # fmt: skip
                case "POST", ["v1", "prices"]:
                    return _created(
                        state, "price", "price", product=params.get("product"),
                        currency=params.get("currency"), lookup_key=params.get("lookup_key"),
                        unit_amount=int(params.get("unit_amount", 0)), type="recurring",
                        recurring={"interval": params.get("recurring[interval]"),
                                   "interval_count": 1},
                    )  # fmt: skip
                case "GET", ["v1", "billing_portal", "configurations"]:
                    configurations = [
                        obj
                        for obj in state.objects.values()
                        if obj.get("object") == "billing_portal.configuration" and obj.get("active")
                    ]
                    return 200, _page(configurations, "/v1/billing_portal/configurations")
                case "POST", ["v1", "billing_portal", "configurations"]:
                    return _created(state, "billing_portal.configuration", "bpc",
                                    is_default=False, livemode=False,
                                    metadata=_nested(params, "metadata"))  # fmt: skip
                case "POST", ["v1", "customers"]:
                    customer = fixture("customer")
                    customer.update(
                        id=new_id("cus"),
                        email=params.get("email"),
                        metadata=_nested(params, "metadata"),
                    )
                    state.objects[customer["id"]] = customer
                    return 200, customer
                case "POST", ["v1", "checkout", "sessions"]:
                    price_id = params.get("line_items[0][price]", "")
                    if price_id not in state.objects:
                        return _error(
                            400, "invalid_request_error", "No such price", "resource_missing"
                        )
                    session = fixture("checkout.session")
                    session_id = "cs_test_" + new_id("x")
                    now = int(time.time())
                    session.update(
                        id=session_id,
                        created=now,
                        expires_at=now + 24 * 3600,
                        mode=params.get("mode"),
                        customer=params.get("customer"),
                        client_reference_id=params.get("client_reference_id"),
                        metadata=_nested(params, "metadata"),
                        success_url=params.get("success_url"),
                        cancel_url=params.get("cancel_url"),
                        status="open",
                        subscription=None,
                        url=fake.checkout_url(session_id),
                    )
                    stored = dict(session, _price=price_id, _params=params)
                    state.objects[session_id] = stored
                    return 200, session
                case "POST", ["v1", "billing_portal", "sessions"]:
                    portal = fixture("billing_portal.session")
                    portal.update(
                        id=new_id("bps"),
                        customer=params.get("customer"),
                        configuration=params.get("configuration"),
                        return_url=params.get("return_url"),
                        url=fake.portal_url(new_id("bps")),
                    )
                    return 200, portal
                case "POST", (
                    ["v1", "prices", object_id]
                    | ["v1", "billing_portal", "configurations", object_id]
                ):
                    return _update_active(state, object_id, params)
                case "GET", ["v1", "subscriptions"]:
                    return 200, _list_subscriptions(state, params)
                case "GET", ["v1", "events"]:
                    return 200, _list_events(state, params)
                case "GET", ["v1", "checkout", "sessions"]:
                    return 200, _list_sessions(state, params)
                case "POST", ["v1", "checkout", "sessions", object_id, "expire"]:
                    return _expire_session(state, object_id)
                case "GET", ["v1", "checkout", "sessions", object_id] if object_id in state.objects:
                    session = state.objects[object_id]
                    return 200, {k: v for k, v in session.items() if not k.startswith("_")}
                case "GET", [
                    "v1",
                    ("customers" | "subscriptions" | "prices" | "invoices"),
                    object_id,
                ]:
                    found = state.objects.get(object_id)
                    if found is None:
                        return _error(
                            404, "invalid_request_error", "No such object", "resource_missing"
                        )
                    return 200, {k: v for k, v in found.items() if not k.startswith("_")}
            return _error(404, "invalid_request_error", f"Unrecognized request URL ({method})")

    return Handler


def _replay(
    state: StripeState,
    method: str,
    path: str,
    params: Mapping[str, str],
    key: str | None,
) -> tuple[int, dict[str, Any]] | None:
    """As Stripe: a key's first answer again for the same request (`Idempotent-Replayed`), a
    400 `idempotency_error` for other parameters or another endpoint; expired after 24 hours."""
    if method != "POST" or not key or key not in state.idempotent:
        return None
    first = state.idempotent[key]
    if time.time() - first.at > IDEMPOTENCY_SECONDS:
        del state.idempotent[key]
        return None
    if (first.method, first.path, first.params) != (method, path, tuple(sorted(params.items()))):
        return _error(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were "
            "first used with. Try using a key other than "
            f"'{key}' if you meant to execute a different request.",
        )
    return 200, first.payload


def _page(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    """One page of a Stripe list, with nothing after it."""
    return {"object": "list", "data": data, "has_more": False, "url": url}


def _created(
    state: StripeState, kind: str, prefix: str, **fields: Any
) -> tuple[int, dict[str, Any]]:
    """A new object of `kind` (its fixture's shape) with `fields`, stored and returned."""
    created = fixture(kind)
    created.update(id=new_id(prefix), **fields)
    state.objects[created["id"]] = created
    return 200, created


def _deliver(webhook: tuple[str, str], event: Mapping[str, Any]) -> bool:
    """POST one signed event to the webhook as Stripe does; True on a 2xx answer."""
    import urllib.error
    import urllib.request

    url, secret = webhook
    payload, header = StripeFake.signed(event, secret)
    request = urllib.request.Request(
        url,
        data=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return 200 <= response.status < 300
    except urllib.error.URLError:
        return False


def hosted_page(fake: StripeFake, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """The emulator's own Checkout and portal pages (local mode only)."""
    from html import escape

    kind, _, object_id = path.strip("/").rpartition("/")
    if kind == "c/pay":
        session = fake.state.objects.get(object_id)
        if session is None:
            return 404, {"Content-Type": "text/plain"}, b"No such checkout session"
        if session.get("status") != "open":
            message = f"This Checkout Session is {session.get('status')}: it cannot be paid."
            page = (
                "<!doctype html><title>Checkout (Stripe emulator)</title>"
                f"<p id='closed'>{escape(message)}</p>"
            )
            return 400, {"Content-Type": "text/html; charset=utf-8"}, page.encode()
        if method == "POST":
            return 303, {"Location": fake.pay_checkout(object_id)}, b""
        price = fake.state.objects.get(session["_price"], {})
        amount = f"{price.get('unit_amount', 0) / 100:.2f} {str(price.get('currency', '')).upper()}"
        body = (
            "<!doctype html><title>Checkout (Stripe emulator)</title>"
            "<h1>Checkout</h1><p>Stripe emulator: no card is charged.</p>"
            f"<p id='amount'>{escape(amount)}</p>"
            "<form method='post'>"
            f"<button id='pay' type='submit'>Pay {escape(amount)}</button></form>"
            f"<p><a id='cancel' href='{escape(str(session['cancel_url']))}'>Back</a></p>"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode()
    if kind == "p/session":
        return_url = next(
            (r.params.get("return_url") for r in reversed(fake.state.requests)
             if r.path == "/v1/billing_portal/sessions"),
            None,
        ) or "/"  # fmt: skip
        body = (
            "<!doctype html><title>Billing portal (Stripe emulator)</title>"
            "<h1 id='portal'>Billing portal</h1><p>Stripe emulator: manage your plan here.</p>"
            f"<p><a id='return' href='{escape(return_url)}'>Return</a></p>"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode()
    return 404, {"Content-Type": "text/plain"}, b"Not found"


def _list_subscriptions(state: StripeState, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /v1/subscriptions: newest first; without `status`, canceled ones are left out."""
    status = params.get("status")
    found = [
        {k: v for k, v in obj.items() if not k.startswith("_")}
        for obj in state.objects.values()
        if obj.get("object") == "subscription"
        and obj.get("customer") == params.get("customer", obj.get("customer"))
        and (
            status == "all"
            or obj.get("status") == status
            or (status is None and obj.get("status") != "canceled")
        )
    ]
    found.sort(key=lambda obj: obj.get("created") or 0, reverse=True)
    return _first_page(found, params, "/v1/subscriptions")


def _public(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _list_sessions(state: StripeState, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /v1/checkout/sessions: newest first, by `customer` and `status`."""
    found = [
        _public(obj)
        for obj in state.objects.values()
        if obj.get("object") == "checkout.session"
        and obj.get("customer") == params.get("customer", obj.get("customer"))
        and obj.get("status") == params.get("status", obj.get("status"))
    ]
    found.sort(key=lambda obj: (obj.get("created") or 0, obj["id"]), reverse=True)
    return _first_page(found, params, "/v1/checkout/sessions")


def _first_page(found: list[dict[str, Any]], params: Mapping[str, str], url: str) -> dict[str, Any]:
    """The first `limit` (default 10) of a list, newest first, as Stripe pages it."""
    limit = int(params.get("limit", 10))
    return {"object": "list", "data": found[:limit], "has_more": len(found) > limit, "url": url}


def _expire_session(state: StripeState, session_id: str) -> tuple[int, dict[str, Any]]:
    """POST /v1/checkout/sessions/{id}/expire: only an open session can be expired."""
    session = state.objects.get(session_id)
    if session is None or session.get("object") != "checkout.session":
        return _error(404, "invalid_request_error", "No such checkout.session", "resource_missing")
    if session.get("status") != "open":
        return _error(
            400,
            "invalid_request_error",
            'Only Checkout Sessions with a status in ["open"] can be expired.',
            "checkout_session_not_open",
        )
    session["status"] = "expired"
    return 200, _public(session)


def _list_events(state: StripeState, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /v1/events: newest first, by `types[]`, `delivery_success` and `created[gt|gte|lte]`,
    paged with `starting_after` as Stripe pages them."""
    types = {value for key, value in params.items() if key.startswith("types[")}
    delivered = params.get("delivery_success")
    after, until = params.get("created[gt]"), params.get("created[lte]")
    since = params.get("created[gte]")
    found = [
        event
        for event in state.events
        if (not types or event["type"] in types)
        and (delivered is None or str(event["_delivered"]).lower() == delivered)
        and (after is None or event["created"] > int(after))
        and (since is None or event["created"] >= int(since))
        and (until is None or event["created"] <= int(until))
    ]
    found.sort(key=lambda event: (event["created"], event["id"]), reverse=True)
    if "starting_after" in params:
        ids = [event["id"] for event in found]
        found = found[ids.index(params["starting_after"]) + 1 :]
    limit = int(params.get("limit", 10))
    return {
        "object": "list",
        "data": [{k: v for k, v in e.items() if not k.startswith("_")} for e in found[:limit]],
        "has_more": len(found) > limit,
        "url": "/v1/events",
    }


def _update_active(
    state: StripeState, object_id: str, params: Mapping[str, str]
) -> tuple[int, dict[str, Any]]:
    """POST /v1/prices/{id} or /v1/billing_portal/configurations/{id}: only `active` changes."""
    stored = state.objects.get(object_id)
    if stored is None:
        return _error(404, "invalid_request_error", "No such object", "resource_missing")
    if "active" in params:
        stored["active"] = params["active"] == "true"
    return 200, {k: v for k, v in stored.items() if not k.startswith("_")}


def _nested(params: Mapping[str, str], name: str) -> dict[str, str]:
    """`metadata[userId]=u` form fields as {"userId": "u"} (`name` may itself be nested,
    e.g. `subscription_data[metadata]`)."""
    prefix = f"{name}["
    return {
        key[len(prefix) : -1]: value
        for key, value in params.items()
        if key.startswith(prefix) and key.endswith("]") and "][" not in key[len(prefix) :]
    }
