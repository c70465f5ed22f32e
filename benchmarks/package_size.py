"""Archive sizes, zipped and unzipped, against a layer that also packs boto3 (the old design)."""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from billing.build.packaging import (
    BUILD_DIR,
    LAMBDAS_DIR,
    build_function_archive,
    build_layer_archive,
    install_layer_requirements,
    read_entries,
    write_zip,
)

_BOTO3_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six")


@dataclass(frozen=True)
class Size:
    zipped: int
    unzipped: int


def size_of(archive: Path) -> Size:
    with zipfile.ZipFile(archive) as zf:
        unzipped = sum(info.file_size for info in zf.infolist())
    return Size(archive.stat().st_size, unzipped)


def product_sizes() -> dict[str, Size]:
    return {
        "layer": size_of(build_layer_archive().path),
        "subscription function": size_of(build_function_archive("subscription").path),
        "webhook function": size_of(build_function_archive("stripe_webhook").path),
    }


def naive_layer_with_boto3() -> Size:
    """NAIVE: the same layer plus boto3 and its dependencies (pinned to this project's dev pins)."""
    pins = (LAMBDAS_DIR / "requirements.txt").read_text() + "".join(
        f"{name}=={metadata.version(name)}\n" for name in _BOTO3_DISTRIBUTIONS
    )
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text(pins)
        vendor = install_layer_requirements(requirements)
    files = [
        (path, "python/" + path.relative_to(vendor).as_posix())
        for path in vendor.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.name != ".complete"
    ]
    return size_of(write_zip(read_entries(files), BUILD_DIR / "bench-naive-layer-with-boto3.zip"))
