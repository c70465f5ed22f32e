"""The emulator's schema module: Stripe's form decoding and request validation.

The encodings decoded here are stripe-python's own (its encoder, and a StripeClient whose HTTP
client records what it would send); the expected types come from stripe-python's params classes.
"""

from __future__ import annotations

import importlib
import json
import pickle
import pkgutil
import typing
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import stripe
import stripe.params
import typing_extensions
from stripe._api_version import _ApiVersion
from stripe._encode import _api_encode

from tools.local.stripe_emulator import schema as stripe_schema
from tools.local.stripe_emulator.schema import StripeError, decode_form, params_class, validate

SESSION = "checkout.SessionCreateParams"


def encode(params: Mapping[str, Any]) -> str:
    """What stripe-python's requestor writes for a v1 body or query string."""
    text = urlencode(list(_api_encode(params)))
    return text.replace("%5B", "[").replace("%5D", "]")


def decode(text: str) -> dict[str, Any]:
    return decode_form(parse_qsl(text, keep_blank_values=True))


def as_form_strings(value: Any) -> Any:
    """A params value as the form carries it: every scalar a string, bools lower case."""
    if isinstance(value, Mapping):
        return {k: as_form_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_form_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def refused(dotted: str, params: Mapping[str, Any]) -> StripeError:
    with pytest.raises(StripeError) as caught:
        validate(params_class(dotted), decode(encode(params)))
    return caught.value


def _typed_dict_in(hint: Any) -> Any:
    """The TypedDict a hint is or holds (`NotRequired[Literal[""] | SomeParams]`)."""
    pending = [hint]
    while pending:
        current = pending.pop(0)
        if isinstance(current, type) and typing_extensions.is_typeddict(current):
            return current
        pending.extend(typing.get_args(current))
    raise AssertionError(f"no TypedDict in {hint!r}")


def literal_values(dotted: str, *path: str) -> set[str]:
    """The Literal strings stripe-python types a field with (following nested TypedDicts)."""
    hint: Any = params_class(dotted)
    for key in path:
        # RequestOptions' own hints need its module (and StripeContext, a type-checking import).
        options = {**vars(importlib.import_module("stripe._request_options")), "StripeContext": str}
        hints = typing.get_type_hints(_typed_dict_in(hint), localns=options, include_extras=True)
        hint = hints[key]
    found: set[str] = set()
    pending = [hint]
    while pending:
        current = pending.pop()
        if typing.get_origin(current) is typing.Literal:
            found.update(typing.get_args(current))
        else:
            pending.extend(typing.get_args(current))
    return found


class Recorder(stripe.HTTPClient):
    """stripe-python's HTTP client seam: keeps each request and answers a canned body."""

    name: ClassVar[str] = "recorder"

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer
        self.sent: list[tuple[str, str, Any]] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        self.sent.append((method, url, post_data))
        return json.dumps(self.answer), 200, {}

    def close(self) -> None:
        pass


def client(answer: dict[str, Any]) -> tuple[stripe.StripeClient, Recorder]:
    recorder = Recorder(answer)
    return stripe.StripeClient("sk_test_schema", http_client=recorder, max_network_retries=0), (
        recorder
    )


# --- decoding ------------------------------------------------------------------------------------


def test_the_pinned_api_version_is_stripe_pythons() -> None:
    assert stripe_schema.API_VERSION == _ApiVersion.CURRENT == "2026-10-28.endive"


NESTED: dict[str, Any] = {
    "line_items": [
        {"price": "price_1", "quantity": 2, "tax_rates": ["txr_1", "txr_2"]},
        {"price_data": {"currency": "usd", "unit_amount": 500, "product": "prod_1"}},
    ],
    "expand": ["subscription", "customer"],
    "metadata": {"order": "42", "0": "numeric key", "blank": ""},
    "allow_promotion_codes": True,
    "subscription_data": {"trial_period_days": 7, "metadata": {"plan": "pro"}},
    "consent_collection": {"terms_of_service": "required"},
    "discounts": [{"coupon": "co_1"}],
    "grid": [["a", "b"], ["c"]],
    "flag": False,
}


def test_decoding_inverts_stripe_pythons_encoder() -> None:
    text = encode(NESTED)
    assert "line_items[0][price]=price_1" in text  # stripe-python's indexed form, unescaped
    decoded = decode(text)
    assert decoded == as_form_strings(NESTED)
    assert isinstance(decoded["line_items"], list)
    assert isinstance(decoded["expand"], list)
    assert decoded["flag"] == "false"
    assert decoded["metadata"]["blank"] == ""


def test_decoding_what_a_stripe_client_sends_for_a_post() -> None:
    stripe_client, recorder = client({"id": "cs_test_1", "object": "checkout.session"})
    params = {key: NESTED[key] for key in ("line_items", "expand", "metadata")}
    stripe_client.v1.checkout.sessions.create(params={**params, "mode": "payment"})  # type: ignore[arg-type]
    method, url, body = recorder.sent[-1]
    assert (method, urlsplit(url).path) == ("post", "/v1/checkout/sessions")
    assert decode(body) == as_form_strings({**params, "mode": "payment"})


def test_decoding_what_a_stripe_client_sends_as_a_query() -> None:
    stripe_client, recorder = client({"object": "list", "data": [], "has_more": False, "url": "/"})
    params: dict[str, Any] = {
        "limit": 3,
        "status": "all",
        "created": {"gte": 1700000000},
        "expand": ["data.customer"],
    }
    stripe_client.v1.subscriptions.list(params=params)  # type: ignore[arg-type]
    method, url, body = recorder.sent[-1]
    assert (method, body) == ("get", None)
    query = urlsplit(url).query
    assert decode(query) == as_form_strings(params)
    assert validate(params_class("SubscriptionListParams"), decode(query)) == params


def test_a_valid_request_comes_back_as_stripe_python_was_given_it() -> None:
    """validate(decode(encode(p))) == p: decoding and coercion invert stripe-python's encoding."""
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": "price_1", "quantity": 2, "tax_rates": ["txr_1"]}],
        "subscription_data": {"trial_period_days": 14, "metadata": {"plan": "pro", "0": "x"}},
        "allow_promotion_codes": False,
        "metadata": {"7": "numeric keys stay a hash"},
        "success_url": "https://example.test/ok",
        "expand": ["subscription"],
    }
    stripe_client, recorder = client({"id": "cs_test_1", "object": "checkout.session"})
    stripe_client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    assert validate(params_class(SESSION), decode(recorder.sent[-1][2])) == params


