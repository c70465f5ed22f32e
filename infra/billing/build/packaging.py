"""Lambda archives whose identity is their content: the layer (pinned libraries + lambdas/shared)
and each function.

Each archive (its modules and their python3.12 bytecode, see `billing.build.bytecode`) is laid out as a
folder under build/ (what `pulumi.FileArchive` uploads) and as a
reproducible zip beside it (for size checks, the benchmark and local runs). Both derive from one
list of (name, bytes) entries, and the hash handed to Lambda's `source_code_hash` is the SHA-256
of those names and bytes, not of compressed zip bytes, which differ between zlib builds.

The engine decides whether `code` changed by the archive's hash: for a `.zip` path that is the
zip's raw bytes, for a folder the SHA-256 of a tar of its sorted names and contents, with a
fixed mode and no timestamps (pulumi/pulumi `sdk/go/common/resource/archive`, `EnsureHash` and
`archiveTar`). So pointing Pulumi at the folder makes the deploy from a laptop and the deploy
from CI agree whenever the sources agree. Our own sources are read with LF line endings (CRLF is
rewritten; `.gitattributes` also checks them out with LF), so a Windows checkout changes nothing.

The layer's libraries are installed by pip for the Lambda runtime's platform, never this
machine's; they are cached under build/ by a key of the pins and the target.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from billing.build.bytecode import compile_entries
from billing.paths import BUILD_DIR, LAMBDAS_DIR
from billing.build.staging import publish_tree

#: The Lambda runtime the layer is built for. arm64 (Graviton) costs ~20% less per GB-second
#: and every layer dependency has an arm64 wheel or is pure Python.
LAMBDA_RUNTIME = "python3.12"
LAMBDA_ARCHITECTURE = "arm64"
_PIP_PLATFORM = "manylinux2014_aarch64"
_PIP_PYTHON_VERSION = "3.12"

_FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_SKIPPED_PARTS = frozenset({"__pycache__", "bin"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})


#: Our own files that are text: their line endings are normalised to LF.
_TEXT_SUFFIXES = frozenset({".py", ".pyi", ".txt", ".json", ".md", ".cfg", ".toml", ".typed"})


@dataclass(frozen=True)
class BuiltArchive:
    """One archive: its folder (uploaded), its zip (inspected) and its content hash."""

    directory: Path
    """The archive's files laid out as Lambda unpacks them; `pulumi.FileArchive` points here."""
    path: Path
    """The same entries as a reproducible zip."""
    sha256: str
    """Base64 SHA-256 of the entries' names and bytes, for `source_code_hash`."""


def build_function_archive(function_dir: str) -> BuiltArchive:
    """One function's own package (lambdas/<function_dir>/) under its name at the archive root,
    so Lambda imports it as `<function_dir>.handler`, as the tests do."""
    source = LAMBDAS_DIR / function_dir
    files = [
        (path, f"{function_dir}/" + path.relative_to(source).as_posix()) for path in _walk(source)
    ]
    return write_archive(
        files, BUILD_DIR / f"function-{function_dir}", [source], runtime_prefix="/var/task"
    )


def build_layer_archive(requirements: Path | None = None) -> BuiltArchive:
    """The layer: pinned libraries for the Lambda platform and lambdas/shared, in python/."""
    requirements = requirements or LAMBDAS_DIR / "requirements.txt"
    vendor = install_layer_requirements(requirements)
    files = [(path, "python/" + path.relative_to(vendor).as_posix()) for path in _walk(vendor)]
    shared = LAMBDAS_DIR / "shared"
    files += [
        (path, "python/shared/" + path.relative_to(shared).as_posix()) for path in _walk(shared)
    ]
    return write_archive(files, BUILD_DIR / "layer", [shared], runtime_prefix="/opt")


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


Entries = list[tuple[str, bytes]]


def read_entries(files: Iterable[tuple[Path, str]], text_roots: Sequence[Path] = ()) -> Entries:
    """(name, bytes) sorted by name; text files under `text_roots` with LF line endings."""
    entries = []
    for source, name in files:
        data = source.read_bytes()
        if source.suffix in _TEXT_SUFFIXES and any(source.is_relative_to(r) for r in text_roots):
            data = data.replace(b"\r\n", b"\n")
        entries.append((name, data))
    return sorted(entries)


def content_hash(entries: Entries) -> str:
    """Base64 SHA-256 over each entry's name and the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    for name, data in entries:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return base64.b64encode(digest.digest()).decode()


def write_archive(
    files: Iterable[tuple[Path, str]],
    destination: Path,
    text_roots: Sequence[Path] = (),
    runtime_prefix: str | None = None,
) -> BuiltArchive:
    """Lay `files` (source, name in the archive) out as a folder and a zip named by content.

    `destination` is `build/<name>`; the archive lands in `build/<name>-<hash>/` and
    `build/<name>-<hash>.zip`. A name holds one content forever, so an existing one is reused
    as is and parallel builds (tests, two stacks) never see a half-written archive. With a
    `runtime_prefix` (where Lambda unpacks it), python3.12 bytecode ships beside each module.
    """
    entries = read_entries(files, text_roots)
    if runtime_prefix is not None:  # ship python3.12 bytecode for every module
        entries = sorted(entries + compile_entries(entries, runtime_prefix, destination.parent))
    sha256 = content_hash(entries)
    key = base64.b64decode(sha256).hex()[:16]
    directory = destination.with_name(f"{destination.name}-{key}")
    zip_path = directory.with_suffix(".zip")
    if not directory.is_dir():
        publish_tree(entries, directory)
    if not zip_path.exists():
        write_zip(entries, zip_path)
    _prune_older_builds(destination, keep=directory)
    return BuiltArchive(directory=directory, path=zip_path, sha256=sha256)


def write_zip(entries: Entries, destination: Path, compresslevel: int = 9) -> Path:
    """A reproducible zip: sorted entries, fixed timestamps and permissions."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(
        temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
    ) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=compresslevel)
    temporary.replace(destination)
    return destination


#: Builds of an archive older than this are removed when a newer one is made.
_STALE_SECONDS = 3600


def _prune_older_builds(destination: Path, keep: Path) -> None:
    """Drop stale builds of the same archive so build/ does not grow with every edit."""
    now = time.time()
    build = re.compile(rf"^{re.escape(destination.name)}-[0-9a-f]{{16}}(\.zip)?$")
    for old in destination.parent.glob(f"{destination.name}-*"):
        if not build.match(old.name) or old.name.startswith(keep.name):
            continue
        try:
            if now - old.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        except OSError:
            pass


def _walk(root: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.name != ".complete"
        and path.suffix not in _SKIPPED_SUFFIXES
        and not _SKIPPED_PARTS.intersection(path.relative_to(root).parts)
    ]
