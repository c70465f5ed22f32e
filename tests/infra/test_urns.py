"""An existing stack's next `pulumi up` replaces nothing: every URN the shipped stacks (and a
legacy single-plan stack) declared when these files were recorded is still declared.

The recordings are tests/data/urns/*.json. A change that moves a resource must alias it and
re-record deliberately (the diff then shows exactly which URNs moved).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import plan
from tools.mock_engine import FRONTEND_ORIGIN, PROJECT, base_config, run_program

RECORDED = Path(__file__).resolve().parents[1] / "data" / "urns"
#: What a deployer puts in place of prod's placeholders before its first deploy.
PROD_IDENTITY = {
    f"{PROJECT}:frontendDomain": FRONTEND_ORIGIN,
    f"{PROJECT}:jwtIssuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",
    f"{PROJECT}:jwtAudience": ["4q8fh2e0billingclient"],
}


def declared_urns(stack: str) -> set[str]:
    if stack == "legacy-dev":
        return {r.urn for r in run_program(base_config("dev")).resources}
    config, secret_keys = plan.stack_config(stack)
    if stack == "prod":
        config.update(PROD_IDENTITY)
    recording = run_program(config, stack=stack, secret_keys=tuple(sorted(secret_keys)))
    return {r.urn for r in recording.resources}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "legacy-dev"])
def test_every_recorded_urn_is_still_declared(stack: str) -> None:
    recorded = set(json.loads((RECORDED / f"{stack}.json").read_text()))
    declared = declared_urns(stack)
    assert not recorded - declared, f"{stack} would replace: {sorted(recorded - declared)}"
    assert not declared - recorded, f"{stack} would create: {sorted(declared - recorded)}"
