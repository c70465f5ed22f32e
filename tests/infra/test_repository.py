"""The repository itself: no committed key, config files that declare and hold the right things."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from billing.config import PROJECT_KEYS

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY_SHAPED = re.compile(
    r"(sk|rk|pk)_(live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9+/=]{16,}|AKIA[0-9A-Z]{16}"
    r"|(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])(?=.*aws_secret)",
)
SECRET_CONFIG_KEYS = {"stripe:apiKey", "saas-billing:stripeRuntimeKey", "saas-billing:appSecrets"}
PULUMI_TYPES = {"string", "integer", "boolean", "array"}


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    return [REPO_ROOT / name for name in listed if name and (REPO_ROOT / name).is_file()]


def test_key_pattern_catches_the_shapes_it_is_for() -> None:
    for key in ("sk_test_", "rk_live_", "pk_test_", "whsec_"):
        assert KEY_SHAPED.search(key + "a1B2" * 6)
    assert KEY_SHAPED.search("AKIA" + "ABCDEFGHIJ123456")
    assert not KEY_SHAPED.search('"sk_test_" + "FAKE" * 6')


def test_no_tracked_file_holds_a_key_shaped_string() -> None:
    files = tracked_files()
    assert files, "git ls-files found nothing: the scan would prove nothing"
    for path in files:
        text = path.read_text(errors="ignore")
        match = KEY_SHAPED.search(text)
        assert match is None, f"{path.relative_to(REPO_ROOT)} holds a key-shaped string"


def stack_file_problems(text: str) -> list[str]:
    """What a stack file must never hold: a plaintext Stripe key or a key-shaped value.

    Encrypted values (`secure: v1:...`), which `pulumi config set --secret` writes, are fine:
    they are how Pulumi keeps a stack's secrets, and a user who followed the README has them.
    """
    problems = []
    config = (yaml.safe_load(text) or {}).get("config") or {}
    for key, value in config.items():
        if re.search(r"(sk|rk|pk)_(live|test)_|whsec_", json.dumps(value)):
            problems.append(f"{key} holds a key-shaped value")
        encrypted = '"secure"' in json.dumps(value)
        if key in SECRET_CONFIG_KEYS and not encrypted:
            problems.append(f"{key} is not encrypted")
    return problems


def test_stack_files_hold_no_plaintext_secret_or_key_shaped_value() -> None:
    stack_files = sorted(REPO_ROOT.glob("Pulumi.*.yaml"))
    assert {p.name for p in stack_files} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}
    for path in stack_files:
        assert stack_file_problems(path.read_text()) == [], path.name
    prod = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert prod["saas-billing:production"] is True


def test_a_stack_file_set_up_as_the_readme_says_passes_and_a_plain_key_does_not() -> None:
    configured = (REPO_ROOT / "Pulumi.dev.yaml").read_text() + (
        "  stripe:apiKey:\n    secure: v1:c2FsdA==:Y2lwaGVy\n"
        "  saas-billing:appSecrets:\n    twilio_sid:\n      secure: v1:c2FsdA==:bW9yZQ==\n"
    )
    assert stack_file_problems(configured) == []
    plain = (REPO_ROOT / "Pulumi.dev.yaml").read_text() + "  stripe:apiKey: sk_test_x\n"
    assert stack_file_problems(plain) == [
        "stripe:apiKey holds a key-shaped value",
        "stripe:apiKey is not encrypted",
    ]


def test_pulumi_yaml_declares_every_project_key_with_a_description() -> None:
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["main"] == "infra/"
    declared = project["config"]
    assert set(declared) == set(PROJECT_KEYS)
    for key, spec in declared.items():
        assert spec.get("description"), key
        assert ":" not in key, "only the project's own keys may be declared"
        if "type" in spec:
            assert spec["type"] in PULUMI_TYPES, key


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make test" in ci
    assert "make test" in readme and "make plan" in readme


def test_no_file_cites_a_document_the_repository_lacks() -> None:
    document = re.compile(r"\b([A-Za-z_][\w./-]*\.md)\b")
    link = re.compile(r"\]\((?!https?:|#)([^)#\s]+)")  # Markdown links, in Markdown only
    for path in tracked_files():
        if path.suffix not in {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".sh"}:
            continue
        cited = (
            re.compile(f"{document.pattern}|{link.pattern}") if path.suffix == ".md" else document
        )
        for match in cited.finditer(path.read_text(errors="ignore")):
            name = match.group(1) or match.group(match.lastindex or 1)
            candidates = [path.parent / name, REPO_ROOT / name]
            assert any(c.exists() for c in candidates), (
                f"{path.relative_to(REPO_ROOT)} cites {name}, which is not in the repository"
            )


#: A function of the program longer than this is two ideas: split it (and ruff's C901 caps its
#: complexity at 10).
MAX_PROGRAM_FUNCTION_LINES = 60


def test_the_programs_functions_stay_short() -> None:
    import ast

    long = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({size} lines)"
        for path in (REPO_ROOT / "infra").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
        and (size := (node.end_lineno or node.lineno) - node.lineno + 1)
        > MAX_PROGRAM_FUNCTION_LINES
    ]
    assert long == []
