"""The emulators and a deployed stack for the benchmarks (the same set-up the tests use)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

from benchmarks import REPO_ROOT
from tests.support.billing_world import BillingWorld, deploy_world, reset_runtime_caches
from tests.support.stripe_fake import StripeFake

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
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    stripe = StripeFake().start()
    try:
        yield Emulators(f"http://{host}:{port}", stripe)
    finally:
        stripe.stop()
        server.stop()
