"""`make plan`: the program's main job offline, for every stack file in the repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import plan
from tools.mock_engine import PROJECT, REPO_ROOT, Recording, run_program

STACK_FILES = sorted(REPO_ROOT.glob("Pulumi.*.yaml"))
PRODUCTION = "saas-billing:production: true"
STACKS = [p.name.split(".")[1] for p in STACK_FILES if PRODUCTION not in p.read_text()]
PRODUCTION_STACKS = [p.name.split(".")[1] for p in STACK_FILES if PRODUCTION in p.read_text()]
REAL_IDENTITY = {
    "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE": (
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
    ),
    "example-client-id": "4q8fh2e0billingclient",
    "https://app.example.com": "https://app.acme-billing.test",
}


def stack_repo(tmp_path: Path, stack: str, text: str) -> Path:
    """A repository root holding Pulumi.yaml and one stack file with `text`."""
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_starts_on_the_plans_catalog(stack: str) -> None:
    config, _ = plan.stack_config(stack)
    assert len(config[f"{PROJECT}:plans"]) >= 2, f"Pulumi.{stack}.yaml starts a legacy catalog"


def test_there_are_stacks_of_both_kinds() -> None:
    assert {"dev", "staging"} <= set(STACKS) and PRODUCTION_STACKS == ["prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_plan_prints_the_stack_and_passes_the_policies(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main(["--stack", stack]) == 0
    out = capsys.readouterr().out
    assert_full_plan(stack, out)


@pytest.mark.parametrize("stack", PRODUCTION_STACKS)
def test_a_shipped_production_stack_refuses_its_placeholders_until_edited(
    stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main(["--stack", stack]) == 2
    assert "production stack refuses placeholders" in capsys.readouterr().err
    text = (REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()
    for placeholder, real in REAL_IDENTITY.items():
        text = text.replace(placeholder, real)
    assert plan.main(["--stack", stack, "--repo-root", str(stack_repo(tmp_path, stack, text))]) == 0
    assert_full_plan(stack, capsys.readouterr().out)


def assert_full_plan(stack: str, out: str) -> None:
    assert f"{stack}-saas-billing_secrets" in out
    for key in ("stripe_secret_key", "stripe_webhook_secret", "stripe_portal_configuration_id"):
        assert f"  {key}\n" in out
    assert "POST /stripe/webhook" in out and "no JWT" in out
    assert "GET /subscription/prices" in out and "JWT required" in out
    assert "secretsmanager:GetSecretValue on arn:aws:secretsmanager:" in out
    assert "SECRET_ARN=arn:aws:secretsmanager:" in out
    assert "FAIL" not in out and "pass  secret-read-is-never-wildcard" in out
    assert "PLACEHOLDER" not in out and "whsec_" not in out, "no secret value is ever printed"
    assert "pro (Pro): monthly 2900 usd, annual 29000 usd; 14-day trial; reports" in out
    assert "a change of unitAmount, currency, recurring replaces it" in out
    assert "deletionProtectionEnabled: " in out


def test_plan_shows_the_alarm_email_and_deletion_protection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    text += "  saas-billing:alarmEmail: oncall@acme-billing.test\n"
    assert plan.main(["--stack", "dev", "--repo-root", str(stack_repo(tmp_path, "dev", text))]) == 0
    out = capsys.readouterr().out
    assert 'endpoint: "oncall@acme-billing.test"' in out
    assert "deletionProtectionEnabled: false" in out


def test_a_settings_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.bad.yaml").write_text(
        (REPO_ROOT / "Pulumi.dev.yaml").read_text() + "  saas-billing:currency: dollars\n"
    )
    assert plan.main(["--stack", "bad", "--repo-root", str(tmp_path)]) == 2
    assert "currency must be a 3-letter" in capsys.readouterr().err


def test_a_yaml_mistake_is_one_line_naming_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = (REPO_ROOT / "Pulumi.dev.yaml").read_text() + "  saas-billing:currency: [usd\n"
    root = stack_repo(tmp_path, "broken", broken)
    line = len(broken.splitlines())
    assert plan.main(["--stack", "broken", "--repo-root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"Pulumi.broken.yaml:{line + 1}:" in err or f"Pulumi.broken.yaml:{line}:" in err, err


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


def test_app_secrets_set_with_path_reach_the_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text() + (
        "  saas-billing:appSecrets:\n"
        "    twilio_sid:\n"
        "      secure: v1:c2FsdA==:ZW5jcnlwdGVk\n"
        "    gpt:\n"
        "      secure: v1:c2FsdA==:bW9yZQ==\n"
    )
    assert plan.main(["--stack", "dev", "--repo-root", str(stack_repo(tmp_path, "dev", text))]) == 0
    out = capsys.readouterr().out
    assert "  twilio_sid\n" in out and "  gpt\n" in out
    assert "v1:" not in out, "an encrypted value is never printed"


def test_a_stack_configured_as_the_readme_says_plans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secure = "\n    secure: v1:c2FsdA==:Y2lwaGVy\n"
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text() + "".join(
        f"  {key}:{secure}"
        for key in (
            "stripe:apiKey",
            "saas-billing:stripeRuntimeKey",
            "saas-billing:stripePublishableKey",
        )
    )
    assert plan.main(["--stack", "dev", "--repo-root", str(stack_repo(tmp_path, "dev", text))]) == 0
    assert "v1:" not in capsys.readouterr().out


def test_a_plaintext_stripe_key_in_a_stack_file_fails_as_the_program_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk_test_" + "PLAIN" * 5
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text() + f"  stripe:apiKey: {key}\n"
    assert plan.main(["--stack", "dev", "--repo-root", str(stack_repo(tmp_path, "dev", text))]) == 2
    err = capsys.readouterr().err
    assert "stripe:apiKey must be a secret" in err and key not in err


def test_a_typo_in_a_stack_file_names_the_key_it_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text() + "  saas-billing:monthlyAmmount: 1999\n"
    assert plan.main(["--stack", "dev", "--repo-root", str(stack_repo(tmp_path, "dev", text))]) == 2
    assert "did you mean saas-billing:monthlyAmount" in capsys.readouterr().err


def test_the_plan_is_deterministic_and_shows_what_a_reviewer_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = []
    for _ in range(2):
        assert plan.main(["--stack", "dev"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    out = outputs[0]
    assert "unitAmount: 2900\n" in out, "integers print as integers"
    assert 'secretString: "[secret]"' in out
    lines = out.splitlines()
    component = lines.index("  BillingFunction subscription")
    function = next(i for i, line in enumerate(lines) if "Function subscription-function" in line)
    assert function > component and lines[function].startswith("    aws:lambda"), "nested"


def test_the_dev_plan_is_unchanged_apart_from_ordering(capsys: pytest.CaptureFixture[str]) -> None:
    """What `make plan` prints for dev, as recorded in tests/data/plan-dev.sorted.txt (sorted,
    without the archives' content hashes): a restructure changes none of it. An intended change
    re-records the file, and its diff shows what the plan now says differently."""
    assert plan.main(["--stack", "dev"]) == 0
    lines = sorted(
        line for line in capsys.readouterr().out.splitlines() if "sourceCodeHash" not in line
    )
    recorded = (REPO_ROOT / "tests" / "data" / "plan-dev.sorted.txt").read_text().splitlines()
    assert lines == recorded
