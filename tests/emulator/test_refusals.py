"""Each leniency the old emulator had is refused now, the way Stripe refuses it."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
import requests
import stripe

from tests.emulator.conftest import fake_test_key, monthly_price
from tools.local.stripe_emulator import StripeFake, router


def raw(
    emulator: StripeFake, method: str, path: str, data: Any = None, **headers: str
) -> requests.Response:
    return requests.request(
        method,
        emulator.base_url + path,
        data=data,
        params=data if method == "GET" else None,
        headers={"Authorization": f"Bearer {fake_test_key()}", **headers},
        timeout=10,
    )


def loose(**params: Any) -> Any:
    """Params as a caller may send them, right or wrong (the emulator is the judge)."""
    return params


def error_of(answer: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) == {"type", "code", "param", "message", "doc_url"}, error
    return error


def checkout_params(price: str, customer: str, **more: Any) -> Any:
    return {
        "mode": "subscription",
        "customer": customer,
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": "https://app.example.test/done?session_id={CHECKOUT_SESSION_ID}",
        **more,
    }


def test_an_unknown_parameter_is_parameter_unknown(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create(params=loose(email="a@example.test", colour="blue"))
    assert refused.value.code == "parameter_unknown"
    assert refused.value.param == "colour"


def test_a_nested_unknown_parameter_names_its_path(client: stripe.StripeClient) -> None:
    price = monthly_price(client)
    customer = client.v1.customers.create().id
    params = checkout_params(price, customer, subscription_data={"metadata": {}, "colour": "x"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(params=params)
    assert refused.value.param == "subscription_data[colour]"


def test_ui_mode_hosted_is_not_a_mode_of_this_version(client: stripe.StripeClient) -> None:
    price = monthly_price(client)
    customer = client.v1.customers.create().id
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(
            params=checkout_params(price, customer, ui_mode="hosted")
        )
    assert refused.value.param == "ui_mode"
    assert "hosted_page" in str(refused.value.user_message)


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 500}, "limit"), ({"status": "bogus"}, "status"), ({"limit": 0}, "limit")],
)
def test_list_params_out_of_range_or_enum_are_refused(
    client: stripe.StripeClient, params: Any, param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.list(params=params)
    assert refused.value.param == param


def test_a_missing_required_parameter_is_parameter_missing(emulator: StripeFake) -> None:
    answer = raw(emulator, "POST", "/v1/prices", {"currency": "usd", "unit_amount": "100"})
    assert answer.status_code == 400
    error = error_of(answer)
    assert (error["code"], error["type"]) == ("parameter_missing", "invalid_request_error")
    assert error["doc_url"].endswith("/parameter-missing")


def test_an_unknown_route_is_unrecognized(emulator: StripeFake) -> None:
    answer = raw(emulator, "GET", "/v1/nothing_here")
    assert answer.status_code == 404
    assert error_of(answer)["message"].startswith(
        "Unrecognized request URL (GET: /v1/nothing_here)"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/v1/checkout/sessions/cs_test_nope",
        "/v1/invoices/in_nope",
        "/v1/subscriptions/sub_nope",
        "/v1/customers/cus_nope",
        "/v1/prices/price_nope",
        "/v1/test_helpers/test_clocks/clock_nope",
        "/v1/events/evt_nope",
        "/v1/webhook_endpoints/we_nope",
        "/v1/coupons/nope",
    ],
)
def test_a_missing_object_is_resource_missing(emulator: StripeFake, path: str) -> None:
    answer = raw(emulator, "GET", path)
    assert answer.status_code == 404
    error = error_of(answer)
    assert error["code"] == "resource_missing"
    assert path.rsplit("/", 1)[1] in error["message"]


def test_an_unknown_starting_after_is_a_400_not_a_crash(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.events.list(params={"starting_after": "evt_unknown"})
    assert refused.value.param == "starting_after"


def test_a_live_key_never_authenticates(emulator: StripeFake) -> None:
    live = stripe.StripeClient("sk_live_" + "FAKE" * 6, base_addresses={"api": emulator.base_url})
    with pytest.raises(stripe.AuthenticationError):
        live.v1.customers.list()


def test_a_paid_session_cannot_be_paid_again(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    price = monthly_price(client)
    customer = client.v1.customers.create().id
    session = client.v1.checkout.sessions.create(params=checkout_params(price, customer))
    assert (
        raw(emulator, "POST", f"/_emulator/checkout/sessions/{session.id}/pay").status_code == 200
    )
    again = raw(emulator, "POST", f"/_emulator/checkout/sessions/{session.id}/pay")
    assert again.status_code == 400
    assert "complete" in error_of(again)["message"]
    page = requests.get(str(session.url), timeout=10)
    assert page.status_code == 400 and "cannot be paid" in page.text
    assert len(client.v1.subscriptions.list(params={"customer": customer}).data) == 1


def test_an_expired_session_cannot_be_paid_nor_expired_again(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    price = monthly_price(client)
    session = client.v1.checkout.sessions.create(
        params=checkout_params(price, client.v1.customers.create().id)
    )
    assert client.v1.checkout.sessions.expire(session.id).status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)
    assert (
        raw(emulator, "POST", f"/_emulator/checkout/sessions/{session.id}/pay").status_code == 400
    )


def test_a_declined_card_is_a_card_error_and_changes_nothing(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    price = monthly_price(client)
    customer = client.v1.customers.create().id
    session = client.v1.checkout.sessions.create(params=checkout_params(price, customer))
    answer = raw(
        emulator,
        "POST",
        f"/_emulator/checkout/sessions/{session.id}/pay",
        {"payment_method": "pm_card_chargeDeclined"},
    )
    assert answer.status_code == 402
    assert error_of(answer)["type"] == "card_error"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_a_key_on_another_endpoint_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    client.v1.customers.create(
        params={"email": "a@example.test"}, options={"idempotency_key": "k-1"}
    )
    with pytest.raises(stripe.IdempotencyError):
        client.v1.products.create(params={"name": "Pro"}, options={"idempotency_key": "k-1"})


def test_a_replay_answers_the_first_result_and_says_so(emulator: StripeFake) -> None:
    first = raw(
        emulator, "POST", "/v1/customers", {"email": "a@example.test"}, **{"Idempotency-Key": "k-2"}
    )
    again = raw(
        emulator, "POST", "/v1/customers", {"email": "a@example.test"}, **{"Idempotency-Key": "k-2"}
    )
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_keys_expire_after_24_hours_of_emulator_time(emulator: StripeFake) -> None:
    first = raw(
        emulator, "POST", "/v1/customers", {"email": "a@example.test"}, **{"Idempotency-Key": "k-3"}
    )
    emulator.travel(24 * 3600 + 1)
    later = raw(
        emulator, "POST", "/v1/customers", {"email": "a@example.test"}, **{"Idempotency-Key": "k-3"}
    )
    assert later.json()["id"] != first.json()["id"]


def test_a_request_while_its_key_is_in_flight_is_a_409(
    emulator: StripeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, running = threading.Event(), threading.Event()
    index, slow = next(
        (n, r)
        for n, r in enumerate(router.ROUTES)
        if r.segments == ("v1", "customers") and r.method == "POST"
    )

    def still_running(call: router.Call) -> dict[str, Any]:
        running.set()
        release.wait(10)  # the first request is still going through inside Stripe
        return slow.handler(call)

    routes = list(router.ROUTES)
    routes[index] = dataclasses.replace(slow, handler=still_running)
    monkeypatch.setattr(router, "ROUTES", routes)
    answers: list[requests.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(
            raw(emulator, "POST", "/v1/customers", {}, **{"Idempotency-Key": "k-4"})
        )
    )
    first.start()
    assert running.wait(10)
    second = raw(emulator, "POST", "/v1/customers", {}, **{"Idempotency-Key": "k-4"})
    release.set()
    first.join(10)
    assert second.status_code == 409
    assert error_of(second)["type"] == "idempotency_error"
    assert answers[0].status_code == 200
    replay = raw(emulator, "POST", "/v1/customers", {}, **{"Idempotency-Key": "k-4"})
    assert replay.json()["id"] == answers[0].json()["id"]


def test_a_failed_validation_saves_no_idempotent_result(emulator: StripeFake) -> None:
    refused = raw(emulator, "POST", "/v1/customers", {"colour": "x"}, **{"Idempotency-Key": "k-5"})
    assert refused.status_code == 400
    accepted = raw(
        emulator, "POST", "/v1/customers", {"email": "a@example.test"}, **{"Idempotency-Key": "k-5"}
    )
    assert accepted.status_code == 200