def test_rack_style_brackets_and_blank_values() -> None:
    decoded = decode(
        "expand[]=a&expand[]=b&items[][price]=p1&items[][quantity]=1&items[][price]=p2"
        "&metadata[k]=&description="
    )
    assert decoded == {
        "expand": ["a", "b"],
        "items": [{"price": "p1", "quantity": "1"}, {"price": "p2"}],
        "metadata": {"k": ""},
        "description": "",
    }
    assert decode("items[1][price]=b&items[0][price]=a")["items"] == [
        {"price": "a"},
        {"price": "b"},
    ]


@pytest.mark.parametrize("text", ["a=1&a[b]=2", "a[b]=2&a=1", "a[b][c]=1&a[b]=2"])
def test_a_key_both_value_and_hash_is_refused(text: str) -> None:
    with pytest.raises(StripeError) as caught:
        decode(text)
    assert (caught.value.status, caught.value.type) == (400, "invalid_request_error")
    assert caught.value.param in {"a", "a[b]"}


# --- checkout.SessionCreateParams -----------------------------------------------------------------

VALID_SESSION: dict[str, Any] = {
    "mode": "subscription",
    "line_items": [{"price": "price_1", "quantity": 1}],
    "subscription_data": {"metadata": {"tenant": "t_1"}, "trial_period_days": 30},
    "allow_promotion_codes": True,
    "success_url": "https://example.test/ok",
    "cancel_url": "https://example.test/cancel",
}


def test_a_subscription_mode_session_passes_coerced() -> None:
    decoded = decode(encode(VALID_SESSION))
    assert decoded["subscription_data"]["trial_period_days"] == "30"
    coerced = validate(params_class(SESSION), decoded)
    assert coerced == VALID_SESSION
    assert type(coerced["subscription_data"]["trial_period_days"]) is int
    assert coerced["allow_promotion_codes"] is True
    assert type(coerced["line_items"]) is list


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"not_a_param": "x"}, "not_a_param"),
        ({"subscription_data": {"foo": "1"}}, "subscription_data[foo]"),
        ({"line_items": [{"price": "p", "colour": "red"}]}, "line_items[0][colour]"),
        ({"api_key": "sk_test_x"}, "api_key"),  # RequestOptions are client options, not params
        ({"idempotency_key": "k"}, "idempotency_key"),
    ],
)
def test_unknown_parameters_are_refused(extra: dict[str, Any], param: str) -> None:
    error = refused(SESSION, {**VALID_SESSION, **extra})
    assert (error.status, error.code, error.param) == (400, "parameter_unknown", param)
    assert error.message == f"Received unknown parameter: {param}"


