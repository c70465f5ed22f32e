"""The emulators and a deployed stack for the benchmarks (the same set-up the tests use)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks import REPO_ROOT
from tools.harness import BillingWorld, deploy_world, reset_runtime_caches
from tools.local.emulators import running_moto, running_stripe_fake
from tools.local.stripe_emulator import StripeFake

__all__ = ["REPO_ROOT", "Emulators", "emulators"]


@dataclass
class Emulators:
    moto_endpoint: str
    stripe: StripeFake

    def deploy(self) -> tuple[BillingWorld, dict[str, str]]:
        """A fresh stack; the process environment becomes a deployed function's."""
        world, environment = deploy_world(self.moto_endpoint, self.stripe)
        os.environ.update(environment)
        reset_runtime_caches()
        return world, environment


@contextmanager
def emulators() -> Iterator[Emulators]:
    with running_moto() as endpoint, running_stripe_fake() as stripe:
        yield Emulators(endpoint, stripe)
