"""Shared pytest set-up (the import roots are pyproject.toml's `pythonpath`)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
