"""`python -m tools.local.stripe_emulator --port N`: the emulator on its own, for any client.

Prints its URL on the first line, then serves until Ctrl-C. Any `sk_test_` key
authenticates; stock it through the API (products, prices, coupons, promotion codes, webhook
endpoints) as you would a fresh test account. Point stripe-python at it with
`StripeClient(key, base_addresses={"api": URL})` and the Stripe CLI with `--api-base URL`.
"""

from __future__ import annotations

import argparse
import sys
import threading

from tools.local.stripe_emulator.emulator import StripeFake
from tools.local.stripe_emulator.state import PINNED_API_VERSION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.stripe_emulator")
    parser.add_argument("--port", type=int, default=12111, help="0 picks a free port")
    parser.add_argument(
        "--account-api-version",
        default=PINNED_API_VERSION,
        help="the account's default API version: events render in it (default: the pinned one)",
    )
    parser.add_argument(
        "--after-final-failure",
        choices=("cancel", "unpaid", "past_due"),
        default="cancel",
        help="what a subscription becomes when every retry of an invoice failed",
    )
    parser.add_argument(
        "--hosted-pages",
        action="store_true",
        help="serve Checkout and portal pages here instead of linking to stripe.com",
    )
    args = parser.parse_args(argv)
    try:
        emulator = StripeFake(hosted_pages=args.hosted_pages, port=args.port, any_test_key=True)
    except OSError as busy:
        print(f"port {args.port} is in use ({busy.strerror}): pass --port 0", file=sys.stderr)
        return 2
    emulator.state.settings.api_version = args.account_api_version
    emulator.state.settings.after_final_failure = args.after_final_failure
    emulator.start()
    print(emulator.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
