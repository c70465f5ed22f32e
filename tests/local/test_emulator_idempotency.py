"""The Stripe emulator's idempotency keys behave as Stripe's: a replay is marked, a key reused
for another request is refused, and stripe-python sees both as it would see Stripe."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import stripe

from tools.harness import fake_key
from tools.local.emulators import running_stripe_fake
from tools.local.stripe_emulator import StripeFake


@pytest.fixture(scope="module")
def emulator() -> Iterator[StripeFake]:
    with running_stripe_fake() as fake:
        fake.state.valid_keys.add(fake_key("sk"))
        yield fake


def post(emulator: StripeFake, path: str, form: str, key: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        emulator.base_url + path,
        data=form.encode(),
        headers={"Authorization": f"Bearer {fake_key('sk')}", "Idempotency-Key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), json.loads(error.read())


def test_a_replay_answers_the_first_result_marked_as_replayed(emulator: StripeFake) -> None:
    status, headers, first = post(emulator, "/v1/customers", "email=a%40acme.test", "key-replay")
    assert status == 200 and "Idempotent-Replayed" not in headers
    status, headers, again = post(emulator, "/v1/customers", "email=a%40acme.test", "key-replay")
    assert status == 200 and again["id"] == first["id"]
    assert headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("path", "form"),
    [("/v1/customers", "email=b%40acme.test"), ("/v1/products", "name=Other")],
    ids=["other-parameters", "other-endpoint"],
)
def test_a_key_reused_for_another_request_is_an_idempotency_error(
    emulator: StripeFake, path: str, form: str
) -> None:
    key = f"key-reuse-{path}"
    assert post(emulator, "/v1/customers", "email=a%40acme.test", key)[0] == 200
    status, _, answer = post(emulator, path, form, key)
    assert status == 400 and answer["error"]["type"] == "idempotency_error"
    client = stripe.StripeClient(fake_key("sk"), base_addresses={"api": emulator.base_url})
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(
            params={"email": "c@acme.test"}, options={"idempotency_key": key}
        )
