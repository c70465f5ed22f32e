"""`make plan`: the program's main job offline, for every stack file in the repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import plan
from tools.mock_engine import REPO_ROOT, Recording, run_program

STACKS = sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", STACKS)
def test_plan_prints_the_stack_and_passes_the_policies(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main(["--stack", stack]) == 0
    out = capsys.readouterr().out
    assert f"{stack}-saas-billing_secrets" in out
    for key in ("stripe_secret_key", "stripe_webhook_secret", "stripe_portal_configuration_id"):
        assert f"  {key}\n" in out
    assert "POST /stripe/webhook" in out and "no JWT" in out
    assert "GET /subscription/prices" in out and "JWT required" in out
    assert "secretsmanager:GetSecretValue on arn:aws:secretsmanager:" in out
    assert "SECRET_ARN=arn:aws:secretsmanager:" in out
    assert "FAIL" not in out and "pass  secret-read-is-never-wildcard" in out
    assert "PLACEHOLDER" not in out and "whsec_" not in out, "no secret value is ever printed"


def test_a_settings_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.bad.yaml").write_text(
        (REPO_ROOT / "Pulumi.dev.yaml").read_text() + "  saas-billing:currency: dollars\n"
    )
    assert plan.main(["--stack", "bad", "--repo-root", str(tmp_path)]) == 2
    assert "currency must be a 3-letter" in capsys.readouterr().err


def test_a_policy_violation_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run_with_a_bad_table(*args: object, **kwargs: object) -> Recording:
        recording = run_program(*args, **kwargs)  # type: ignore[arg-type]
        table = recording.one("aws:dynamodb/table:Table", "users")
        table.inputs["pointInTimeRecovery"] = {"enabled": False}
        return recording

    monkeypatch.setattr(plan, "run_program", run_with_a_bad_table)
    assert plan.main(["--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  table-has-point-in-time-recovery" in out
