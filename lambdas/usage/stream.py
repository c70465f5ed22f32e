"""Stripe's v2 meter event stream: a session token cached per container, one request per batch.

The stream takes up to 100 events per request, authenticated by a meter event session's token
(valid 15 minutes), on stripe-python's `meter_events` base address. A warm container reuses its
token until a minute before it expires, so a batch of 100 messages costs one Stripe request, and
two when a new session is needed: never one request per event.

No network retries here: a failed request fails its messages, SQS delivers them again, and the
identifiers make Stripe drop whatever it had already accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.config import runtime_config
from shared.contract import STRIPE_API_VERSION
from shared.stripe_client import HTTP_TIMEOUT_SECONDS, call_stripe

if TYPE_CHECKING:
    import stripe

#: Stripe's limit per stream request.
MAX_EVENTS_PER_REQUEST = 100
#: A token this close to its expiry is replaced before use.
SESSION_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class _Session:
    client: stripe.StripeClient
    expires_at: float


_lock = threading.Lock()
_session: _Session | None = None


def _new_session() -> _Session:
    """One request with the API key: a token, and a client that authenticates with it."""
    import stripe

    made = call_stripe(lambda client: client.v2.billing.meter_event_session.create())
    base = runtime_config().stripe_meter_events_base
    client = stripe.StripeClient(
        made.authentication_token,
        stripe_version=STRIPE_API_VERSION,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT_SECONDS),
        base_addresses={"meter_events": base} if base else None,
    )
    expires = datetime.fromisoformat(str(made.expires_at).replace("Z", "+00:00")).timestamp()
    return _Session(client, expires)


def _current() -> _Session:
    global _session
    with _lock:
        if _session is None or _session.expires_at - time.time() < SESSION_MARGIN_SECONDS:
            _session = _new_session()
        return _session


def send(events: Sequence[dict[str, Any]]) -> None:
    """Send up to 100 events in one stream request; raises Stripe's error on failure (a token
    Stripe refused is forgotten, so the next batch starts a new session)."""
    import stripe

    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"at most {MAX_EVENTS_PER_REQUEST} events per request")
    session = _current()
    try:
        params: Any = {"events": list(events)}
        session.client.v2.billing.meter_event_stream.create(params=params)
    except stripe.AuthenticationError:
        reset_session()
        raise


def reset_session() -> None:
    """Forget the cached session (tests, and a token Stripe refused)."""
    global _session
    with _lock:
        _session = None
