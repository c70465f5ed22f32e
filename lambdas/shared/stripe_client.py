"""The Stripe client, built from the cached secret key on first use.

One `StripeClient` per key, pinned to `STRIPE_API_VERSION`, with network retries and an HTTP
timeout that fits inside the function's. When Stripe rejects the key (it was rotated), the
secret is re-read once and the call retried once, so a new key is used without waiting for the
cache TTL and without a redeploy.

`stripe` is imported on first use, not with this module: a route that never calls Stripe
(GET /subscription) does not pay its ~0.5 s import on a cold start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from shared import secrets
from shared.config import runtime_config
from shared.contract import STRIPE_API_VERSION, SecretKey

#: Seconds per HTTP attempt; with one retry the worst case stays under the 15 s function timeout.
HTTP_TIMEOUT_SECONDS = 5
MAX_NETWORK_RETRIES = 1

T = TypeVar("T")

if TYPE_CHECKING:
    import stripe

_lock = threading.Lock()
_client: tuple[str, stripe.StripeClient] | None = None


def build_client(api_key: str) -> stripe.StripeClient:
    """A client for `api_key`, pointed at STRIPE_API_BASE (scheme://host:port) when set."""
    import stripe

    base = runtime_config().stripe_api_base
    return stripe.StripeClient(
        api_key,
        stripe_version=STRIPE_API_VERSION,
        max_network_retries=MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT_SECONDS),
        base_addresses={"api": base.rstrip("/")} if base else None,
    )


def stripe_client() -> stripe.StripeClient:
    """The client for the current runtime key, rebuilt only when the key changes."""
    global _client
    api_key = secrets.require_secret(SecretKey.STRIPE_SECRET_KEY)
    with _lock:
        if _client is None or _client[0] != api_key:
            _client = (api_key, build_client(api_key))
        return _client[1]


def call_stripe(operation: Callable[[stripe.StripeClient], T]) -> T:
    """Run `operation`; on an authentication error re-read the key once and retry once."""
    import stripe

    try:
        return operation(stripe_client())
    except stripe.AuthenticationError:
        if not secrets.refresh_secrets_if_allowed():
            raise
        return operation(stripe_client())


def reset_client() -> None:
    """Forget the client (tests)."""
    global _client
    with _lock:
        _client = None
