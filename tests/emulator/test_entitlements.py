"""Entitlements: features, product features, and the active entitlements subscriptions grant."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe

from tests.emulator.conftest import Receiver, listen
from tests.emulator.test_checkout_and_portal import pay_page, session_for
from tests.emulator.test_clocks import advance, on_clock, period_of, subscribe
from tools.local.stripe_emulator import StripeFake

DAY = 24 * 3600
SUMMARY = "entitlements.active_entitlement_summary.updated"


def feature(client: stripe.StripeClient, lookup_key: str, **params: Any) -> str:
    create: Any = {"name": lookup_key.title(), "lookup_key": lookup_key, **params}
    return client.v1.entitlements.features.create(params=create).id


def attach(client: stripe.StripeClient, product: str, feature_id: str) -> str:
    return client.v1.products.features.create(
        product, params={"entitlement_feature": feature_id}
    ).id


def featured_price(client: stripe.StripeClient, *lookup_keys: str) -> tuple[str, str]:
    """(product, monthly price) with a new feature per lookup key attached to the product."""
    product = client.v1.products.create(params={"name": "Pro"}).id
    for key in lookup_keys:
        attach(client, product, feature(client, key))
    price = client.v1.prices.create(
        params={
            "product": product,
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
        }
    )
    return product, price.id


def keys(client: stripe.StripeClient, customer: str) -> set[str]:
    listed = client.v1.entitlements.active_entitlements.list(
        params={"customer": customer, "limit": 100}
    )
    return {e.lookup_key for e in listed.data}


def summary_keys(event: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(now, before) lookup keys of a summary event's entitlements."""
    data = event["data"]
    now = {e["lookup_key"] for e in data["object"]["entitlements"]["data"]}
    before = {e["lookup_key"] for e in data["previous_attributes"]["entitlements"]["data"]}
    return now, before


def refused(call: Any) -> stripe.InvalidRequestError:
    """The refusal a call meets (every 400 and 404 here is an `invalid_request_error`)."""
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call()
    return raised.value


# -- features -----------------------------------------------------------------------------


def test_features_are_created_updated_listed_and_archived(client: stripe.StripeClient) -> None:
    features = client.v1.entitlements.features
    made = features.create(
        params={"name": "Exports", "lookup_key": "exports", "metadata": {"tier": "pro"}}
    )
    assert (made.object, made.active, made.lookup_key, made.livemode) == (
        "entitlements.feature",
        True,
        "exports",
        False,
    )
    assert made.id.startswith("feat_test_")
    updated = features.update(made.id, params={"name": "CSV", "metadata": {"seats": "3"}})
    assert (updated.name, updated.metadata.to_dict()) == ("CSV", {"tier": "pro", "seats": "3"})
    assert features.retrieve(made.id).name == "CSV"
    other = feature(client, "seats")
    assert [f.id for f in features.list().data] == [other, made.id]  # newest first
    assert [f.id for f in features.list(params={"lookup_key": "seats"}).data] == [other]

    archived = features.update(made.id, params={"active": False})
    assert archived.active is False
    assert [f.id for f in features.list().data] == [other]  # archived ones are not listed
    assert [f.id for f in features.list(params={"archived": True}).data] == [made.id]
    error = refused(lambda: features.update(made.id, params={"name": "Again"}))
    assert (error.http_status, error.param) == (400, "id")


def test_a_lookup_key_names_one_active_feature(client: stripe.StripeClient) -> None:
    first = feature(client, "exports")
    error = refused(lambda: feature(client, "exports"))
    assert (error.http_status, error.param) == (400, "lookup_key")
    too_long = refused(lambda: feature(client, "k" * 81))
    assert (too_long.http_status, too_long.param) == (400, "lookup_key")
    assert feature(client, "k" * 80)
    client.v1.entitlements.features.update(first, params={"active": False})
    second = feature(client, "exports")  # archiving freed the key
    assert second != first


def test_an_unknown_feature_is_a_404(client: stripe.StripeClient) -> None:
    error = refused(lambda: client.v1.entitlements.features.retrieve("feat_test_nope"))
    assert (error.http_status, error.code) == (404, "resource_missing")


# -- product features ---------------------------------------------------------------------


