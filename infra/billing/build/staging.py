"""Build outputs that appear whole or not at all, so parallel builds never see half of one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path


def publish_tree(
    entries: Iterable[tuple[str, bytes]],
    destination: Path,
    finish: Callable[[Path], None] | None = None,
) -> None:
    """Write `entries` (name, bytes) under a private folder, let `finish` work on it, then
    rename it to `destination`; if another build got there first, its identical copy stays."""
    staging = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for name, data in entries:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if finish is not None:
        finish(staging)
    try:
        staging.rename(destination)
    except OSError:  # another build published the same content first
        shutil.rmtree(staging, ignore_errors=True)
