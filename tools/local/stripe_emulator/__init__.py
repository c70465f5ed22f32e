"""An offline Stripe: Stripe's API on loopback, as strict as Stripe, with test clocks.

Requests are checked against the pinned API version's typed params (stripe-python's, generated
from Stripe's specification); objects have Stripe's shapes and defaults; billing runs on its
own when a test clock advances (trials, renewals, failed payments, cancellations); events are
signed and delivered to webhook endpoints in the version each one asks for. `python -m
tools.local.stripe_emulator --port N` serves it standalone.
"""

from tools.local.stripe_emulator.emulator import SessionNotOpenError, StripeFake
from tools.local.stripe_emulator.errors import StripeError
from tools.local.stripe_emulator.objects import fixture, new_id
from tools.local.stripe_emulator.state import PINNED_API_VERSION, RecordedRequest

__all__ = [
    "PINNED_API_VERSION",
    "RecordedRequest",
    "SessionNotOpenError",
    "StripeError",
    "StripeFake",
    "fixture",
    "new_id",
]
