"""Our log lines as Lambda's Python runtime hands them to Lambda.

The runtime (awslambdaric, Lambda's own code, pinned in requirements-dev.txt) installs a handler
on the root logger that writes each line to Lambda in a frame whose type says JSON or text, and
at which level. These tests set the runtime's logging up exactly as its bootstrap does, in a
fresh interpreter, and read the frames it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

pytest.importorskip("awslambdaric", reason="Lambda's runtime code ships Linux wheels only")

_SCRIPT = r"""
import json, logging, sys
from awslambdaric import bootstrap
from awslambdaric.lambda_runtime_log_utils import LogFormat

frames = []
class Pipe:  # Lambda's telemetry log pipe
    def log(self, msg, frame_type=None):
        frames.append([frame_type.hex() if frame_type else None, msg])

bootstrap._setup_logging(LogFormat.JSON, sys.argv[1], Pipe())
from shared import log

class Context:
    aws_request_id = "req-1"

logger = log.get_logger("test")
log.begin_request(Context())
with log.bind(eventId="evt_1", userId="user-1"):
    logger.debug("debug line")
    logger.info("info line", extra={"outcome": "applied"})
    logger.warning("warning line", extra={"payload": sys.argv[2]})
    try:
        raise ValueError(sys.argv[2])
    except ValueError:
        logger.exception("error line")
logging.getLogger("botocore").debug("a request body %s", sys.argv[2])
print(json.dumps(frames))
"""


def runtime_frames(level: str, secret: str) -> list[tuple[str, dict[str, Any]]]:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, level, secret],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT / "lambdas",
        env={"LOG_LEVEL": level, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return [(frame, json.loads(message)) for frame, message in json.loads(result.stdout)]


def test_every_line_reaches_lambda_as_a_json_frame_at_its_level() -> None:
    from awslambdaric.lambda_runtime_log_utils import _JSON_FRAME_TYPES

    frames = runtime_frames("DEBUG", "not-logged")
    levels = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
    assert [entry["message"] for _, entry in frames] == [
        "debug line", "info line", "warning line", "error line",
    ]  # fmt: skip
    for frame, entry in frames:
        assert frame == _JSON_FRAME_TYPES[levels[entry["level"]]].hex(), entry
        assert entry["requestId"] == "req-1" and entry["eventId"] == "evt_1"
        assert entry["userId"] == "user-1" and entry["logger"] == "billing.test"
    assert frames[1][1]["outcome"] == "applied"


def test_the_runtime_handler_prints_no_stray_extra_no_exception_text_and_no_library_body() -> None:
    """The runtime's own formatter would print every `extra` and the exception's message."""
    secret = "sk_test_" + "FAKE" * 6
    frames = runtime_frames("DEBUG", secret)
    assert frames, "the lines must have been written to check them"
    assert not any(secret in json.dumps(entry) for _, entry in frames)
    assert frames[-1][1]["error"] == "ValueError"
    assert {"stackTrace", "errorMessage", "payload"}.isdisjoint(frames[-1][1] | frames[2][1])


def test_log_level_holds_lines_back_before_they_reach_lambda() -> None:
    frames = runtime_frames("WARN", "not-logged")
    assert [entry["level"] for _, entry in frames] == ["WARNING", "ERROR"]
