"""A bare `pulumi up` fills the virtualenv: the program's pins sit where Pulumi's pip reads them.

The toolchain runs `pip install -r requirements.txt` in the program's folder (Pulumi.yaml's
`main`), not the project root (pulumi/pulumi `sdk/python/toolchain/pip.go`, InstallDependencies
with the program directory as cwd), and resolves `virtualenv` against the project root.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
PROGRAM_DIR = REPO_ROOT / PROJECT["main"]
TEST_TOOLING = {"pytest", "pytest-xdist", "moto", "boto3", "mypy", "ruff", "pulumi-policy"}


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line} is not an exact pin"
        found[canonicalize_name(requirement.name)] = specifier.version
    return found


PROGRAM_PINS = pins(PROGRAM_DIR / "requirements.txt")


def third_party_imports() -> set[str]:
    local = {path.stem for path in PROGRAM_DIR.iterdir()} | {"billing"}
    modules = set()
    for source in PROGRAM_DIR.rglob("*.py"):
        tree = ast.parse(source.read_text())
        # `if TYPE_CHECKING:` imports never run (the contract is loaded from its file).
        type_only = {
            id(child)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
            for statement in node.body
            for child in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules - local if m not in sys.stdlib_module_names and m != "__future__"}


def test_the_program_reads_its_pins_from_its_own_folder() -> None:
    assert PROJECT["main"].rstrip("/") == "infra"
    assert PROJECT["runtime"]["options"] == {"toolchain": "pip", "virtualenv": ".venv"}
    assert "-r infra/requirements.txt" in (REPO_ROOT / "requirements.txt").read_text()


def test_every_module_the_program_imports_is_pinned() -> None:
    imports = third_party_imports()
    assert {"pulumi", "pulumi_aws", "pulumi_stripe", "stripe"} <= imports
    distributions = metadata.packages_distributions()
    for module in imports:
        names = {canonicalize_name(name) for name in distributions.get(module, [module])}
        assert names & set(PROGRAM_PINS), f"{module} is imported by infra/ but not pinned"


def test_the_pins_are_a_complete_closure() -> None:
    """Every dependency of every pinned package is pinned too, at a version it accepts."""
    environment = {"extra": ""}
    for name, version in PROGRAM_PINS.items():
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            dependency = canonicalize_name(requirement.name)
            assert dependency in PROGRAM_PINS, f"{name}=={version} needs {dependency}, unpinned"
            assert requirement.specifier.contains(PROGRAM_PINS[dependency], prereleases=True), (
                f"{name} needs {requirement}, pinned {PROGRAM_PINS[dependency]}"
            )


def test_no_test_tooling_is_installed_for_a_deploy() -> None:
    assert not TEST_TOOLING & set(PROGRAM_PINS)


def test_the_dev_environment_has_the_same_versions() -> None:
    for name, version in PROGRAM_PINS.items():
        assert metadata.version(name) == version, f"{name}: .venv differs from the program pins"
