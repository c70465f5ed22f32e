"""Usage Lambda: invoked by the SQS event source with up to 100 usage messages."""

from __future__ import annotations

from typing import Any

from shared.log import begin_request
from usage.ingest import ingest


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    begin_request(context)
    return ingest(event.get("Records") or []).response()
