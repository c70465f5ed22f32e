"""Stripe webhook signature verification, before any other work.

`signature.verify_signature` checks the HMAC, refuses timestamps older than the tolerance and,
unlike stripe-python, those more than the tolerance ahead; it needs no stripe import, so an
event that needs no Stripe call never pays for one. When the cached signing secret fails, the
secret is re-read once (rate-limited per container): `pulumi up` may have replaced the endpoint
and written its new secret.
"""

from __future__ import annotations

import json
import time
from typing import Any

from shared import secrets
from shared.contract import SecretKey
from stripe_webhook.signature import SignatureError, read_timestamp, verify_signature

TOLERANCE_SECONDS = 300


class InvalidWebhookError(Exception):
    """The request is not a correctly signed, fresh Stripe event; the caller answers 400."""


def verify_event(payload: bytes, signature_header: str | None) -> dict[str, Any]:
    """The verified event as a dict, or `InvalidWebhookError`."""
    if not signature_header:
        raise InvalidWebhookError("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWebhookError("body is not UTF-8") from None
    _refuse_future_timestamp(signature_header)
    secret = secrets.require_secret(SecretKey.STRIPE_WEBHOOK_SECRET)
    try:
        _verify(text, signature_header, secret)
    except InvalidWebhookError:
        if not secrets.refresh_secrets_if_allowed():
            raise
        fresh = secrets.require_secret(SecretKey.STRIPE_WEBHOOK_SECRET)
        if fresh == secret:
            raise
        _verify(text, signature_header, fresh)
    return _parse_event(text)


def _verify(payload: str, header: str, secret: str) -> None:
    try:
        verify_signature(payload, header, secret, TOLERANCE_SECONDS)
    except SignatureError as error:
        raise InvalidWebhookError(f"signature does not verify: {error}") from None


def _refuse_future_timestamp(header: str) -> None:
    """Cheap checks before the secret is read (and before any forced re-read)."""
    try:
        timestamp = read_timestamp(header)
    except SignatureError:
        raise InvalidWebhookError("signature header has no timestamp") from None
    if timestamp > time.time() + TOLERANCE_SECONDS:
        raise InvalidWebhookError("signature timestamp is in the future")


def _parse_event(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidWebhookError("body is not JSON") from None
    data = event.get("data") if isinstance(event, dict) else None
    if not (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    ):
        raise InvalidWebhookError("body is not a Stripe event")
    return event
