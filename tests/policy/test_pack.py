"""policy/__main__.py builds the pack from every rule (PolicyPack is recorded, not served)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, runpy, sys
import pulumi_policy
built = []
class RecordingPack:
    def __init__(self, name, policies, **kwargs):
        built.append({"name": name, "policies": [p.name for p in policies],
                      "levels": sorted({str(p.enforcement_level) for p in policies})})
pulumi_policy.PolicyPack = RecordingPack
runpy.run_path(sys.argv[1], run_name="__main__")
print(json.dumps(built))
"""


def test_the_pack_enforces_every_rule_as_mandatory() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO_ROOT / "policy")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    (pack,) = json.loads(result.stdout)
    assert pack["name"] == "saas-billing-guardrails"
    assert sorted(pack["policies"]) == sorted(
        [
            "lambda-environment-has-no-secrets",
            "secret-keeps-a-recovery-window",
            "secret-read-is-never-wildcard",
            "webhook-endpoint-is-pinned",
            "table-has-point-in-time-recovery",
            "api-domain-uses-tls-1-2",
            "sqs-queue-is-encrypted",
            "stack-outputs-hold-no-keys",
            "every-function-has-an-errors-alarm",
            "event-source-queue-has-a-dead-letter-queue",
        ]
    )
    assert pack["levels"] == ["EnforcementLevel.MANDATORY"]
    yaml_text = (REPO_ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    assert "runtime:" in yaml_text and "python" in yaml_text
