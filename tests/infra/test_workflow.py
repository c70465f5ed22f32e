"""The GitHub Actions workflow: valid, and deploying the way the README says a team should."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "deploy.yml"
CHECK = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))  # YAML 1.1 reads `on` as True
    return loaded


def steps_text(job: dict[str, Any]) -> str:
    """Every step's `uses`, `with`, `env` and `run`, as one searchable text."""
    return "\n".join(yaml.safe_dump(step, width=1000) for step in job["steps"])


def test_the_workflow_matches_githubs_schema() -> None:
    result = subprocess.run([*CHECK, str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-24.04", "runs_on: ubuntu"))
    result = subprocess.run([*CHECK, str(broken)], capture_output=True, text=True, check=False)
    assert result.returncode != 0


def test_pull_requests_preview_and_main_deploys_with_the_policy_pack(
    workflow: dict[str, Any],
) -> None:
    assert set(workflow["on"]) == {"pull_request", "push"}
    preview, deploy = workflow["jobs"]["preview"], workflow["jobs"]["deploy"]
    assert "pull_request" in preview["if"] and "refs/heads/main" in deploy["if"]
    assert 'make preview STACK="$PULUMI_STACK"' in steps_text(preview)
    assert 'make up STACK="$PULUMI_STACK" ARGS="--yes' in steps_text(deploy)
    for job in (preview, deploy):
        assert job["needs"] == ["test"]


def test_aws_is_reached_through_oidc_and_no_stored_keys(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    for name in ("preview", "deploy"):
        job = workflow["jobs"][name]
        assert job["permissions"]["id-token"] == "write"
        assert "aws-actions/configure-aws-credentials" in steps_text(job)
        assert "role-to-assume" in steps_text(job)
    assert "AWS_SECRET_ACCESS_KEY" not in WORKFLOW.read_text()


def test_the_stripe_plugin_comes_from_github_with_a_token(workflow: dict[str, Any]) -> None:
    version = "v" + metadata.version("pulumi-stripe")
    assert workflow["env"]["STRIPE_PLUGIN_VERSION"] == version
    for name in ("preview", "deploy"):
        text = steps_text(workflow["jobs"][name])
        assert "pulumi plugin install resource stripe" in text
        assert "--server github://api.github.com/georgegebbett" in text
        assert "secrets.GITHUB_TOKEN" in text


def test_ci_runs_the_readme_test_command(workflow: dict[str, Any]) -> None:
    assert "make test" in steps_text(workflow["jobs"]["test"])
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