def test_features_are_attached_to_and_detached_from_a_product(
    client: stripe.StripeClient,
) -> None:
    product = client.v1.products.create(params={"name": "Pro"}).id
    other_product = client.v1.products.create(params={"name": "Team"}).id
    exports = feature(client, "exports")
    attached = client.v1.products.features.create(product, params={"entitlement_feature": exports})
    assert attached.object == "product_feature" and attached.id.startswith("prodft_")
    assert attached.entitlement_feature.id == exports
    client.v1.entitlements.features.update(exports, params={"name": "CSV exports"})
    shown = client.v1.products.features.retrieve(product, attached.id)
    assert shown.entitlement_feature.name == "CSV exports"  # the feature as it is now
    assert [a.id for a in client.v1.products.features.list(product).data] == [attached.id]
    assert client.v1.products.features.list(other_product).data == []

    twice = refused(
        lambda: client.v1.products.features.create(product, params={"entitlement_feature": exports})
    )
    assert (twice.http_status, twice.param) == (400, "entitlement_feature")
    elsewhere = refused(lambda: client.v1.products.features.retrieve(other_product, attached.id))
    assert elsewhere.http_status == 404
    unknown = refused(
        lambda: client.v1.products.features.create(
            product, params={"entitlement_feature": "feat_test_nope"}
        )
    )
    assert (unknown.http_status, unknown.param) == (404, "entitlement_feature")
    archived = feature(client, "old")
    client.v1.entitlements.features.update(archived, params={"active": False})
    inactive = refused(
        lambda: client.v1.products.features.create(
            product, params={"entitlement_feature": archived}
        )
    )
    assert (inactive.http_status, inactive.param) == (400, "entitlement_feature")

    deleted = client.v1.products.features.delete(product, attached.id)
    assert deleted.to_dict() == {"id": attached.id, "object": "product_feature", "deleted": True}
    assert client.v1.products.features.list(product).data == []
    gone = refused(lambda: client.v1.products.features.delete(product, attached.id))
    assert gone.http_status == 404
    again = attach(client, product, exports)  # a detached feature can be attached again
    assert again != attached.id


# -- active entitlements ------------------------------------------------------------------


