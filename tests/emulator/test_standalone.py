"""`python -m tools.local.stripe_emulator --port N`: any Stripe client, stocked through the API."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import stripe

from tests.emulator.conftest import fake_test_key
from tests.local.test_serve import shell_environment
from tools.harness import REPO_ROOT


@pytest.fixture
def standalone() -> Iterator[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.local.stripe_emulator",
            "--port",
            "0",
            "--account-api-version",
            "2024-06-20",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_it_serves_any_test_key_and_refuses_a_live_one(standalone: str) -> None:
    client = stripe.StripeClient(fake_test_key(), base_addresses={"api": standalone})
    product = client.v1.products.create(params={"name": "Pro"})
    other = stripe.StripeClient("sk_test_" + "OTHER" * 5, base_addresses={"api": standalone})
    assert other.v1.products.retrieve(product.id).name == "Pro"  # one account, any test key
    live = stripe.StripeClient("sk_live_" + "FAKE" * 6, base_addresses={"api": standalone})
    with pytest.raises(stripe.AuthenticationError):
        live.v1.products.list()


def test_events_list_in_the_accounts_version(standalone: str) -> None:
    client = stripe.StripeClient(fake_test_key(), base_addresses={"api": standalone})
    client.v1.customers.create(params={"email": "a@example.test"})
    (event,) = client.v1.events.list().data
    assert (event.type, event.api_version) == ("customer.created", "2024-06-20")


def test_make_has_a_target_for_it() -> None:
    dry = subprocess.run(
        ["make", "-n", "stripe-emulator", "STRIPE_PORT=4242"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=shell_environment(),
    )
    assert "-m tools.local.stripe_emulator --port 4242" in dry.stdout
