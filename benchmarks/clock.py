"""How long the emulator takes to simulate a year of monthly renewals on a test clock.

One customer with a monthly subscription, a webhook endpoint that answers 200 at once, and the
clock advanced a month at a time through stripe-python (each advance returns `advancing`;
the run waits until the clock is `ready`, every event delivered): twelve renewals, each an
invoice made, finalized and paid with its events signed and posted.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

from tools.local.stripe_emulator import StripeFake
from tools.local.stripe_emulator.periods import nth_period_end

#: 2026-01-31 00:00 UTC.
START = 1769817600


class _Accept(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def simulate_year(customers: int = 1) -> tuple[float, int]:
    """(seconds for twelve monthly advances, events delivered) on a fresh emulator."""
    emulator = StripeFake(any_test_key=True).start()
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        client = stripe.StripeClient(
            "sk_test_" + "BENCH" * 5, base_addresses={"api": emulator.base_url}
        )
        client.v1.webhook_endpoints.create(
            params={"url": f"http://127.0.0.1:{hook.server_address[1]}/", "enabled_events": ["*"]}
        )
        product = client.v1.products.create(params={"name": "Pro"})
        monthly: Any = {"interval": "month"}
        price = client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 1000,
                "recurring": monthly,
            }
        )
        clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": START})
        for _ in range(customers):
            customer = client.v1.customers.create(
                params={"test_clock": clock.id, "payment_method": "pm_card_visa"}
            )
            client.v1.subscriptions.create(
                params={"customer": customer.id, "items": [{"price": price.id}]}
            )
        emulator.deliver()
        delivered = sum(1 for e in emulator.state.events if e["_delivered"])
        started = time.perf_counter()
        for month in range(1, 13):
            target = nth_period_end(START, "month", 1, month) + 60
            client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": target})
            while client.v1.test_helpers.test_clocks.retrieve(clock.id).status != "ready":
                time.sleep(0.002)
        emulator.wait_for_clock(clock.id)
        elapsed = time.perf_counter() - started
        return elapsed, sum(1 for e in emulator.state.events if e["_delivered"]) - delivered
    finally:
        hook.shutdown()
        hook.server_close()
        emulator.stop()
