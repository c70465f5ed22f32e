"""Local mode's tests: `make serve` in a subprocess on a free port, and a real browser."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    """A running `make serve`: its base URL and the lines it printed so far.

    A thread reads its output into a queue, so waiting for a line has a real deadline: a server
    that hangs silently fails the test instead of blocking the suite.
    """

    process: subprocess.Popen[str]
    port_file: Path
    """Where it wrote its port (SERVE_PORT_FILE), for `make complete-checkout` without PORT."""
    base_url: str = ""
    port: int = 0
    lines: list[str] = field(default_factory=list)
    _pending: queue.Queue[str | None] = field(default_factory=queue.Queue)
    _reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._pending.put(line.rstrip("\n"))
        self._pending.put(None)  # the output ended

    def _take(self, timeout: float) -> str | None:
        line = self._pending.get(timeout=timeout)
        if line is not None:
            self.lines.append(line)
            found = re.search(r" on (http://127\.0\.0\.1:(\d+)) ", line)
            if found and not self.port:
                self.base_url, self.port = found.group(1), int(found.group(2))
        return line

    def read_until(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        try:
            while (line := self._take(max(deadline - time.monotonic(), 0))) is not None:
                if text in line:
                    return
        except queue.Empty:
            pass
        raise AssertionError(f"make serve never printed {text!r}:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 60) -> int:
        """Wait for the process to end and collect the rest of its output."""
        self.process.wait(timeout=timeout)
        assert self._reader is not None
        self._reader.join(timeout=timeout)
        while not self._pending.empty():
            self._take(0)
        return self.process.returncode

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole group
        return self.finish()


def start_serve(extra_env: dict[str, str] | None = None) -> Served:
    """`make serve PORT=0`: the server binds a free port itself and prints it (no race)."""
    port_file = Path(tempfile.mkdtemp()) / "serve.port"  # servers of parallel tests apart
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "SERVE_PORT_FILE": str(port_file),
                   **(extra_env or {})}  # fmt: skip
    for name in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "FRONTEND_ORIGIN"):
        if name not in (extra_env or {}):
            environment.pop(name, None)
    process = subprocess.Popen(
        ["make", "-s", "serve", "PORT=0"],
        cwd=REPO_ROOT, env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return Served(process, port_file)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    running = start_serve()
    try:
        running.read_until("stop:")
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