def test_a_ui_mode_outside_the_literal_is_refused() -> None:
    allowed = literal_values(SESSION, "ui_mode")
    assert "hosted" not in allowed and "hosted_page" in allowed
    error = refused(SESSION, {**VALID_SESSION, "ui_mode": "hosted"})
    assert (error.status, error.param, error.type) == (400, "ui_mode", "invalid_request_error")
    assert error.message.startswith("Invalid ui_mode: must be one of ")
    assert set(error.message.removeprefix("Invalid ui_mode: must be one of ").split(", ")) == {
        f"or {v}" if v == max(allowed) else v for v in allowed
    }
    for value in allowed:
        assert validate(params_class(SESSION), decode(encode({"ui_mode": value}))) == {
            "ui_mode": value
        }


def test_a_quantity_that_is_not_an_integer_is_refused() -> None:
    error = refused(SESSION, {**VALID_SESSION, "line_items": [{"price": "p", "quantity": "abc"}]})
    assert (error.code, error.param, error.message) == (
        "parameter_invalid_integer",
        "line_items[0][quantity]",
        "Invalid integer: abc",
    )


def test_a_line_item_missing_a_required_key_is_refused() -> None:
    price_data = params_class("checkout.SessionCreateParamsLineItemPriceData")
    assert "currency" in price_data.__required_keys__  # type: ignore[attr-defined]
    assert "product" not in price_data.__required_keys__  # type: ignore[attr-defined]
    line_item = {"price_data": {"product": "prod_1", "unit_amount": 500}, "quantity": 1}
    error = refused(SESSION, {**VALID_SESSION, "line_items": [{"price": "p"}, line_item]})
    assert (error.code, error.param) == ("parameter_missing", "line_items[1][price_data][currency]")
    assert error.message == "Missing required param: line_items[1][price_data][currency]."


def test_empty_strings_only_unset_what_can_be_unset() -> None:
    error = refused(SESSION, {**VALID_SESSION, "line_items": [{"price": ""}]})
    assert (error.code, error.param) == ("parameter_invalid_empty", "line_items[0][price]")
    coerced = validate(
        params_class(SESSION), decode(encode({**VALID_SESSION, "metadata": {"gone": ""}}))
    )
    assert coerced["metadata"] == {"gone": ""}


@pytest.mark.parametrize(
    ("extra", "param", "message"),
    [
        ({"allow_promotion_codes": "maybe"}, "allow_promotion_codes", "Invalid boolean: maybe"),
        ({"allow_promotion_codes": "True"}, "allow_promotion_codes", "Invalid boolean: True"),
        ({"line_items": "price_1"}, "line_items", "Invalid array"),
        ({"customer_email": {"a": "b"}}, "customer_email", 'Invalid string: {"a"=>"b"}'),
        ({"subscription_data": "x"}, "subscription_data", "Invalid object"),
    ],
)
def test_wrong_shapes_are_refused_with_their_param(
    extra: dict[str, Any], param: str, message: str
) -> None:
    error = refused(SESSION, {**VALID_SESSION, **extra})
    assert (error.status, error.param, error.message) == (400, param, message)


# --- list params: limit and enums ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"limit": 500}, "limit", "This value must be less than or equal to 100."),
        ({"limit": 0}, "limit", "This value must be greater than or equal to 1."),
        ({"status": "bogus"}, "status", "Invalid status: must be one of "),
        ({"limit": 500, "status": "bogus"}, None, ""),
    ],
)
def test_subscription_list_refusals(
    params: dict[str, Any], param: str | None, message: str
) -> None:
    error = refused("SubscriptionListParams", params)
    assert error.status == 400
    if param is not None:
        assert error.param == param and error.message.startswith(message)


def test_subscription_list_accepts_the_bounds() -> None:
    cls = params_class("SubscriptionListParams")
    for limit in (1, 100):
        assert validate(cls, decode(encode({"limit": limit}))) == {"limit": limit}
    for status in literal_values("SubscriptionListParams", "status"):
        assert validate(cls, decode(encode({"status": status}))) == {"status": status}


