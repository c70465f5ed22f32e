"""The Stripe webhook handler: each event type, delivery semantics, attacks and rotation."""

from __future__ import annotations

import json
import time
from types import ModuleType
from typing import Any

import pytest

from shared import stripe_client
from tests.support.billing_world import (
    ANNUAL_PRICE,
    MONTHLY_PRICE,
    BillingWorld,
    body,
    fake_key,
    fake_webhook_secret,
)
from tools.local.stripe_emulator import fixture

USER = "user-1"
CUSTOMER = "cus_customerFAKE"


@pytest.fixture
def known_user(world: BillingWorld) -> None:
    world.put_user(USER, stripeCustomerId=CUSTOMER, email="user-1@example.com")


def subscription_obj(world: BillingWorld, price: str = MONTHLY_PRICE, **kw: Any) -> dict:
    return world.stripe.create_subscription(CUSTOMER, price, user_id=kw.pop("user_id", USER), **kw)


def test_checkout_completed_retrieves_the_subscription_and_writes_full_state(
    world: BillingWorld, webhook: ModuleType, subscription: ModuleType, known_user: None
) -> None:
    checkout = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": ANNUAL_PRICE}), None
    )
    session_id = body(checkout)["sessionId"]
    session, sub = world.stripe.complete_checkout(session_id)
    response = world.deliver(webhook, world.stripe.event("checkout.session.completed", session))
    assert response["statusCode"] == 200, response
    record = world.user(USER)
    assert record is not None
    assert record["stripeCustomerId"] == CUSTOMER
    assert record["stripeSubscriptionId"] == sub["id"]
    assert record["isSubscribed"] is True
    assert record["plan"] == "annual"
    assert record["subscriptionStatus"] == "active"
    assert record["currentPeriodEnd"] == sub["items"]["data"][0]["current_period_end"]
    assert record["cancelAtPeriodEnd"] is False
    read = world.stripe.requests_to("GET", "/v1/subscriptions")[-1]
    assert read.params["customer"] == CUSTOMER, "the customer's subscriptions, as Stripe has them"
    state = body(subscription.handler(world.api_event("GET", "/subscription"), None))
    assert state["isSubscribed"] is True and state["plan"] == "annual"


@pytest.mark.parametrize(
    "event_type", ["customer.subscription.created", "customer.subscription.updated"]
)
def test_subscription_created_and_updated_set_the_state(
    world: BillingWorld, webhook: ModuleType, known_user: None, event_type: str
) -> None:
    sub = subscription_obj(world, status="trialing", cancel_at_period_end=True)
    assert world.deliver(webhook, world.stripe.event(event_type, sub))["statusCode"] == 200
    record = world.user(USER)
    assert record is not None
    assert record["subscriptionStatus"] == "trialing"
    assert record["isSubscribed"] is True
    assert record["plan"] == "monthly"
    assert record["cancelAtPeriodEnd"] is True
    assert record["stripeSubscriptionId"] == sub["id"]
    assert record["stripeCustomerId"] == CUSTOMER
    assert record["currentPeriodEnd"] == sub["items"]["data"][0]["current_period_end"]


