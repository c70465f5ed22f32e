"""Real Stripe test mode's catalog set-up, run against the emulator (it speaks Stripe's API).

`make serve` with STRIPE_API_KEY finds the stack's prices in the account by their lookup keys,
creates what is missing, and swaps the mocks' ids for the account's, everywhere in the secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import stripe

from tools import plan
from tools.local import real_stripe
from tools.local.stripe_emulator import StripeFake
from tools.mock_engine import Recording, fake_stripe_key, run_program

KEY = fake_stripe_key("sk", "test", "LOCAL")


@pytest.fixture(scope="module")
def dev() -> Recording:
    config, secret_keys = plan.stack_config("dev")
    return run_program(config, secret_keys=tuple(secret_keys))


@pytest.fixture
def account() -> Iterator[StripeFake]:
    emulator = StripeFake().start()
    emulator.state.valid_keys.add(KEY)
    yield emulator
    emulator.stop()


def client_for(emulator: StripeFake) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": emulator.base_url})


def document(recording: Recording) -> dict:
    version = recording.one("aws:secretsmanager/secretVersion:SecretVersion")
    return json.loads(version.inputs["secretString"])


def test_a_fresh_account_gets_the_catalog_created(dev: Recording, account: StripeFake) -> None:
    declared = document(dev)
    resolved = real_stripe.ensure_catalog(client_for(account), dev, declared, "dev-local")
    prices = [o for o in account.state.objects.values() if o.get("object") == "price"]
    assert len(prices) == 7  # basic, pro and team monthly and annual, and api's metered one
    metered = [p for p in prices if p["recurring"]["usage_type"] == "metered"]
    meter = account.state.objects[metered[0]["recurring"]["meter"]]
    assert meter["event_name"] == "dev_saas-billing_api-calls"
    assert {p["lookup_key"] for p in prices} == {
        r.inputs["lookupKey"] for r in dev.of_type("stripe:index/price:Price")
    }
    mock_ids = {r.id for r in dev.of_type("stripe:index/price:Price")}
    assert not mock_ids & set(json.dumps(resolved).split('"')), "no mock id may remain"
    pro = resolved["stripe_catalog"]["plans"][1]
    assert account.state.objects[pro["prices"]["monthly"]["id"]]["unit_amount"] == 2900
    assert resolved["stripe_monthly_price_id"] == resolved["stripe_catalog"]["plans"][0][
        "prices"]["monthly"]["id"]  # fmt: skip
    assert resolved["stripe_portal_configuration_id"] in account.state.objects


def test_a_second_start_reuses_what_the_first_created(dev: Recording, account: StripeFake) -> None:
    first = real_stripe.ensure_catalog(client_for(account), dev, document(dev), "dev-local")
    created = len(account.state.objects)
    second = real_stripe.ensure_catalog(client_for(account), dev, document(dev), "dev-local")
    assert second == first and len(account.state.objects) == created


@pytest.mark.parametrize("key", ["sk_live_" + "FAKE" * 6, "rk_live_" + "FAKE" * 6, "pk_test_x"])
def test_only_test_keys_are_accepted(key: str) -> None:
    with pytest.raises(real_stripe.LiveKeyError):
        real_stripe.check_key(key)
    real_stripe.check_key(KEY)
