"""The Lambda archives: reproducible, built for the Lambda platform, without boto3."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from billing import packaging
from billing.packaging import build_function_archive, build_layer_archive, write_zip

# A compiled extension is fine when it targets CPython 3.12 (or the stable ABI) on arm64 Linux.
TARGET_EXTENSION = re.compile(r"\.(cpython-312-aarch64-linux-gnu|abi3)\.so$")


@pytest.fixture(scope="module")
def layer_names() -> list[str]:
    with zipfile.ZipFile(build_layer_archive().path) as archive:
        return archive.namelist()


def test_building_the_layer_twice_gives_the_same_hash() -> None:
    first = build_layer_archive()
    first_bytes = first.path.read_bytes()
    second = build_layer_archive()
    assert first.sha256 == second.sha256
    assert first_bytes == second.path.read_bytes()


def test_a_changed_source_changes_the_hash(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("VALUE = 1\n")
    before = write_zip([(source, "module.py")], tmp_path / "a.zip")
    source.write_text("VALUE = 2\n")
    after = write_zip([(source, "module.py")], tmp_path / "b.zip")
    source.write_text("VALUE = 1\n")
    again = write_zip([(source, "module.py")], tmp_path / "c.zip")
    assert before.sha256 != after.sha256
    assert before.sha256 == again.sha256, "timestamps must not leak into the archive"


def test_layer_holds_stripe_and_shared_code_under_python(layer_names: list[str]) -> None:
    assert "python/stripe/__init__.py" in layer_names
    assert "python/shared/stripe_version.py" in layer_names
    assert all(name.startswith("python/") for name in layer_names)


def test_layer_does_not_pack_boto3_or_bytecode(layer_names: list[str]) -> None:
    tops = {name.split("/")[1] for name in layer_names}
    assert not {"boto3", "botocore", "s3transfer"} & tops
    assert not [n for n in layer_names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]


def test_every_compiled_file_targets_the_lambda_platform_or_has_a_fallback(
    layer_names: list[str],
) -> None:
    names = set(layer_names)
    compiled = [n for n in layer_names if n.endswith(".so")]
    for name in compiled:
        if TARGET_EXTENSION.search(name):
            continue
        fallback = name.split(".", 1)[0] + ".py"
        assert fallback in names, f"{name} is built for another platform and has no .py fallback"
    assert all("x86_64" not in n and "cpython-311" not in n for n in compiled)


def test_layer_zip_is_well_under_the_size_target() -> None:
    assert build_layer_archive().path.stat().st_size < 10 * 1024 * 1024


def test_function_archives_hold_the_handler_at_the_root() -> None:
    for function in ("subscription", "stripe_webhook"):
        with zipfile.ZipFile(build_function_archive(function).path) as archive:
            assert "handler.py" in archive.namelist(), function


def test_layer_install_targets_the_lambda_runtime() -> None:
    assert packaging.LAMBDA_RUNTIME in {"python3.12", "python3.13"}
    assert packaging.LAMBDA_ARCHITECTURE == "arm64"
