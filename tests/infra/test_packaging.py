"""The Lambda archives: reproducible, built for the Lambda platform, without boto3."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from billing.build import bytecode, packaging
from billing.build.packaging import (
    build_function_archive,
    build_layer_archive,
    content_hash,
    read_entries,
    write_archive,
    write_zip,
)
from billing.paths import BUILD_DIR, REPO_ROOT

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
    assert first.directory == second.directory


def sources(root: Path, newline: str) -> list[tuple[Path, str]]:
    folder = root / newline.encode().hex()
    folder.mkdir()
    for name, text in (("handler.py", "import service\nVALUE = 1\n"), ("service.py", "X = 2\n")):
        (folder / name).write_bytes(text.replace("\n", newline).encode())
    return [(folder / "handler.py", "handler.py"), (folder / "service.py", "service.py")]


def test_the_hash_is_of_content_not_of_compressed_bytes(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("".join(f"VALUE_{i} = {i * 7919 % 104729}\n" for i in range(3000)))
    entries = read_entries([(source, "module.py")])
    fast = write_zip(entries, tmp_path / "fast.zip", compresslevel=1)
    small = write_zip(entries, tmp_path / "small.zip", compresslevel=9)
    assert fast.read_bytes() != small.read_bytes(), "a zip-bytes hash would differ here"
    assert content_hash(zipfile_entries(fast)) == content_hash(entries)
    assert content_hash(zipfile_entries(small)) == content_hash(entries)


def zipfile_entries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def test_crlf_sources_give_the_same_archive_and_hash(tmp_path: Path) -> None:
    lf, crlf = tmp_path / "lf", tmp_path / "crlf"
    lf.mkdir()
    crlf.mkdir()
    built = []
    for root, newline in ((lf, "\n"), (crlf, "\r\n")):
        files = sources(root, newline)
        built.append(write_archive(files, root / "function", text_roots=[root]))
    assert built[0].sha256 == built[1].sha256
    assert built[0].path.read_bytes() == built[1].path.read_bytes()
    assert (built[1].directory / "handler.py").read_bytes() == b"import service\nVALUE = 1\n"


def test_the_uploaded_folder_holds_exactly_the_zip_entries() -> None:
    built = build_function_archive("stripe_webhook")
    folder = sorted(
        (p.relative_to(built.directory).as_posix(), p.read_bytes())
        for p in built.directory.rglob("*")
        if p.is_file()
    )
    assert folder == sorted(zipfile_entries(built.path))
    assert content_hash(folder) == built.sha256


def test_a_changed_source_changes_the_hash(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("VALUE = 1\n")
    before = content_hash(read_entries([(source, "module.py")]))
    source.write_text("VALUE = 2\n")
    after = content_hash(read_entries([(source, "module.py")]))
    renamed = content_hash(read_entries([(source, "other.py")]))
    assert len({before, after, renamed}) == 3


def test_the_repository_checks_out_text_with_lf() -> None:
    attributes = (REPO_ROOT / ".gitattributes").read_text().splitlines()
    assert "* text=auto eol=lf" in attributes


def test_layer_holds_stripe_and_shared_code_under_python(layer_names: list[str]) -> None:
    assert "python/stripe/__init__.py" in layer_names
    assert "python/shared/contract.py" in layer_names
    assert all(name.startswith("python/") for name in layer_names)


def test_layer_packs_neither_boto3_nor_a_second_urllib3(layer_names: list[str]) -> None:
    tops = {name.split("/")[1] for name in layer_names}
    assert not {"boto3", "botocore", "s3transfer", "urllib3"} & tops
    assert {"stripe", "requests", "shared"} <= tops


#: CPython 3.12's bytecode magic number (importlib.util.MAGIC_NUMBER on 3.12).
MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"


@pytest.mark.parametrize("archive", ["layer", "subscription", "stripe_webhook"])
def test_every_module_ships_unchecked_hash_bytecode_for_python_312(archive: str) -> None:
    built = build_layer_archive() if archive == "layer" else build_function_archive(archive)
    with zipfile.ZipFile(built.path) as zf:
        names = set(zf.namelist())
        modules = [n for n in names if n.endswith(".py")]
        assert modules
        for module in modules:
            folder, _, file = module.rpartition("/")
            cached = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.cpython-312.pyc"
            assert cached in names, f"{module} has no 3.12 bytecode"
            header = zf.read(cached)[:16]
            assert header[:4] == MAGIC_312, cached
            flags = int.from_bytes(header[4:8], "little")
            assert flags == 0b01, f"{cached} is not an unchecked hash-based pyc"


def test_bytecode_records_the_path_the_module_has_on_lambda() -> None:
    built = build_function_archive("stripe_webhook")
    with zipfile.ZipFile(built.path) as zf:
        data = zf.read("stripe_webhook/__pycache__/handler.cpython-312.pyc")
    assert b"/var/task/stripe_webhook/handler.py" in data
    assert str(BUILD_DIR).encode() not in data, "the build folder must not leak into bytecode"


def test_without_python_312_the_build_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bytecode, "_candidates", lambda: iter(["/nonexistent/python3.12"]))
    with pytest.raises(bytecode.MissingInterpreterError, match=r"pyenv install 3\.12"):
        bytecode.find_runtime_python()


def test_two_fresh_compilations_give_the_same_bytecode(tmp_path: Path) -> None:
    """Bytecode is compiled anew, in parallel worker processes, not read from the cache."""
    vendor = packaging.install_layer_requirements(packaging.LAMBDAS_DIR / "requirements.txt")
    entries = sorted(
        (path.relative_to(vendor).as_posix(), path.read_bytes())
        for path in (vendor / "stripe").rglob("*.py")
    )
    first = bytecode.compile_entries(entries, "/opt/python", tmp_path / "first")
    second = bytecode.compile_entries(entries, "/opt/python", tmp_path / "second")
    assert len(first) == len(entries) > 100
    assert first == second


def test_a_python_312_is_found_here() -> None:
    path, version = bytecode.find_runtime_python()
    assert version.startswith("3.12.") and Path(path).exists()


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


def test_function_archives_hold_the_function_as_a_package_at_the_root() -> None:
    for function in ("subscription", "stripe_webhook", "reconcile"):
        with zipfile.ZipFile(build_function_archive(function).path) as archive:
            names = archive.namelist()
            assert {f"{function}/__init__.py", f"{function}/handler.py"} <= set(names), function


def test_layer_install_targets_the_lambda_runtime() -> None:
    assert packaging.LAMBDA_RUNTIME in {"python3.12", "python3.13"}
    assert packaging.LAMBDA_ARCHITECTURE == "arm64"
