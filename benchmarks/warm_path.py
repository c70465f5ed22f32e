"""Warm path: per-invocation latency in one warm container, with the round trips reported apart.

Two clocks wrap the SDKs: one around whole SDK calls (botocore's `_make_api_call`, stripe's
`_APIRequestor.request`), one around just their HTTP sends. Subtracting the first leaves this
project's own code (routing, parsing, signature check, cache lookups, state building);
subtracting only the second also counts the SDKs' client-side work (request building, SigV4
signing, response parsing), which the handler pays but does not write.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.client
import botocore.httpsession
import requests
import stripe._api_requestor


@dataclass
class Clock:
    seconds: float = 0.0
    calls: int = 0


@contextmanager
def _wrapped(targets: list[tuple[Any, str]]) -> Iterator[Clock]:
    clock = Clock()
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]

    def timed(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - start
                clock.calls += 1

        return call

    for owner, name, original in originals:
        setattr(owner, name, timed(original))
    try:
        yield clock
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


@dataclass(frozen=True)
class WarmSample:
    total: float
    sdk: float
    network: float
    round_trips: int

    @property
    def own_code(self) -> float:
        """This project's code alone: whole SDK calls excluded."""
        return self.total - self.sdk

    @property
    def with_sdk(self) -> float:
        """Everything but the HTTP round trips."""
        return self.total - self.network


def invoke_many(
    invoke: Callable[[int], dict[str, Any]], count: int, expected: int = 200
) -> list[WarmSample]:
    """`count` timed invocations; `invoke(i)` makes and serves the i-th request."""
    samples = []
    sdk_calls = [
        (botocore.client.BaseClient, "_make_api_call"),
        (stripe._api_requestor._APIRequestor, "request"),
    ]
    sends = [(botocore.httpsession.URLLib3Session, "send"), (requests.Session, "send")]
    with _wrapped(sdk_calls) as sdk, _wrapped(sends) as network:
        for index in range(count):
            before = (sdk.seconds, network.seconds, network.calls)
            start = time.perf_counter()
            response = invoke(index)
            total = time.perf_counter() - start
            assert response["statusCode"] == expected, response
            samples.append(
                WarmSample(
                    total,
                    sdk.seconds - before[0],
                    network.seconds - before[1],
                    network.calls - before[2],
                )
            )
    return samples


def cached_secret_lookup_seconds(lookups: int = 200_000) -> float:
    """Per-call time of a warm `get_secret` (the cache is already loaded)."""
    from shared import secrets

    secrets.get_secret("stripe_secret_key")
    return timeit.timeit(lambda: secrets.get_secret("stripe_secret_key"), number=lookups) / lookups
