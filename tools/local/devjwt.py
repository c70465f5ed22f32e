"""Dev JWTs for local mode, checked the way API Gateway's JWT authorizer checks a real one.

Tokens are HS256, signed by a random key kept in build/local/jwt.key (created on first use,
readable by you alone), so no identity provider is needed on a laptop. The checks mirror the
authorizer's: a valid signature, the expected `iss`, an `aud` (ID token) or `client_id` (access
token) among the accepted audiences, and `exp`/`nbf`/`iat` against the clock. The claims passed
to the handler are the token's own, as API Gateway passes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ISSUER = "https://saas-billing.local/dev-issuer"
AUDIENCE = "saas-billing-local"
DEFAULT_TTL_SECONDS = 8 * 3600


class InvalidTokenError(Exception):
    """The token would be refused by the authorizer (the message says why, never the token)."""


def signing_key(path: Path) -> bytes:
    """The local signing key, created once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(secrets.token_bytes(32))
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    key: bytes,
    user: str,
    email: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
    org: str | None = None,
    role: str | None = None,
) -> str:
    """An ID-token-shaped JWT for `user` (its `sub`); with `org`, an organisation member's
    (`org_id`, and `org_role` when given: the dev stack's organisation claims)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "token_use": "id",
    }
    if email:
        claims["email"] = email
    if org:
        claims["org_id"] = org
        if role:
            claims["org_role"] = role
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def verify(
    token: str,
    key: bytes,
    issuer: str = ISSUER,
    audiences: tuple[str, ...] = (AUDIENCE,),
    now: float | None = None,
) -> dict[str, Any]:
    """The token's claims, or `InvalidTokenError`."""
    try:
        header_text, body_text, signature_text = token.split(".")
        header = json.loads(_unb64(header_text))
        claims = json.loads(_unb64(body_text))
        signature = _unb64(signature_text)
    except ValueError:
        raise InvalidTokenError("not a JWT") from None
    if not isinstance(header, Mapping) or header.get("alg") != "HS256":
        raise InvalidTokenError("unexpected signing algorithm")
    expected = hmac.new(key, f"{header_text}.{body_text}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidTokenError("bad signature")
    if not isinstance(claims, dict) or claims.get("iss") != issuer:
        raise InvalidTokenError("wrong issuer")
    audience = claims.get("aud", claims.get("client_id"))
    accepted = audience if isinstance(audience, list) else [audience]
    if not any(item in audiences for item in accepted):
        raise InvalidTokenError("wrong audience")
    current = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int) or exp <= current:
        raise InvalidTokenError("expired")
    if not isinstance(nbf, int) or nbf > current:
        raise InvalidTokenError("not yet valid")
    return claims
