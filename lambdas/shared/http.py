"""API Gateway HTTP API (payload 2.0) helpers: caller identity, JSON bodies, responses."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class HttpError(Exception):
    """A failure the client caused or can act on; `message` is safe to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    """The authenticated user, from the JWT claims API Gateway verified."""

    user_id: str
    email: str | None
    claims: Mapping[str, Any] = field(default_factory=dict)
    """Every verified claim (teams read the organisation and role claims from here)."""


def caller(event: Mapping[str, Any]) -> Caller:
    """The caller from `requestContext.authorizer.jwt.claims`; never from the body. 401 if none."""
    claims: Any = event
    for key in ("requestContext", "authorizer", "jwt", "claims"):  # any of them may be null
        claims = claims.get(key) if isinstance(claims, Mapping) else None
    if not isinstance(claims, Mapping):
        raise HttpError(401, "Unauthorized")
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id:
        raise HttpError(401, "Unauthorized")
    email = claims.get("email")
    return Caller(user_id=user_id, email=email if isinstance(email, str) else None, claims=claims)


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body as sent, base64-decoded when API Gateway encoded it; 400 if not base64."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise HttpError(400, "Request body must be text")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error
            raise HttpError(400, "Request body is not valid base64") from None
    return body.encode("utf-8")


def json_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The body parsed as a JSON object; 400 when missing or malformed."""
    try:
        parsed = json.loads(raw_body(event) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "Request body must be JSON") from None
    if not isinstance(parsed, dict):
        raise HttpError(400, "Request body must be a JSON object")
    return parsed


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header, matched case-insensitively."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    """A payload-2.0 response with a JSON body.

    No CORS header: the HTTP API's CORS configuration answers for every route, and API Gateway
    discards an integration's own CORS headers when one is configured.
    """
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
