"""`make up`: clear failures before `pulumi up` when something a real deploy needs is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "pulumi.sh"


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), "up", "dev"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"HOME": str(tmp_path), "PATH": env.pop("PATH", "/usr/bin:/bin"), **env},
    )  # fmt: skip


def fake_pulumi(tmp_path: Path) -> str:
    """A `pulumi` on PATH that records its arguments and succeeds, for the checks before it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    executable = folder / "pulumi"
    executable.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\nexit 0\n')
    executable.chmod(0o755)
    return f"{folder}:/usr/bin:/bin"


def test_a_missing_cli_is_a_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.returncode == 1
    assert "the Pulumi CLI is not installed" in result.stderr


def test_a_missing_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path, PATH=fake_pulumi(tmp_path))
    assert result.returncode == 1
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert not (tmp_path / "calls").exists(), "nothing may run before the checks pass"


def test_missing_aws_credentials_are_a_clear_error(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        PATH=fake_pulumi(tmp_path),
        PULUMI_CONFIG_PASSPHRASE="test-passphrase",
        PULUMI_BACKEND_URL=f"file://{tmp_path}/state",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    assert result.returncode == 1
    assert "no AWS credentials" in result.stderr
    calls = (tmp_path / "calls").read_text()
    assert "up" not in calls.split(), "pulumi up must not run without credentials"
    assert os.path.exists(REPO_ROOT / "Pulumi.dev.yaml")
