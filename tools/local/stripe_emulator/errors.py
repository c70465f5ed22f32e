"""Stripe's error answers: `{"error": {"type", "code", "param", "message", "doc_url"}}`."""

from __future__ import annotations

from tools.local.stripe_emulator.schema import StripeError

__all__ = ["StripeError", "invalid", "missing"]


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 `invalid_request_error`."""
    return StripeError(400, "invalid_request_error", message, code, param)


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    """Stripe's 404 for an id it does not know: `No such customer: 'cus_...'`."""
    return StripeError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing", param
    )
