"""The shape checker the conformance suite runs: it catches each kind of departure."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from stripe._api_version import _ApiVersion

from tools.local.stripe_emulator import spec as stripe_spec
from tools.local.stripe_emulator.spec import response_problems

#: Stripe's published example objects (copied from ../shared/stripe-fixtures).
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "stripe-fixtures"


def _fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def test_subset_is_for_the_pinned_api_version() -> None:
    assert stripe_spec.version() == _ApiVersion.CURRENT


def _clock() -> dict[str, Any]:
    return {
        "id": "clock_123",
        "object": "test_helpers.test_clock",
        "created": 1700000000,
        "deletes_after": 1700600000,
        "frozen_time": 1700000000,
        "livemode": False,
        "name": None,
        "status": "ready",
        "status_details": {},
    }


def test_a_correct_minimal_object_passes() -> None:
    assert response_problems("test_helpers.test_clock", _clock()) == []


def test_an_undeclared_field_is_reported() -> None:
    clock = {**_clock(), "colour": "blue"}
    assert response_problems("test_helpers.test_clock", clock) == [
        "$.colour: not in the spec's schema"
    ]


def test_a_missing_required_field_is_reported() -> None:
    clock = _clock()
    del clock["frozen_time"]
    assert response_problems("test_helpers.test_clock", clock) == [
        "$.frozen_time: required by the spec, missing"
    ]


def test_a_bad_enum_is_reported() -> None:
    problems = response_problems("test_helpers.test_clock", {**_clock(), "status": "frozen"})
    assert len(problems) == 1 and problems[0].startswith("$.status: 'frozen' is not one of")


def test_null_where_not_nullable_is_reported() -> None:
    assert response_problems("test_helpers.test_clock", {**_clock(), "created": None}) == [
        "$.created: null, and the spec's schema is not nullable"
    ]


def test_a_wrong_type_is_reported() -> None:
    problems = response_problems("test_helpers.test_clock", {**_clock(), "created": "soon"})
    assert problems == ["$.created: 'soon' is not of type 'integer'"]


def test_nested_lists_and_expanded_objects_are_checked() -> None:
    subscription = copy.deepcopy(_fixture("subscription"))
    subscription.setdefault("billing_schedules", [])
    item = subscription["items"]["data"][0]
    item["unexpected"] = 1
    item["price"] = {**_fixture("price"), "type": "sometimes"}  # an expanded price
    assert response_problems("subscription", subscription) == [
        "$.items.data[0].price.type: 'sometimes' is not one of the spec's values "
        "['one_time', 'recurring']",
        "$.items.data[0].unexpected: not in the spec's schema",
    ]


def test_expandable_fields_take_an_id_or_the_object() -> None:
    session = _fixture("checkout.session")
    session["ui_mode"] = "hosted_page"
    assert response_problems("checkout.session", {**session, "customer": "cus_1"}) == []
    customer = _fixture("customer")
    assert response_problems("checkout.session", {**session, "customer": customer}) == []


def test_metadata_is_a_map_of_strings() -> None:
    product = _fixture("product")
    assert response_problems("product", {**product, "metadata": {"any": "thing"}}) == []
    assert response_problems("product", {**product, "metadata": {"n": 1}}) == [
        "$.metadata.n: 1 is not of type 'string'"
    ]


def test_unknown_objects_are_refused() -> None:
    with pytest.raises(KeyError):
        response_problems("no.such_object", {})
