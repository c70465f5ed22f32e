"""The two emulators on free loopback ports: moto's server (AWS) and the Stripe fake."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.server import ThreadedMotoServer

from tools.local import moto_patches
from tools.local.stripe_emulator import StripeFake


def aws_client(service: str, endpoint: str, region: str = "us-east-1") -> Any:
    """A boto3 client for moto's server at `endpoint`, with its fake credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@contextmanager
def running_moto() -> Iterator[str]:
    """moto's threaded server on 127.0.0.1; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_patches.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its backends per process: a new server starts from an empty account.
    urllib.request.urlopen(
        urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"), timeout=10
    ).close()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def running_stripe_fake() -> Iterator[StripeFake]:
    fake = StripeFake().start()
    try:
        yield fake
    finally:
        fake.stop()
