"""The harness (`tools.harness`) as the handler tests use it: every handler a test loads answers
through `openapi.checked`, so a response outside openapi.yaml fails the test that caused it."""

from __future__ import annotations

from types import ModuleType

from tests.support import openapi
from tools import harness
from tools.harness import (
    ANNUAL_PRICE,
    MONTHLY_PRICE,
    PRO_ANNUAL_PRICE,
    PRO_FEATURES,
    PRO_MONTHLY_PRICE,
    PRO_TRIAL_DAYS,
    REGION,
    STACK_ID,
    TEAM_FEATURES,
    TEAM_MONTHLY_PRICE,
    BillingWorld,
    body,
    catalog_document,
    deploy_world,
    fake_key,
    fake_webhook_secret,
    reset_runtime_caches,
)

__all__ = [
    "ANNUAL_PRICE",
    "MONTHLY_PRICE",
    "PRO_ANNUAL_PRICE",
    "PRO_FEATURES",
    "PRO_MONTHLY_PRICE",
    "PRO_TRIAL_DAYS",
    "REGION",
    "STACK_ID",
    "TEAM_FEATURES",
    "TEAM_MONTHLY_PRICE",
    "BillingWorld",
    "body",
    "catalog_document",
    "deploy_world",
    "fake_key",
    "fake_webhook_secret",
    "load_function",
    "reset_runtime_caches",
]


def load_function(function_dir: str, module: str = "handler") -> ModuleType:
    """A fresh handler module whose every answer is checked against openapi.yaml."""
    return harness.load_function(function_dir, module, wrap_handler=openapi.checked)
