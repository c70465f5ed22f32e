"""Structured logs: every line one JSON object, never a secret or a payload.

Each line has `timestamp` (UTC, ISO 8601), `level`, `logger` and `message`, the Lambda request
id (`requestId`) and, where known, `eventId`, `eventType`, `userId`, `outcome`, `route` and
`status`. Those come from the request's context (`begin_request`, `bind`) or from a call's
`extra=`; nothing else of a record is printed, so a stray `extra` cannot leak a payload, and an
exception shows its type only (a traceback can quote values). The functions' log groups use
Lambda's JSON log format, so its own START/END/REPORT lines are JSON too. This formatter
replaces the runtime's on its handler and tags each record the way the runtime's does, so Lambda
receives every line as a JSON log at its level (tested against awslambdaric, the runtime's own
code). Lambda drops lines below its application log level, so the stack's `logLevel` sets that
level and LOG_LEVEL together.

Why not Powertools' Logger: measured on python3.12 with bytecode, importing it adds 30-46 ms
to a cold start (5 runs), about a tenth of a route's whole cold first response here, for what
this 80-line module does with the standard library, which boto3 imports anyway.

botocore, urllib3 and stripe log request and response bodies at DEBUG (GetSecretValue's
`SecretString` among them): they are held at WARNING whatever LOG_LEVEL says.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.config import runtime_config

#: Libraries that log request and response bodies at DEBUG: never below WARNING.
_PAYLOAD_LOGGERS = ("botocore", "boto3", "urllib3", "stripe")
#: The only fields a line may carry besides timestamp, level, logger and message.
FIELDS = (
    "requestId",
    "eventId",
    "eventType",
    "userId",
    "outcome",
    "route",
    "status",
    "messageId",
    "detail",
)

#: Lambda's Python runtime writes each line to Lambda in a frame whose 4-byte type says "a JSON
#: log line at this level" (awslambdaric `lambda_runtime_log_utils._JSON_FRAME_TYPES`); its own
#: JSON formatter sets it on the record, and ours replaces that formatter, so ours sets it too.
#: Without it the runtime frames our lines as plain text at the record's level.
_JSON_FRAME_TYPES = {
    logging.DEBUG: 0xA55A000A.to_bytes(4, "big"),
    logging.INFO: 0xA55A000E.to_bytes(4, "big"),
    logging.WARNING: 0xA55A0012.to_bytes(4, "big"),
    logging.ERROR: 0xA55A0016.to_bytes(4, "big"),
    logging.CRITICAL: 0xA55A001A.to_bytes(4, "big"),
}
_JSON_FRAME_UNLEVELLED = 0xA55A0002.to_bytes(4, "big")

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context")
_configured = False


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with only the known fields."""

    def format(self, record: logging.LogRecord) -> str:
        record._frame_type = _JSON_FRAME_TYPES.get(record.levelno, _JSON_FRAME_UNLEVELLED)
        created = time.gmtime(record.created)
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", created) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context.get({}))
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def _configure() -> None:
    global _configured
    root = logging.getLogger()
    if not root.handlers:  # the Lambda runtime installs its own handler; elsewhere add one
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    logging.getLogger("billing").setLevel(runtime_config().log_level)
    for library in _PAYLOAD_LOGGERS:
        logging.getLogger(library).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str) -> logging.Logger:
    """The `billing.<name>` logger; the first call sets up JSON output and levels."""
    if not _configured:
        _configure()
    return logging.getLogger(f"billing.{name}")


def log_response(logger: logging.Logger, route: str, status: int) -> None:
    """The request's one access line, `route` and `status` as fields: 5xx at ERROR, 4xx at
    WARNING, so the alarms that count these lines (the webhook's) see them at any logLevel the
    stack accepts (WARN at most)."""
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    logger.log(level, "%s %s", route, status, extra={"route": route, "status": status})


def begin_request(context: Any) -> None:
    """Start a request's log context: its Lambda request id, nothing else yet."""
    request_id = getattr(context, "aws_request_id", None)
    _context.set({"requestId": request_id} if request_id else {})


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add known fields (eventId, userId, ...) to every line logged inside the block."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"not a log field: {sorted(unknown)}")
    token = _context.set({**_context.get({}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)
