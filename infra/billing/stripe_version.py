"""The Stripe API version, read from the Lambdas' own constant so the two never disagree."""

from __future__ import annotations

import ast

from billing.paths import LAMBDAS_DIR


def read_stripe_api_version() -> str:
    """Parse `STRIPE_API_VERSION` out of lambdas/shared/stripe_version.py without importing it."""
    source = (LAMBDAS_DIR / "shared" / "stripe_version.py").read_text()
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "STRIPE_API_VERSION" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise RuntimeError("lambdas/shared/stripe_version.py defines no STRIPE_API_VERSION string")


STRIPE_API_VERSION = read_stripe_api_version()
