"""`make up|preview|destroy`: checks before a real deploy, and the exact pulumi command it runs.

A fake `pulumi` (and, where a test needs one, a fake `aws`) on PATH records every call, so the
script runs end to end without a cloud account.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "pulumi.sh"
ACCOUNT = "123456789012"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the script reads: itself and the stack files."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "scripts" / "pulumi.sh")
    for stack_file in REPO_ROOT.glob("Pulumi*.yaml"):
        shutil.copy(stack_file, root / stack_file.name)
    return root


def fake_tools(tmp_path: Path, aws_account: str | None = ACCOUNT) -> str:
    """A PATH with a recording `pulumi` and, unless None, an `aws` that knows `aws_account`."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    pulumi = folder / "pulumi"
    pulumi.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = version ]; then echo "${FAKE_PULUMI_VERSION:-v3.272.0}"; exit 0; fi\n'
        f'echo "$@" >> {tmp_path}/calls\n'
        'if [ "$1 $2 $3" = "config get aws:region" ]; then echo eu-west-1; fi\n'
        "exit 0\n"
    )
    pulumi.chmod(0o755)
    if aws_account is not None:
        aws = folder / "aws"
        aws.write_text(f"#!/bin/sh\necho {aws_account}\n")
        aws.chmod(0o755)
    return f"{folder}:/usr/bin:/bin"


def run(
    repo: Path, *args: str, path: str = "/usr/bin:/bin", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "scripts" / "pulumi.sh"), *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=repo,
        env={"HOME": str(repo.parent), "PATH": path, **env},
    )  # fmt: skip


def calls(tmp_path: Path) -> list[str]:
    record = tmp_path / "calls"
    return record.read_text().splitlines() if record.exists() else []


PASSPHRASE = {"PULUMI_CONFIG_PASSPHRASE": "test-passphrase"}


def test_a_missing_cli_is_a_clear_error(repo: Path) -> None:
    result = run(repo, "up", "dev")
    assert result.returncode == 1
    assert "the Pulumi CLI is not installed" in result.stderr


def test_a_missing_passphrase_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    result = run(repo, "up", "dev", path=fake_tools(tmp_path))
    assert result.returncode == 1
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert calls(tmp_path) == [], "nothing may run before the checks pass"


def test_missing_aws_credentials_are_a_clear_error(repo: Path, tmp_path: Path) -> None:
    path = fake_tools(tmp_path, aws_account=None)
    failing_aws = tmp_path / "bin" / "aws"
    failing_aws.write_text("#!/bin/sh\necho 'Unable to locate credentials' >&2\nexit 255\n")
    failing_aws.chmod(0o755)
    result = run(repo, "up", "dev", path=path, **PASSPHRASE)
    assert result.returncode == 1
    assert "no AWS credentials" in result.stderr
    assert not [c for c in calls(tmp_path) if c.startswith("stack ")], (
        "no stack may be selected or created before AWS credentials are known to work"
    )
    assert not [c for c in calls(tmp_path) if c.startswith("up")], "no up without credentials"


def test_up_runs_the_policy_pack_and_passes_extra_arguments(repo: Path, tmp_path: Path) -> None:
    result = run(repo, "up", "staging", "--yes", "--skip-preview", path=fake_tools(tmp_path),
                 **PASSPHRASE)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path)[-1] == "up --stack staging --policy-pack policy --yes --skip-preview"


def test_preview_runs_the_policy_pack(repo: Path, tmp_path: Path) -> None:
    result = run(repo, "preview", "dev", "--diff", path=fake_tools(tmp_path), **PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path)[-1] == "preview --stack dev --policy-pack policy --diff"


def test_destroy_runs_the_program_so_the_archiving_hooks_run(repo: Path, tmp_path: Path) -> None:
    result = run(repo, "destroy", "dev", "--yes", path=fake_tools(tmp_path), **PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path)[-1] == "destroy --stack dev --run-program --yes"


def test_it_says_which_account_and_region_it_deploys_to(repo: Path, tmp_path: Path) -> None:
    result = run(repo, "up", "dev", path=fake_tools(tmp_path), **PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert f"AWS account {ACCOUNT}, region eu-west-1" in result.stderr


def test_a_kms_secrets_provider_and_an_s3_backend_need_no_passphrase(
    repo: Path, tmp_path: Path
) -> None:
    stack_file = repo / "Pulumi.dev.yaml"
    stack_file.write_text(
        "secretsprovider: awskms://alias/billing?region=us-east-1\n" + stack_file.read_text()
    )
    backend = "s3://billing-state-bucket"
    result = run(repo, "up", "dev", path=fake_tools(tmp_path), PULUMI_BACKEND_URL=backend)
    assert result.returncode == 0, result.stderr
    assert f"backend {backend}" in result.stderr
    assert not (repo / ".pulumi-state").exists(), "an explicit backend is used as is"


def test_a_new_stack_gets_the_requested_secrets_provider(repo: Path, tmp_path: Path) -> None:
    failing_select = tmp_path / "bin"
    path = fake_tools(tmp_path)
    pulumi = failing_select / "pulumi"
    pulumi.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = version ]; then echo v3.272.0; exit 0; fi\n'
        f'echo "$@" >> {tmp_path}/calls\n'
        '[ "$1 $2" = "stack select" ] && exit 1\n'
        "exit 0\n"
    )
    provider = "awskms://alias/billing"
    result = run(repo, "up", "dev", path=path, PULUMI_SECRETS_PROVIDER=provider)
    assert result.returncode == 0, result.stderr
    assert f"stack init dev --secrets-provider {provider}" in calls(tmp_path)


def test_a_passphrase_stack_still_needs_its_passphrase(repo: Path, tmp_path: Path) -> None:
    stack_file = repo / "Pulumi.dev.yaml"
    stack_file.write_text("encryptionsalt: v1:c2FsdA==:v1:abc\n" + stack_file.read_text())
    result = run(repo, "up", "dev", path=fake_tools(tmp_path), PULUMI_SECRETS_PROVIDER="awskms://x")
    assert result.returncode == 1
    assert "encrypts its secrets with a passphrase" in result.stderr


def test_make_passes_args_through() -> None:
    result = subprocess.run(
        ["make", "-n", "up", "STACK=staging", "ARGS=--yes --diff"],
        capture_output=True, text=True, cwd=REPO_ROOT, check=True,
    )  # fmt: skip
    assert "bash scripts/pulumi.sh up staging --yes --diff" in result.stdout.splitlines()


def test_a_cli_too_old_for_resource_hooks_is_refused(repo: Path, tmp_path: Path) -> None:
    path = fake_tools(tmp_path)
    result = run(repo, "up", "dev", path=path, FAKE_PULUMI_VERSION="v3.181.0", **PASSPHRASE)
    assert result.returncode == 1
    assert "3.181.0 is too old" in result.stderr and "3.182.0" in result.stderr
    assert calls(tmp_path) == []
    assert (
        run(repo, "up", "dev", path=path, FAKE_PULUMI_VERSION="v3.182.0", **PASSPHRASE).returncode
        == 0
    )