def test_subscribing_grants_the_products_features_with_one_summary_event(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    _, price = featured_price(client, "exports", "seats")
    unrelated = client.v1.customers.create(params={"email": "other@example.test"}).id
    customer = client.v1.customers.create(params={"email": "ada@example.test"}).id
    subscription = subscribe(client, customer, price)
    emulator.deliver()

    assert subscription.status == "active"
    listed = client.v1.entitlements.active_entitlements.list(params={"customer": customer})
    assert {e.lookup_key for e in listed.data} == {"exports", "seats"}
    first = listed.data[0]
    assert first.id.startswith("ent_test_") and first.object == "entitlements.active_entitlement"
    assert client.v1.entitlements.active_entitlements.retrieve(first.id).feature == first.feature
    assert keys(client, unrelated) == set()

    summaries = receiver.of_type(SUMMARY)
    assert len(summaries) == 1
    summary = summaries[0]["data"]["object"]
    assert (summary["object"], summary["customer"], summary["livemode"]) == (
        "entitlements.active_entitlement_summary",
        customer,
        False,
    )
    assert summary_keys(summaries[0]) == ({"exports", "seats"}, set())
    types = receiver.types()
    # Granted when the subscription became active (its first invoice paid), not before.
    assert types.index(SUMMARY) > types.index("customer.subscription.updated")


def test_an_unpaid_first_invoice_grants_nothing_and_a_trial_grants_at_once(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    _, price = featured_price(client, "exports")
    declined = client.v1.customers.create(params={"payment_method": "pm_card_chargeDeclined"}).id
    assert subscribe(client, declined, price).status == "incomplete"
    trying = client.v1.customers.create(params={}).id
    assert subscribe(client, trying, price, trial_period_days=7).status == "trialing"
    emulator.deliver()
    assert keys(client, declined) == set()
    assert keys(client, trying) == {"exports"}
    assert [e["data"]["object"]["customer"] for e in receiver.of_type(SUMMARY)] == [trying]


def test_product_feature_changes_reach_subscribers_at_their_next_period(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    clock, customer = on_clock(client)
    product, price = featured_price(client, "exports", "seats")
    subscription = subscribe(client, customer, price)
    exports_attachment = client.v1.products.features.list(product).data[-1]
    assert exports_attachment.entitlement_feature.lookup_key == "exports"
    attach(client, product, feature(client, "sso"))
    client.v1.products.features.delete(product, exports_attachment.id)
    # An update that changes neither prices nor the period does not pick the changes up.
    client.v1.subscriptions.update(subscription.id, params={"metadata": {"team": "a"}})
    emulator.deliver()
    # Stripe: existing subscriptions pick up product feature changes at their next period.
    assert keys(client, customer) == {"exports", "seats"}
    assert len(receiver.of_type(SUMMARY)) == 1

    renewal = period_of(subscription)[1]
    advance(client, emulator, clock, renewal + 3600)
    assert keys(client, customer) == {"seats", "sso"}
    summaries = receiver.of_type(SUMMARY)
    assert len(summaries) == 2
    assert summary_keys(summaries[1]) == ({"seats", "sso"}, {"exports", "seats"})


def test_switching_price_applies_the_new_products_features_at_once(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    _, basic = featured_price(client, "exports")
    _, team = featured_price(client, "exports-team", "sso")
    customer = client.v1.customers.create(params={}).id
    subscription = subscribe(client, customer, basic)
    item = subscription["items"].data[0]
    client.v1.subscriptions.update(
        subscription.id, params={"items": [{"id": item.id, "price": team}]}
    )
    emulator.deliver()
    assert keys(client, customer) == {"exports-team", "sso"}
    summaries = receiver.of_type(SUMMARY)
    assert len(summaries) == 2
    assert summary_keys(summaries[1]) == ({"exports-team", "sso"}, {"exports"})
    client.v1.subscriptions.update(subscription.id, params={"metadata": {"seat": "1"}})
    emulator.deliver()
    assert len(receiver.of_type(SUMMARY)) == 2  # nothing changed, no event


def test_cancelling_removes_the_entitlements_with_an_event(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    _, price = featured_price(client, "exports", "seats")
    customer = client.v1.customers.create(params={}).id
    subscription = subscribe(client, customer, price)
    held = client.v1.entitlements.active_entitlements.list(params={"customer": customer}).data
    assert len(held) == 2
    client.v1.subscriptions.cancel(subscription.id)
    emulator.deliver()

    assert keys(client, customer) == set()
    gone = refused(lambda: client.v1.entitlements.active_entitlements.retrieve(held[0].id))
    assert (gone.http_status, gone.code) == (404, "resource_missing")
    assert receiver.types()[-2:] == ["customer.subscription.deleted", SUMMARY]
    assert summary_keys(receiver.of_type(SUMMARY)[-1]) == (set(), {"exports", "seats"})


def test_a_failed_payment_cancellation_on_a_clock_removes_the_entitlements(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    clock, customer = on_clock(client, "pm_card_chargeCustomerFail")
    _, price = featured_price(client, "exports", "seats")
    subscription = subscribe(client, customer, price)
    renewal = period_of(subscription)[1]
    advance(client, emulator, clock, renewal + 60)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "past_due"
    assert keys(client, customer) == {"exports", "seats"}  # past_due still entitles
    assert len(receiver.of_type(SUMMARY)) == 1

    advance(client, emulator, clock, renewal + 16 * DAY)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert keys(client, customer) == set()
    summaries = receiver.of_type(SUMMARY)
    assert len(summaries) == 2
    assert summary_keys(summaries[1]) == (set(), {"exports", "seats"})
    types = receiver.types()
    assert types.index("customer.subscription.deleted") < len(types) - 1 - types[::-1].index(
        SUMMARY
    )


def test_active_entitlements_page_and_the_summary_shows_the_first_page(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    lookup_keys = [f"feature-{n:02d}" for n in range(12)]
    _, price = featured_price(client, *lookup_keys)
    customer = client.v1.customers.create(params={}).id
    subscribe(client, customer, price)
    emulator.deliver()

    listing = client.v1.entitlements.active_entitlements
    first = listing.list(params={"customer": customer})
    assert (len(first.data), first.has_more) == (10, True)
    seen: list[str] = []
    page = listing.list(params={"customer": customer, "limit": 5})
    while True:
        seen += [e.lookup_key for e in page.data]
        if not page.has_more:
            break
        page = listing.list(
            params={"customer": customer, "limit": 5, "starting_after": page.data[-1].id}
        )
    assert sorted(seen) == lookup_keys and len(seen) == 12
    summary = receiver.of_type(SUMMARY)[0]["data"]["object"]["entitlements"]
    assert (len(summary["data"]), summary["has_more"]) == (10, True)
    assert [e["id"] for e in summary["data"]] == [e.id for e in first.data]


def test_listing_needs_a_known_customer(client: stripe.StripeClient) -> None:
    listing = client.v1.entitlements.active_entitlements
    missing = refused(lambda: listing.list(params={}))  # type: ignore[typeddict-item]
    assert (missing.http_status, missing.code, missing.param) == (
        400,
        "parameter_missing",
        "customer",
    )
    unknown = refused(lambda: listing.list(params={"customer": "cus_nope"}))
    assert (unknown.http_status, unknown.code) == (404, "resource_missing")


def test_checkout_and_the_portal_grant_and_switch_entitlements(
    client: stripe.StripeClient, emulator: StripeFake, receiver: Receiver
) -> None:
    listen(client, receiver)
    basic_product, basic = featured_price(client, "exports")
    team_product, team = featured_price(client, "sso")
    customer = client.v1.customers.create(params={}).id
    session = session_for(client, basic, customer)
    assert pay_page(session).status_code == 303
    assert keys(client, customer) == {"exports"}
    configuration = client.v1.billing_portal.configurations.create(
        params={
            "features": {
                "subscription_update": {
                    "enabled": True,
                    "default_allowed_updates": ["price"],
                    "products": [
                        {"product": basic_product, "prices": [basic]},
                        {"product": team_product, "prices": [team]},
                    ],
                },
            }
        }
    )
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": customer, "configuration": configuration.id}
    )
    requests.post(portal.url + "/switch", data={"price": team}, timeout=30)
    emulator.deliver()
    assert keys(client, customer) == {"sso"}
    assert [summary_keys(e) for e in receiver.of_type(SUMMARY)] == [
        ({"exports"}, set()),
        ({"sso"}, {"exports"}),
    ]