def test_subscription_deleted_unsubscribes(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = subscription_obj(world)
    world.deliver(webhook, world.stripe.event("customer.subscription.created", sub))
    deleted = world.stripe.update_subscription(sub["id"], status="canceled")
    response = world.deliver(webhook, world.stripe.event("customer.subscription.deleted", deleted))
    assert response["statusCode"] == 200
    record = world.user(USER)
    assert record is not None
    assert record["isSubscribed"] is False and record["subscriptionStatus"] == "canceled"


@pytest.mark.parametrize(
    ("event_type", "status", "subscribed"),
    [("invoice.paid", "active", True), ("invoice.payment_failed", "past_due", True)],
)
def test_invoice_events_update_status_and_period_through_the_subscription(
    world: BillingWorld,
    webhook: ModuleType,
    known_user: None,
    event_type: str,
    status: str,
    subscribed: bool,
) -> None:
    sub = subscription_obj(world, status=status, period_end=1_950_000_000)
    invoice = world.stripe.invoice_for(sub, paid=status == "active")
    assert world.deliver(webhook, world.stripe.event(event_type, invoice))["statusCode"] == 200
    record = world.user(USER)
    assert record is not None
    assert record["subscriptionStatus"] == status
    assert record["isSubscribed"] is subscribed
    assert record["currentPeriodEnd"] == 1_950_000_000
    assert record["stripeSubscriptionId"] == sub["id"]


def test_the_user_is_found_through_the_customer_index_when_unnamed(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = subscription_obj(world, user_id=None)
    assert (
        world.deliver(webhook, world.stripe.event("customer.subscription.updated", sub))[
            "statusCode"
        ]
        == 200
    )
    record = world.user(USER)
    assert record is not None and record["subscriptionStatus"] == "active"


def _dynamodb_operations(world: BillingWorld) -> list[str]:
    from shared import aws

    seen: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb", lambda model, **kwargs: seen.append(model.name)
    )
    return seen


def test_an_event_that_names_the_user_costs_one_dynamodb_request(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    operations = _dynamodb_operations(world)
    world.deliver(
        webhook, world.stripe.event("customer.subscription.updated", subscription_obj(world))
    )
    assert operations == ["TransactWriteItems"]


def test_a_user_found_through_the_index_costs_a_query_and_no_scan(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    operations = _dynamodb_operations(world)
    sub = subscription_obj(world, user_id=None)
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", sub))
    assert operations == ["Query", "TransactWriteItems"]


def test_an_unknown_customer_gets_200_and_nothing_is_written(
    world: BillingWorld, webhook: ModuleType
) -> None:
    sub = world.stripe.create_subscription("cus_nobody", MONTHLY_PRICE, user_id=None)
    response = world.deliver(webhook, world.stripe.event("customer.subscription.updated", sub))
    assert response["statusCode"] == 200
    assert body(response)["outcome"] == "unknown_user"
    assert world.boto("dynamodb").scan(TableName=world.users_table)["Items"] == []
    assert world.processed_event_ids() == set()


def test_an_unknown_user_id_in_metadata_writes_nothing(
    world: BillingWorld, webhook: ModuleType
) -> None:
    sub = world.stripe.create_subscription(CUSTOMER, MONTHLY_PRICE, user_id="ghost")
    response = world.deliver(webhook, world.stripe.event("customer.subscription.updated", sub))
    assert response["statusCode"] == 200 and body(response)["outcome"] == "unknown_user"
    assert world.user("ghost") is None
    assert world.processed_event_ids() == set()


def test_an_unhandled_event_type_is_200_and_ignored(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    event = world.stripe.event("charge.refunded", {"id": "ch_1", "customer": CUSTOMER})
    response = world.deliver(webhook, event)
    assert response["statusCode"] == 200 and body(response)["outcome"] == "ignored"
    assert world.processed_event_ids() == set()


def test_the_full_story(world: BillingWorld, webhook: ModuleType, subscription: ModuleType) -> None:
    checkout = subscription.handler(
        world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}), None
    )
    session, sub = world.stripe.complete_checkout(body(checkout)["sessionId"])
    now = int(time.time())  # each event is created when its change happens, as Stripe does
    world.deliver(webhook, world.stripe.event("checkout.session.completed", session, now))
    assert (
        body(subscription.handler(world.api_event("GET", "/subscription"), None))["isSubscribed"]
        is True
    )
    cancelling = world.stripe.update_subscription(sub["id"], cancel_at_period_end=True)
    world.deliver(
        webhook, world.stripe.event("customer.subscription.updated", cancelling, int(time.time()))
    )
    state = body(subscription.handler(world.api_event("GET", "/subscription"), None))
    assert state["isSubscribed"] is True and state["cancelAtPeriodEnd"] is True
    ended = world.stripe.update_subscription(sub["id"], status="canceled")
    world.deliver(
        webhook, world.stripe.event("customer.subscription.deleted", ended, int(time.time()))
    )
    state = body(subscription.handler(world.api_event("GET", "/subscription"), None))
    assert state["isSubscribed"] is False and state["subscriptionStatus"] == "canceled"


# -- delivery semantics ------------------------------------------------------------------


def test_a_duplicate_delivery_is_applied_once(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    sub = subscription_obj(world)
    event = world.stripe.event("customer.subscription.updated", sub)
    assert body(world.deliver(webhook, event))["outcome"] == "applied"
    world.put_user(USER, stripeCustomerId=CUSTOMER, subscriptionStatus="manually-changed",
                   stripeEventCreated=event["created"] - 10)  # fmt: skip
    second = world.deliver(webhook, event)
    assert second["statusCode"] == 200 and body(second)["outcome"] == "duplicate"
    record = world.user(USER)
    assert record is not None and record["subscriptionStatus"] == "manually-changed"
    assert world.processed_event_ids() == {event["id"]}


def test_the_dedupe_record_expires_after_stripes_retry_window(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    event = world.stripe.event("customer.subscription.updated", subscription_obj(world))
    world.deliver(webhook, event)
    (item,) = world.boto("dynamodb").scan(TableName=world.events_table)["Items"]
    assert int(item["expiresAt"]["N"]) >= time.time() + 3 * 24 * 3600


def test_updated_before_created_keeps_the_newer_state(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    now = int(time.time()) - 10
    created = subscription_obj(world, status="incomplete")
    updated = world.stripe.update_subscription(created["id"], status="active")
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", updated, now + 5))
    late = world.deliver(webhook, world.stripe.event("customer.subscription.created", created, now))
    assert body(late)["outcome"] == "stale"
    record = world.user(USER)
    assert record is not None and record["subscriptionStatus"] == "active"


def test_an_old_update_after_a_newer_one_changes_nothing(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    now = int(time.time())
    sub = subscription_obj(world)
    newer = world.stripe.update_subscription(sub["id"], cancel_at_period_end=True)
    older = dict(sub, cancel_at_period_end=False)
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", newer, now))
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", older, now - 60))
    record = world.user(USER)
    assert record is not None and record["cancelAtPeriodEnd"] is True


def test_an_event_with_equal_created_applies(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    now = int(time.time())
    sub = subscription_obj(world)
    world.deliver(webhook, world.stripe.event("customer.subscription.updated", sub, now))
    changed = world.stripe.update_subscription(sub["id"], status="past_due")
    response = world.deliver(
        webhook, world.stripe.event("customer.subscription.updated", changed, now)
    )
    assert body(response)["outcome"] == "applied"
    record = world.user(USER)
    assert record is not None and record["subscriptionStatus"] == "past_due"


def test_a_failed_write_is_500_and_stripes_retry_then_succeeds(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    session_sub = subscription_obj(world)
    session = fixture("checkout.session")
    session.update(
        mode="subscription",
        customer=CUSTOMER,
        client_reference_id=USER,
        metadata={"userId": USER},
        subscription=session_sub["id"],
    )
    event = world.stripe.event("checkout.session.completed", session)
    # Stripe is down for the subscription's retrieval and the client's one retry.
    world.stripe.state.fail_next = 1 + stripe_client.MAX_NETWORK_RETRIES
    first = world.deliver(webhook, event)
    assert first["statusCode"] == 500
    assert world.processed_event_ids() == set(), "a failed event must not be marked processed"
    retry = world.deliver(webhook, event)
    assert retry["statusCode"] == 200 and body(retry)["outcome"] == "applied"
    record = world.user(USER)
    assert record is not None and record["isSubscribed"] is True


def test_dynamodb_unavailable_is_500_and_the_retry_applies(
    world: BillingWorld, webhook: ModuleType, known_user: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = world.stripe.event("customer.subscription.updated", subscription_obj(world))
    from tools.harness import reset_runtime_caches

    monkeypatch.setenv("EVENTS_TABLE", "no-such-table")
    reset_runtime_caches()
    assert world.deliver(webhook, event)["statusCode"] == 500
    monkeypatch.setenv("EVENTS_TABLE", world.events_table)
    reset_runtime_caches()
    assert body(world.deliver(webhook, event))["outcome"] == "applied"


# -- signature attacks -------------------------------------------------------------------


def signed_event(world: BillingWorld) -> tuple[dict, str, str]:
    event = world.stripe.event("customer.subscription.updated", subscription_obj(world))
    payload, header = world.stripe.signed(event, world.document["stripe_webhook_secret"])
    return event, payload, header


def assert_rejected(
    world: BillingWorld, webhook: ModuleType, payload: str, header: str | None
) -> None:
    response = webhook.handler(world.webhook_request(payload, header), None)
    assert response["statusCode"] == 400, response
    assert world.processed_event_ids() == set()
    record = world.user(USER)
    assert record is None or "subscriptionStatus" not in record


def test_a_tampered_body_is_rejected(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    _, payload, header = signed_event(world)
    assert_rejected(world, webhook, payload.replace('"active"', '"trialing"'), header)


def test_a_wrong_secret_is_rejected(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    event = world.stripe.event("customer.subscription.updated", subscription_obj(world))
    payload, header = world.stripe.signed(event, fake_webhook_secret("WRONG"))
    assert_rejected(world, webhook, payload, header)


def test_a_v0_only_header_is_rejected(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    _, payload, header = signed_event(world)
    v0_only = header.replace("v1=", "v0=")
    assert_rejected(world, webhook, payload, v0_only)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=,v1=", "t=abc,v1=deadbeef"])
def test_a_missing_or_garbage_header_is_rejected(
    world: BillingWorld, webhook: ModuleType, known_user: None, header: str | None
) -> None:
    _, payload, _ = signed_event(world)
    assert_rejected(world, webhook, payload, header)


@pytest.mark.parametrize("offset", [-301, -3600, 301, 86_400])
def test_a_timestamp_outside_300_seconds_is_rejected(
    world: BillingWorld, webhook: ModuleType, known_user: None, offset: int
) -> None:
    event = world.stripe.event("customer.subscription.updated", subscription_obj(world))
    payload, header = world.stripe.signed(
        event, world.document["stripe_webhook_secret"], timestamp=int(time.time()) + offset
    )
    assert_rejected(world, webhook, payload, header)


def test_reserialized_json_is_rejected(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    _event, payload, header = signed_event(world)
    reserialized = json.dumps(json.loads(payload), indent=2, sort_keys=True)
    assert reserialized != payload
    assert_rejected(world, webhook, reserialized, header)


def test_a_signed_body_that_is_not_an_event_is_rejected(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    payload, header = world.stripe.signed(
        '{"hello": "world"}', world.document["stripe_webhook_secret"]
    )
    assert_rejected(world, webhook, payload, header)


def test_a_valid_base64_body_with_a_lowercase_header_is_accepted(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    _, payload, header = signed_event(world)
    request = world.webhook_request(
        payload, header, header_name="stripe-signature", base64_body=True
    )
    assert webhook.handler(request, None)["statusCode"] == 200
    record = world.user(USER)
    assert record is not None and record["subscriptionStatus"] == "active"


# -- rotation ----------------------------------------------------------------------------


def test_a_new_signing_secret_is_used_while_warm_with_one_extra_secret_read(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    world.deliver(
        webhook, world.stripe.event("customer.subscription.updated", subscription_obj(world))
    )
    assert len(world.secret_reads) == 1
    world.write_secret(stripe_webhook_secret=fake_webhook_secret("ROTATED"))
    event = world.stripe.event("customer.subscription.updated", subscription_obj(world))
    response = world.deliver(webhook, event, secret=fake_webhook_secret("ROTATED"))
    assert response["statusCode"] == 200 and body(response)["outcome"] == "applied"
    assert len(world.secret_reads) == 2


def test_a_burst_of_forged_signatures_costs_at_most_one_secret_read(
    world: BillingWorld, webhook: ModuleType, known_user: None
) -> None:
    for _ in range(50):
        event = world.stripe.event("customer.subscription.updated", subscription_obj(world))
        payload, header = world.stripe.signed(event, fake_webhook_secret("FORGED"))
        assert webhook.handler(world.webhook_request(payload, header), None)["statusCode"] == 400
    assert len(world.secret_reads) <= 2, "first load plus at most one forced refresh"


def test_a_rotated_api_key_is_used_while_warm(
    world: BillingWorld, webhook: ModuleType, subscription: ModuleType, known_user: None
) -> None:
    assert (
        subscription.handler(world.api_event("POST", "/subscription/portal"), None)["statusCode"]
        == 200
    )
    new_key = fake_key("rk", "ROTATED")
    world.stripe.state.valid_keys = {new_key}  # the old key is rolled in Stripe
    world.write_secret(stripe_secret_key=new_key)
    response = subscription.handler(world.api_event("POST", "/subscription/portal"), None)
    assert response["statusCode"] == 200
    assert world.stripe.state.requests[-1].api_key == new_key
    assert len(world.secret_reads) == 2
