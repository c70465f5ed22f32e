"""Bytecode for the Lambda runtime (python3.12), compiled at build time and shipped in the archives.

Lambda's `/opt` and `/var/task` are read-only, so without shipped `.pyc` files every cold start
compiles stripe, requests and our own modules from source (importing stripe from the layer cost
~260 ms here without bytecode, ~95 ms with it). Bytecode is specific to a minor version, so it
is compiled by a Python 3.12 interpreter (never this machine's default), found in this order:
`LAMBDA_PYTHON`, the running interpreter if it is 3.12, `python3.12` on PATH, pyenv's versions,
then `uv python find 3.12`. Without one the build stops with a message saying how to get one:
every build needs it, so the archives never depend on which machine built them.

The files are reproducible: `unchecked-hash` pycs carry a hash of their source instead of a
timestamp (and Python trusts them without re-reading the source), and each records the path
the file has on Lambda (`/opt/python/...`, `/var/task/...`), not the build folder's. Compiled
output is cached under build/ by the sources' content and the interpreter's exact version.
Compiling is deterministic for one interpreter (tested: two fresh parallel compilations give
the same bytes), but CPython may change the code it generates in a patch release (a compiler
fix), so two machines build identical archives when their 3.12 is the same patch release;
otherwise the first deploy from the other machine publishes a new layer version once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from billing.build.staging import publish_tree

RUNTIME_VERSION = (3, 12)
_VERSION_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
Entries = list[tuple[str, bytes]]


class MissingInterpreterError(RuntimeError):
    """No Python 3.12 to compile the runtime's bytecode with."""


def _candidates() -> Iterator[str]:
    configured = os.environ.get("LAMBDA_PYTHON")
    if configured:
        yield configured
    yield sys.executable
    on_path = shutil.which("python3.12")
    if on_path:
        yield on_path
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    versions = sorted(
        (pyenv_root / "versions").glob("3.12.*"),
        key=lambda path: [int(part) for part in path.name.split(".") if part.isdigit()],
        reverse=True,
    )
    for version in versions:
        yield str(version / "bin" / "python3.12")
    uv = shutil.which("uv")
    if uv:
        found = subprocess.run(
            [uv, "python", "find", "3.12"], capture_output=True, text=True, check=False
        )
        if found.returncode == 0 and found.stdout.strip():
            yield found.stdout.strip()


def _version(interpreter: str) -> str | None:
    try:
        probe = subprocess.run(
            [interpreter, "-c", _VERSION_PROBE], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def find_runtime_python() -> tuple[str, str]:
    """(path, exact version) of a Python 3.12 interpreter, or `MissingInterpreterError`."""
    wanted = "{}.{}.".format(*RUNTIME_VERSION)
    for candidate in _candidates():
        version = _version(candidate)
        if version and version.startswith(wanted):
            return candidate, version
    raise MissingInterpreterError(
        "The Lambda archives ship bytecode for python3.12, the functions' runtime, and building "
        "them needs a Python 3.12 interpreter; none was found (tried LAMBDA_PYTHON, python3.12 "
        "on PATH, pyenv and uv). Install one (`pyenv install 3.12`, `uv python install 3.12`, "
        "or your OS's python3.12 package), or set LAMBDA_PYTHON to its path."
    )


def compile_entries(entries: Entries, runtime_prefix: str, cache_dir: Path) -> Entries:
    """The `__pycache__/*.cpython-312.pyc` entries for every `.py` entry.

    `runtime_prefix` is where Lambda unpacks the archive (`/opt` for a layer, `/var/task` for
    a function); compiled output is reused from `cache_dir` when sources and interpreter match.
    """
    interpreter, version = find_runtime_python()
    sources = [(name, data) for name, data in entries if name.endswith(".py")]
    digest = hashlib.sha256(f"{version}|{runtime_prefix}".encode())
    for name, data in sources:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    key = base64.b32encode(digest.digest()).decode()[:20].lower()
    cached = cache_dir / f"bytecode-{key}"
    if not cached.is_dir():
        _compile(sources, interpreter, runtime_prefix, cached)
    return sorted(
        (path.relative_to(cached).as_posix(), path.read_bytes()) for path in cached.rglob("*.pyc")
    )


def _compile(sources: Entries, interpreter: str, prefix: str, destination: Path) -> None:
    def compile_in_place(folder: Path) -> None:
        # A file that is not valid 3.12 (a py2 leftover in some package) is skipped: importing
        # it would fail on Lambda too. Everything else must compile.
        subprocess.run(
            [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode",
             "unchecked-hash", "-s", str(folder), "-p", prefix, str(folder)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if sources and not any(folder.rglob("*.pyc")):
            raise RuntimeError(f"compiling bytecode with {interpreter} produced nothing")
        for source in folder.rglob("*.py"):
            source.unlink()

    publish_tree(sources, destination, compile_in_place)
