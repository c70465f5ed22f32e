"""The program's declared stack stood up on the emulators, for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tools.local.emulators import running_moto, running_stripe_fake
from tools.local.stack import REGION, DeployedStack, declared_stack_id
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import base_config, run_program


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """moto's server, one per test module."""
    with running_moto() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[StripeFake]:
    """The Stripe emulator, one per test module."""
    with running_stripe_fake() as fake:
        yield fake


@contextmanager
def deployed_dev_stack(
    moto: str,
    stripe: StripeFake,
    root: Path,
    environment: Mapping[str, str] | None = None,
    config: Mapping[str, str] | None = None,
) -> Iterator[DeployedStack]:
    """The dev stack as the program declares it (with `config` added to Pulumi.dev.yaml's), with
    the emulator stocked like its account."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": REGION}.items():  # fmt: skip
            patch.setenv(name, value)
        recording = run_program({**base_config("dev"), **(config or {})})
        stack = DeployedStack(recording, moto, stripe, root, environment=environment)
        stripe.stock(stack.document, declared_stack_id(recording))
        yield stack
