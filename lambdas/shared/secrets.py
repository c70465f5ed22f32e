"""The secret document named by SECRET_ARN, cached per container.

One `GetSecretValue` per container per TTL window (SECRETS_CACHE_TTL_SECONDS, default 300):
warm invocations read the cached dict, and an expired cache is refreshed by whichever caller
gets the lock first. A caller that has evidence the cache is stale (a webhook signature that
fails, a Stripe authentication error) forces a refresh, at most once per
`FORCED_REFRESH_INTERVAL_SECONDS` per container, so a flood of forged requests cannot become
a flood of Secrets Manager calls.

Why not Powertools' parameters utility: measured on this project's machine, importing it adds
~0.12 s to a cold start already at ~0.56 s for boto3 + stripe (the target is 1.25x), and it has
neither a lock nor a rate-limited forced refresh, which this module needs anyway.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from shared import aws
from shared.config import runtime_config

DEFAULT_TTL_SECONDS = 300.0
#: Forced refreshes closer together than this are refused (the cached document is kept).
FORCED_REFRESH_INTERVAL_SECONDS = 60.0


class SecretsError(RuntimeError):
    """The secret could not be read or lacks a key; the message never holds a secret value."""


class SecretsCache:
    """A TTL cache of one JSON document, safe under concurrent callers."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        forced_refresh_interval: float = FORCED_REFRESH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._forced_interval = forced_refresh_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._expires_at = 0.0
        self._last_forced_at: float | None = None

    def get(self) -> dict[str, Any]:
        """The cached document, fetched first if missing or expired."""
        value = self._value
        if value is not None and self._clock() < self._expires_at:
            return value
        with self._lock:
            if self._value is None or self._clock() >= self._expires_at:
                self._load()
            assert self._value is not None
            return self._value

    def refresh(self) -> dict[str, Any]:
        """Fetch now, whatever the TTL says."""
        with self._lock:
            self._load()
            assert self._value is not None
            return self._value

    def refresh_if_allowed(self) -> bool:
        """Force a refresh unless one was forced within the interval; True if it fetched."""
        with self._lock:
            now = self._clock()
            if (
                self._last_forced_at is not None
                and now - self._last_forced_at < self._forced_interval
            ):
                return False
            self._last_forced_at = now
            self._load()
            return True

    def _load(self) -> None:
        self._value = self._fetch()
        self._expires_at = self._clock() + self._ttl


def fetch_secret_document(secret_arn: str) -> dict[str, Any]:
    """Read and parse the secret's current version."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = aws.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        raise SecretsError(f"could not read the billing secret: {code}") from None
    except BotoCoreError as error:
        raise SecretsError(f"could not reach Secrets Manager: {type(error).__name__}") from None
    try:
        document = json.loads(response["SecretString"])
    except (KeyError, ValueError):
        raise SecretsError("the billing secret is not a JSON document") from None
    if not isinstance(document, dict):
        raise SecretsError("the billing secret is not a JSON object")
    # Keys and app secrets are strings; `stripe_catalog` stays the JSON object it is.
    return {
        str(key): value if isinstance(value, (dict, list)) else str(value)
        for key, value in document.items()
    }


_cache: SecretsCache | None = None
_cache_lock = threading.Lock()


def _default_cache() -> SecretsCache:
    global _cache
    if _cache is None:
        with _cache_lock:
            if _cache is None:
                config = runtime_config()
                secret_arn = config.secret_arn
                if not secret_arn:
                    raise SecretsError("SECRET_ARN is not set")
                _cache = SecretsCache(
                    lambda: fetch_secret_document(secret_arn), config.secrets_cache_ttl_seconds
                )
    return _cache


def get_secret(key: str) -> str | None:
    """One string value of the document, or None when the key is absent."""
    value = _default_cache().get().get(key)
    return value if value is None or isinstance(value, str) else None


def require_secret(key: str) -> str:
    """One string value of the document; a missing key is a `SecretsError` naming the key."""
    value = get_secret(key)
    if not value:
        raise SecretsError(f"the billing secret has no {key!r}")
    return value


def require_object(key: str) -> dict[str, Any]:
    """One JSON-object value of the document (the catalog); missing is a `SecretsError`."""
    value = _default_cache().get().get(key)
    if not isinstance(value, dict):
        raise SecretsError(f"the billing secret has no {key!r} object")
    return value


def refresh_secrets_if_allowed() -> bool:
    """Re-read the secret after evidence it changed, rate-limited per container."""
    return _default_cache().refresh_if_allowed()


def reset_cache() -> None:
    """Forget the cache and its settings (tests start each container fresh)."""
    global _cache
    with _cache_lock:
        _cache = None
