"""Local mode's tests: `make serve` in a subprocess on a free port, and a real browser."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    """A running `make serve`: its base URL and the lines it printed so far."""

    process: subprocess.Popen[str]
    base_url: str
    port: int
    lines: list[str] = field(default_factory=list)

    def read_until(self, text: str, timeout: float = 120) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            found = re.search(r" on (http://127\.0\.0\.1:(\d+)) ", line)
            if found and not self.port:
                self.base_url, self.port = found.group(1), int(found.group(2))
            if text in line:
                return
        raise AssertionError(f"make serve never printed {text!r}:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole group
        output, _ = self.process.communicate(timeout=60)
        self.lines += output.splitlines()
        return self.process.returncode


def start_serve(extra_env: dict[str, str] | None = None) -> Served:
    """`make serve PORT=0`: the server binds a free port itself and prints it (no race)."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    for name in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "FRONTEND_ORIGIN"):
        if name not in (extra_env or {}):
            environment.pop(name, None)
    process = subprocess.Popen(
        ["make", "-s", "serve", "PORT=0"],
        cwd=REPO_ROOT, env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return Served(process, "", 0)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    running = start_serve()
    try:
        running.read_until("stop:")
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
