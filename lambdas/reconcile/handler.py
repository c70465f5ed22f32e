"""Reconciliation Lambda: run by EventBridge Scheduler every `reconcileIntervalMinutes`."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from reconcile.reconciliation import reconcile
from shared.log import begin_request, get_logger

logger = get_logger("reconcile.handler")

#: Outside Lambda (a manual run, a test) there is no deadline but this one.
_NO_CONTEXT_BUDGET_MS = 60_000


def handler(event: Any, context: Any) -> dict[str, Any]:
    begin_request(context)
    started = time.monotonic()
    if context is not None:
        remaining = context.get_remaining_time_in_millis
    else:
        remaining = lambda: int(_NO_CONTEXT_BUDGET_MS - (time.monotonic() - started) * 1000)  # noqa: E731
    result = reconcile(int(time.time()), remaining)
    return asdict(result)
