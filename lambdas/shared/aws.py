"""boto3 clients, created on first use (never at import) and then reused for the container's life.

boto3 honours AWS_ENDPOINT_URL, which points these clients at a local emulator in tests.
"""

from __future__ import annotations

import functools
from typing import Any

# Fail fast and let the caller decide: a Lambda has seconds, not minutes, per request.
_CLIENT_SETTINGS = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"max_attempts": 3, "mode": "standard"},
}


@functools.cache
def _session() -> Any:
    """One boto3 session for every client: each new session reloads botocore's data files,
    which cost a second client ~60 ms of a cold start."""
    import boto3

    return boto3.session.Session()


@functools.cache
def client(service: str) -> Any:
    """The shared client for `service` ("secretsmanager", "dynamodb")."""
    from botocore.config import Config

    return _session().client(service, config=Config(**_CLIENT_SETTINGS))


def reset_clients() -> None:
    """Forget every client and the session (tests point them at a new emulator)."""
    client.cache_clear()
    _session.cache_clear()
