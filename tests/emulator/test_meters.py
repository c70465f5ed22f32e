"""Meters and usage as stripe-python sends them: v1 events, v2's session and stream, summaries,
identifiers unique for 24 hours, and renewal invoices that bill the period's usage."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe

from tests.emulator.conftest import fake_test_key
from tests.emulator.test_clocks import START, advance, on_clock, period_of, subscribe
from tools.local.stripe_emulator import StripeFake

HOUR = 3600


def meter(client: stripe.StripeClient, event_name: str = "api_calls", formula: str = "sum") -> str:
    params: Any = {
        "display_name": "API calls",
        "event_name": event_name,
        "default_aggregation": {"formula": formula},
        "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
        "value_settings": {"event_payload_key": "value"},
    }
    return client.v1.billing.meters.create(params=params).id


def stream_client(client: stripe.StripeClient, emulator: StripeFake) -> stripe.StripeClient:
    """What the usage function does: a session with the API key, then the stream with its
    token, on the `meter_events` base address."""
    session = client.v2.billing.meter_event_session.create()
    return stripe.StripeClient(
        session.authentication_token,
        base_addresses={"meter_events": emulator.base_url},
        max_network_retries=0,
    )


def event(customer: str, value: str, identifier: str, at: int | None = None) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "event_name": "api_calls",
        "identifier": identifier,
        "payload": {"stripe_customer_id": customer, "value": value},
    }
    if at is not None:
        sent["timestamp"] = datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat()
    return sent


def total(client: stripe.StripeClient, meter_id: str, customer: str, start: int, end: int) -> Any:
    params: Any = {"customer": customer, "start_time": start, "end_time": end}
    summaries = client.v1.billing.meters.event_summaries.list(meter_id, params=params).data
    return [s.aggregated_value for s in summaries]


def test_a_meter_is_created_renamed_deactivated_and_reactivated(
    client: stripe.StripeClient,
) -> None:
    meter_id = meter(client)
    assert client.v1.billing.meters.retrieve(meter_id).status == "active"
    renamed = client.v1.billing.meters.update(meter_id, params={"display_name": "Calls"})
    assert renamed.display_name == "Calls"
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        meter(client)  # an active meter owns its event name
    inactive = client.v1.billing.meters.deactivate(meter_id)
    assert inactive.status == "inactive" and inactive.status_transitions.deactivated_at
    listed = client.v1.billing.meters.list(params={"status": "inactive"}).data
    assert [m.id for m in listed] == [meter_id]
    assert client.v1.billing.meters.reactivate(meter_id).status == "active"


def test_a_meter_with_an_unknown_formula_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="default_aggregation"):
        client.v1.billing.meters.create(
            params={
                "display_name": "x",
                "event_name": "x",
                "default_aggregation": {"formula": "average"},
            }
        )


def test_a_v1_identifier_repeated_within_24_hours_is_refused(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    meter_id = meter(client)
    customer = client.v1.customers.create().id
    sent: Any = {
        "event_name": "api_calls",
        "identifier": "req-1",
        "payload": {"stripe_customer_id": customer, "value": "3"},
    }
    assert client.v1.billing.meter_events.create(params=sent).identifier == "req-1"
    with pytest.raises(stripe.InvalidRequestError, match="already exists with identifier req-1"):
        client.v1.billing.meter_events.create(params=sent)
    emulator.travel(24 * HOUR + 1)
    client.v1.billing.meter_events.create(params=sent)
    now = emulator.state.now(customer)
    assert total(client, meter_id, customer, now - HOUR, now + HOUR) == [6]


def test_the_stream_applies_a_batch_once_however_often_it_is_sent(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    meter_id = meter(client)
    customer = client.v1.customers.create().id
    batch: Any = {"events": [event(customer, str(n), f"msg-{n}") for n in range(1, 101)]}
    streaming = stream_client(client, emulator)
    streaming.v2.billing.meter_event_stream.create(params=batch)
    streaming.v2.billing.meter_event_stream.create(params=batch)  # a retried batch
    now = emulator.state.now(customer)
    assert total(client, meter_id, customer, now - HOUR, now + HOUR) == [5050]
    reasons = {error["_reason"] for error in emulator.state.meter_errors}
    assert reasons == {"duplicate identifier"}


def test_the_stream_takes_at_most_100_events(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    meter(client)
    customer = client.v1.customers.create().id
    batch: Any = {"events": [event(customer, "1", f"m-{n}") for n in range(101)]}
    with pytest.raises(stripe.InvalidRequestError, match="At most 100"):
        stream_client(client, emulator).v2.billing.meter_event_stream.create(params=batch)
    assert emulator.state.meter_events == []


def test_the_stream_refuses_an_api_key_and_an_expired_session(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    customer = client.v1.customers.create().id
    batch: Any = {"events": [event(customer, "1", "a")]}
    with_key = stripe.StripeClient(
        fake_test_key(), base_addresses={"meter_events": emulator.base_url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        with_key.v2.billing.meter_event_stream.create(params=batch)
    streaming = stream_client(client, emulator)
    emulator.travel(15 * 60)
    with pytest.raises(stripe.AuthenticationError) as expired:
        streaming.v2.billing.meter_event_stream.create(params=batch)
    body: Any = expired.value.json_body
    assert body["error"]["code"] == "billing_meter_event_session_expired"
    assert emulator.state.meter_events == []


def test_a_v2_body_is_validated_against_stripes_params(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    token = client.v2.billing.meter_event_session.create().authentication_token
    for body, message in (
        (b'{"events": [{"event_name": "x", "payload": {}, "colour": "red"}]}', "colour"),
        (b'{"events": "no"}', "Invalid array"),
        (b"not json", "not a JSON object"),
    ):
        request = urllib.request.Request(
            emulator.base_url + "/v2/billing/meter_event_stream",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        assert message in json.loads(refused.value.read())["error"]["message"]


def test_events_the_stream_cannot_apply_are_dropped_not_counted(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    meter_id = meter(client)
    customer = client.v1.customers.create().id
    now = emulator.state.now(customer)
    batch: Any = {
        "events": [
            event(customer, "lots", "bad-value"),
            event("cus_nobody", "1", "bad-customer"),
            event(customer, "1", "too-old", at=now - 36 * 24 * HOUR),
            {**event(customer, "1", "no-meter"), "event_name": "other"},
            event(customer, "2", "good"),
        ]
    }
    stream_client(client, emulator).v2.billing.meter_event_stream.create(params=batch)
    assert total(client, meter_id, customer, now - HOUR, now + HOUR) == [2]
    assert len(emulator.state.meter_errors) == 4


@pytest.mark.parametrize(("formula", "expected"), [("sum", 12), ("count", 3), ("last", 7)])
def test_summaries_aggregate_by_the_meters_formula(
    client: stripe.StripeClient, emulator: StripeFake, formula: str, expected: int
) -> None:
    meter_id = meter(client, formula=formula)
    _clock, customer = on_clock(client)
    batch: Any = {
        "events": [
            event(customer, "2", "a", at=START + 10),
            event(customer, "7", "c", at=START + 30),
            event(customer, "3", "b", at=START + 20),
        ]
    }
    stream_client(client, emulator).v2.billing.meter_event_stream.create(params=batch)
    assert total(client, meter_id, customer, START, START + HOUR) == [expected]
    assert total(client, meter_id, customer, START + 21, START + HOUR) == [
        {"sum": 7, "count": 1, "last": 7}[formula]
    ]


def test_hourly_summaries_split_the_window_and_must_align(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    meter_id = meter(client)
    _clock, customer = on_clock(client)
    batch: Any = {
        "events": [event(customer, "1", "a", at=START - HOUR), event(customer, "4", "b", at=START)]
    }
    stream_client(client, emulator).v2.billing.meter_event_stream.create(params=batch)
    params: Any = {
        "customer": customer,
        "start_time": START - HOUR,
        "end_time": START + HOUR,
        "value_grouping_window": "hour",
    }
    hourly = client.v1.billing.meters.event_summaries.list(meter_id, params=params).data
    assert [(s.start_time, s.aggregated_value) for s in hourly] == [(START, 4), (START - HOUR, 1)]
    misaligned: Any = {**params, "start_time": START + 1}
    with pytest.raises(stripe.InvalidRequestError, match="align"):
        client.v1.billing.meters.event_summaries.list(meter_id, params=misaligned)


def test_a_renewal_invoice_bills_the_periods_usage_in_arrears(
    client: stripe.StripeClient, emulator: StripeFake
) -> None:
    meter_id = meter(client)
    clock, customer = on_clock(client)
    product = client.v1.products.create(params={"name": "API"}).id
    metered: Any = {
        "product": product,
        "currency": "usd",
        "unit_amount_decimal": "0.5",
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_id},
    }
    price = client.v1.prices.create(params=metered).id
    subscription = subscribe(client, customer, price)
    start, end = period_of(subscription)
    advance(client, emulator, clock, start + 3 * HOUR)  # usage is sent as it happens
    batch: Any = {
        "events": [
            event(customer, "30", "in-period", at=start + HOUR),
            event(customer, "12", "also", at=start + 2 * HOUR),
            event(customer, "5", "before", at=start - HOUR),
        ]
    }
    stream_client(client, emulator).v2.billing.meter_event_stream.create(params=batch)
    advance(client, emulator, clock, end + HOUR)
    invoices = client.v1.invoices.list(params={"subscription": subscription.id}).data
    renewal = invoices[0]
    assert renewal.billing_reason == "subscription_cycle"
    line = renewal.lines.data[0]
    assert (line.quantity, line.amount, line.period.start, line.period.end) == (42, 21, start, end)
    assert invoices[1].amount_due == 0  # nothing is billed in advance for usage
