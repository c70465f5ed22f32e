"""Paths anchored to this file: Pulumi runs the program from infra/, so nothing is cwd-relative."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
BUILD_DIR = REPO_ROOT / "build"
