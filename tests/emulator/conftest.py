"""The emulator on its own, as a client of Stripe's API sees it: stripe-python over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from tools.local.stripe_emulator import StripeFake


def fake_test_key() -> str:
    return "sk_test_" + "FAKE" * 6


@pytest.fixture
def emulator() -> Iterator[StripeFake]:
    fake = StripeFake(hosted_pages=True, any_test_key=True).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def client(emulator: StripeFake) -> stripe.StripeClient:
    """stripe-python as an app configures it, pointed at the emulator (no retries: each
    refusal is seen as sent)."""
    return stripe.StripeClient(
        fake_test_key(), base_addresses={"api": emulator.base_url}, max_network_retries=0
    )


@dataclass
class Receiver:
    """A webhook endpoint that verifies each delivery's signature and keeps the events."""

    secret: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    answer: int = 200
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == event_type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            payload = self.rfile.read(int(self.headers["Content-Length"])).decode()
            stripe.WebhookSignature.verify_header(
                payload, self.headers["Stripe-Signature"], received.secret, tolerance=300
            )
            received.events.append(json.loads(payload))
            self.send_response(received.answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

    received.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=received.server.serve_forever, daemon=True).start()
    try:
        yield received
    finally:
        received.server.shutdown()
        received.server.server_close()


def listen(client: stripe.StripeClient, receiver: Receiver, **params: Any) -> None:
    """Register `receiver` as a webhook endpoint for every event, through the API."""
    create: Any = {"url": receiver.url, "enabled_events": ["*"], **params}
    endpoint = client.v1.webhook_endpoints.create(params=create)
    assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")
    receiver.secret = endpoint.secret


def monthly_price(client: stripe.StripeClient, amount: int = 1500, **recurring: Any) -> str:
    product = client.v1.products.create(params={"name": "Pro"})
    create: Any = {
        "product": product.id,
        "currency": "usd",
        "unit_amount": amount,
        "recurring": {"interval": "month", **recurring},
    }
    price = client.v1.prices.create(params=create)
    return price.id