def test_error_payload_has_stripes_five_keys() -> None:
    error = refused(SESSION, {**VALID_SESSION, "bogus": "1"})
    body = error.payload()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "param", "message", "doc_url"}
    assert body["error"]["doc_url"] == "https://stripe.com/docs/error-codes/parameter-unknown"
    no_code = StripeError(400, "invalid_request_error", "Invalid array", param="line_items")
    assert no_code.payload()["error"]["doc_url"] is None
    assert str(error) == error.message
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status, copy.type, copy.message, copy.code, copy.param) == (
        error.status, error.type, error.message, error.code, error.param,
    )  # fmt: skip


# --- other classes end to end ---------------------------------------------------------------------


def test_subscription_update() -> None:
    cls = params_class("SubscriptionUpdateParams")
    behaviours = literal_values("SubscriptionUpdateParams", "pause_collection", "behavior")
    params: dict[str, Any] = {
        "cancel_at_period_end": True,
        "items": [{"price": "price_2", "quantity": 3}],
        "proration_behavior": "none",
        "pause_collection": {"behavior": sorted(behaviours)[0]},
        "trial_end": "now",
    }
    assert validate(cls, decode(encode(params))) == params
    assert validate(cls, decode(encode({"trial_end": 1700000000}))) == {"trial_end": 1700000000}
    assert validate(cls, decode("pause_collection=")) == {"pause_collection": ""}  # unset
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"cancel_at_period_end": "yes"}, "cancel_at_period_end"),
        ({"items": [{"price": "p", "quantity": "two"}]}, "items[0][quantity]"),
        ({"proration_behavior": "sometimes"}, "proration_behavior"),
        ({"pause_collection": {"behavior": "nap"}}, "pause_collection[behavior]"),
        ({"pause_collection": {"resumes_at": 5}}, "pause_collection[behavior]"),
        ({"trial_end": "later"}, "trial_end"),
    ]
    for bad, param in refusals:
        assert refused("SubscriptionUpdateParams", bad).param == param


def test_test_clock_create_needs_an_integer_frozen_time() -> None:
    cls = params_class("test_helpers.TestClockCreateParams")
    assert validate(cls, decode(encode({"frozen_time": 1700000000, "name": "c"}))) == {
        "frozen_time": 1700000000,
        "name": "c",
    }
    missing = refused("test_helpers.TestClockCreateParams", {"name": "c"})
    assert (missing.code, missing.param) == ("parameter_missing", "frozen_time")
    invalid = refused("test_helpers.TestClockCreateParams", {"frozen_time": "soon"})
    assert (invalid.code, invalid.param) == ("parameter_invalid_integer", "frozen_time")


def test_billing_meter_create() -> None:
    cls = params_class("billing.MeterCreateParams")
    formula = sorted(literal_values("billing.MeterCreateParams", "default_aggregation", "formula"))
    params: dict[str, Any] = {
        "display_name": "API calls",
        "event_name": "api_call",
        "default_aggregation": {"formula": formula[0]},
        "customer_mapping": {"event_payload_key": "customer", "type": "by_id"},
    }
    assert validate(cls, decode(encode(params))) == params
    missing = refused("billing.MeterCreateParams", {"display_name": "x", "event_name": "y"})
    assert (missing.code, missing.param) == ("parameter_missing", "default_aggregation")
    bad = refused(
        "billing.MeterCreateParams", {**params, "default_aggregation": {"formula": "avg"}}
    )
    assert bad.param == "default_aggregation[formula]"


def test_v2_params_validate_json_bodies() -> None:
    cls = params_class("v2.billing.MeterEventStreamCreateParams")
    assert cls.__module__.startswith("stripe.params.v2.billing")
    body = {"events": [{"event_name": "api_call", "payload": {"value": "1"}}]}
    assert validate(cls, json.loads(json.dumps(body))) == body
    with pytest.raises(StripeError) as caught:
        validate(cls, {"events": [{"payload": {"value": "1"}}]})
    assert caught.value.param == "events[0][event_name]"


def test_every_stripe_params_class_compiles_and_is_cached() -> None:
    compiled = 0
    for info in pkgutil.walk_packages(stripe.params.__path__, "stripe.params."):
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if name.endswith("Params") and typing_extensions.is_typeddict(cls):
                assert stripe_schema._validator(cls) is stripe_schema._validator(cls)
                compiled += 1
    assert compiled > 500


def test_unknown_class_names_are_lookup_errors() -> None:
    with pytest.raises(LookupError):
        params_class("checkout.NoSuchParams")
    assert params_class("stripe.params.SubscriptionUpdateParams") is params_class(
        "SubscriptionUpdateParams"
    )
