"""Shared pytest set-up: import paths for the program, the Lambda code and the policy rules."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for path in (REPO_ROOT / "infra", REPO_ROOT / "lambdas", REPO_ROOT / "policy"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
