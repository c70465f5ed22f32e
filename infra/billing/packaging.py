"""Deterministic Lambda archives: the layer (pinned libraries + lambdas/shared) and each function.

The same sources always give byte-identical zips (sorted entries, fixed timestamps and
permissions, no bytecode), so `source_code_hash` only changes when code or pins change and a
second `pulumi up` shows no diff. The layer's libraries are installed by pip for the Lambda
runtime's platform, never this machine's; they are cached under build/ by a key of the pins
and the target, so the program does not reinstall them on every run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from billing.paths import BUILD_DIR, LAMBDAS_DIR

#: The Lambda runtime the layer is built for. arm64 (Graviton) costs ~20% less per GB-second
#: and every layer dependency has an arm64 wheel or is pure Python.
LAMBDA_RUNTIME = "python3.12"
LAMBDA_ARCHITECTURE = "arm64"
_PIP_PLATFORM = "manylinux2014_aarch64"
_PIP_PYTHON_VERSION = "3.12"

_FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_SKIPPED_PARTS = frozenset({"__pycache__", "bin"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})


@dataclass(frozen=True)
class BuiltArchive:
    """A zip on disk and its base64 SHA-256, as Lambda's `source_code_hash` expects."""

    path: Path
    sha256: str


def build_function_archive(function_dir: str) -> BuiltArchive:
    """Zip one function's own modules (lambdas/<function_dir>/*.py) at the archive root."""
    source = LAMBDAS_DIR / function_dir
    files = [(path, path.relative_to(source).as_posix()) for path in _walk(source)]
    return write_zip(files, BUILD_DIR / f"function-{function_dir}.zip")


def build_layer_archive(requirements: Path | None = None) -> BuiltArchive:
    """Zip the layer: pinned libraries for the Lambda platform and lambdas/shared, in python/."""
    requirements = requirements or LAMBDAS_DIR / "requirements.txt"
    vendor = install_layer_requirements(requirements)
    files = [(path, "python/" + path.relative_to(vendor).as_posix()) for path in _walk(vendor)]
    shared = LAMBDAS_DIR / "shared"
    files += [
        (path, "python/shared/" + path.relative_to(shared).as_posix()) for path in _walk(shared)
    ]
    return write_zip(files, BUILD_DIR / "layer.zip")


def install_layer_requirements(requirements: Path) -> Path:
    """pip-install the pinned requirements for the Lambda platform into a cached folder."""
    pins = requirements.read_bytes()
    key = hashlib.sha256(pins + f"{_PIP_PLATFORM}|{_PIP_PYTHON_VERSION}".encode()).hexdigest()[:16]
    target = BUILD_DIR / f"layer-vendor-{key}"
    if (target / ".complete").exists():
        return target
    # Concurrent builds (parallel tests, two stacks) each install apart and the first rename wins.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--no-compile", "--only-binary=:all:",
        "--platform", _PIP_PLATFORM, "--python-version", _PIP_PYTHON_VERSION,
        "--implementation", "cp", "--target", str(partial), "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"installing the layer's libraries for {_PIP_PLATFORM} failed:\n{result.stderr}"
        )
    (partial / ".complete").touch()
    try:
        partial.rename(target)
    except OSError:  # another build finished first with the same pins
        shutil.rmtree(partial, ignore_errors=True)
    return target


def write_zip(files: Iterable[tuple[Path, str]], destination: Path) -> BuiltArchive:
    """Write `files` (source, name in the archive) as a reproducible zip and hash it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for source, name in sorted(files, key=lambda item: item[1]):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, source.read_bytes())
    temporary.replace(destination)
    digest = hashlib.sha256(destination.read_bytes()).digest()
    return BuiltArchive(path=destination, sha256=base64.b64encode(digest).decode())


def _walk(root: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.name != ".complete"
        and path.suffix not in _SKIPPED_SUFFIXES
        and not _SKIPPED_PARTS.intersection(path.relative_to(root).parts)
    ]
