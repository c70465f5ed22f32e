"""A Lambda "container": a separate interpreter that imports a handler from extracted archives.

Its path is the function's zip, the layer's python/ folder, a folder holding only boto3 and its
own dependencies and the runtime's own code (as the Lambda runtime provides them) and the
standard library; nothing from this project's virtualenv. Logging is set up by the runtime's
code as in Lambda, before the handler is imported. It stays up between requests, so it is warm
like a real container.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

#: What the Lambda python3.12 runtime provides beside the standard library: boto3 and its
#: dependencies (urllib3 among them, which the layer's requests uses too).
RUNTIME_PACKAGES = (
    "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3",
)  # fmt: skip
#: The runtime's own code beside them: awslambdaric (which sets logging up before the handler
#: is imported) with its dependency, and the SnapStart hook library.
RUNTIME_CODE = ("awslambdaric", "simplejson", "snapshot_restore_py.py")

_RUNNER = r"""
import importlib, json, sys, time, uuid
function_dir, layer_dir, runtime_dir, stdlib, entry_point = sys.argv[1:6]
sys.path[:] = [function_dir, layer_dir, runtime_dir] + json.loads(stdlib)
allowed = (function_dir, layer_dir, runtime_dir) + tuple(json.loads(stdlib))

class Context:  # what Lambda passes: a request id and the time left
    def __init__(self, timeout_ms=15000):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_ms / 1000
    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)

# Logging as Lambda's python3.12 runtime sets it up (awslambdaric, in the runtime like boto3):
# its handler on the root logger, frames to Lambda's log pipe. Here the pipe is stderr: a JSON
# frame below the application log level is dropped, as Lambda drops it; any other JSON frame is
# its line; a text frame is marked, so a line Lambda would not take as JSON shows as such.
# awslambdaric ships Linux wheels only: elsewhere the function's own logging set-up stands.
try:
    import logging
    from awslambdaric import bootstrap
    from awslambdaric.lambda_runtime_log_utils import _JSON_FRAME_TYPES
except ImportError:
    bootstrap = None
if bootstrap is not None:
    levels = {frame: level for level, frame in _JSON_FRAME_TYPES.items()}
    threshold = logging.getLevelName(bootstrap._AWS_LAMBDA_LOG_LEVEL or "INFO")
    class Pipe:
        def log(self, msg, frame_type=None):
            if frame_type in levels and levels[frame_type] < threshold:
                return
            line = msg.rstrip("\n")
            sys.stderr.write((line if frame_type in levels else "[text frame] " + line) + "\n")
            sys.stderr.flush()
    bootstrap._setup_logging(
        bootstrap._AWS_LAMBDA_LOG_FORMAT, bootstrap._AWS_LAMBDA_LOG_LEVEL, Pipe()
    )

module_name, _, function_name = entry_point.rpartition(".")  # as Lambda reads `handler`
handler = getattr(importlib.import_module(module_name), function_name)
for line in sys.stdin:
    response = handler(json.loads(line), Context())
    foreign = sorted(
        name for name, module in list(sys.modules.items())
        if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
    )
    imported = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps({"response": response, "foreign": foreign, "imported": imported}), flush=True)
"""


def extract(archive: Path, destination: Path) -> Path:
    """Unpack an archive as Lambda would: a zip, or the folder the program uploads as a zip."""
    if archive.is_dir():
        shutil.copytree(archive, destination, dirs_exist_ok=True)
        return destination
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(destination)
    return destination


def runtime_packages(destination: Path) -> Path:
    """A folder with only boto3 and what it needs, linked from this interpreter's site-packages."""
    destination.mkdir(parents=True, exist_ok=True)
    site = Path(boto3.__file__).parents[1]
    for name in RUNTIME_PACKAGES + RUNTIME_CODE:
        link = destination / name
        if (site / name).exists() and not link.is_symlink():  # RUNTIME_CODE: Linux only
            link.symlink_to(site / name)
    return destination


def _stdlib_paths() -> list[str]:
    return [
        path
        for path in sys.path
        if path.startswith(sys.base_prefix) and "site-packages" not in path and Path(path).is_dir()
    ]


class LambdaContainer:
    """One warm handler process; `invoke` sends an event and returns the handler's response."""

    def __init__(
        self,
        function_dir: Path,
        layer_python: Path,
        runtime: Path,
        environment: Mapping[str, str],
        logs: int | None = subprocess.PIPE,
        *,
        handler: str,
    ) -> None:
        """`handler` is the function's declared entry point (`package.module.function`);
        `logs=None` lets the function's log lines reach this terminal (local mode); the
        default keeps them for `stop()` to return (tests check them)."""
        self._lock = threading.Lock()
        self.foreign_modules: list[str] = []
        self.imported: list[str] = []
        """Top-level modules the process has imported so far."""
        self._process = subprocess.Popen(
            [sys.executable, "-S", "-E", "-B", "-c", _RUNNER, str(function_dir), str(layer_python),
             str(runtime), json.dumps(_stdlib_paths()), handler],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logs, text=True,
            start_new_session=True,  # Ctrl-C stops the server, which then ends this process
            env={**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}, **environment},
        )  # fmt: skip

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """One invocation; concurrent callers wait their turn, as Lambda queues them."""
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._lock:
            self._process.stdin.write(json.dumps(event) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            logs = self._process.stderr.read() if self._process.stderr else ""
            raise RuntimeError(f"the handler process died:\n{logs}")
        result = json.loads(line)
        self.foreign_modules = result["foreign"]
        self.imported = result["imported"]
        return result["response"]

    def stop(self) -> str:
        """End the process; returns what it logged (when its logs were kept)."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)
        return self._process.stderr.read() if self._process.stderr else ""
