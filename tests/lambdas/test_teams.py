"""Teams: an organisation pays for seats, its admins manage them, members use them."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.support.billing_world import (
    TEAM_FEATURES,
    TEAM_MONTHLY_PRICE,
    BillingWorld,
    body,
    reset_runtime_caches,
)


def as_member(
    world: BillingWorld,
    method: str,
    path: str,
    user: str,
    org: str = "acme",
    role: str = "member",
    payload: Any = None,
    **route: Any,
) -> dict[str, Any]:
    return world.api_event(
        method,
        path,
        payload,
        user_id=user,
        email=f"{user}@example.com",
        claims={"org_id": org, "org_role": role},
        **route,
    )


def call(subscription: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = subscription.handler(event, None)
    return answer["statusCode"], body(answer)


def admin(
    world: BillingWorld,
    subscription: ModuleType,
    method: str,
    path: str,
    payload: Any = None,
    org: str = "acme",
    **route: Any,
) -> tuple[int, dict[str, Any]]:
    return call(subscription, as_member(world, method, path, "ada", org, "admin", payload, **route))


def member(
    world: BillingWorld,
    subscription: ModuleType,
    method: str,
    path: str,
    user: str,
    payload: Any = None,
    org: str = "acme",
    **route: Any,
) -> tuple[int, dict[str, Any]]:
    return call(subscription, as_member(world, method, path, user, org, "member", payload, **route))


def release(
    world: BillingWorld, subscription: ModuleType, user: str, org: str = "acme"
) -> tuple[int, dict[str, Any]]:
    path = f"/subscription/members/{user}"
    return admin(
        world,
        subscription,
        "DELETE",
        path,
        org=org,
        route="/subscription/members/{userId}",
        path_parameters={"userId": user},
    )


def latest_event(world: BillingWorld, event_type: str) -> dict[str, Any]:
    found = [e for e in world.stripe.state.events if e["type"] == event_type]
    return {k: v for k, v in found[-1].items() if not k.startswith("_")}


@pytest.fixture
def team(world: BillingWorld, subscription: ModuleType, webhook: ModuleType) -> dict[str, Any]:
    """acme on the team plan with 3 seats, paid, its subscription's event applied."""
    status, checkout = admin(
        world,
        subscription,
        "POST",
        "/subscription/checkout",
        {"priceId": TEAM_MONTHLY_PRICE, "seats": 3},
    )
    assert status == 200, checkout
    session, paid = world.stripe.complete_checkout(checkout["sessionId"])
    assert paid["items"]["data"][0]["quantity"] == 3
    customer = world.stripe.state.objects[session["customer"]]
    assert customer["metadata"] == {
        "userId": "org:acme",
        "stack": "dev-saas-billing",
        "organizationId": "acme",
    }
    applied = world.deliver(webhook, world.stripe.event("customer.subscription.created", paid))
    assert body(applied)["outcome"] == "applied"
    return paid


def test_three_members_fill_three_seats_and_a_fourth_is_refused(
    world: BillingWorld, subscription: ModuleType, team: dict[str, Any]
) -> None:
    for user in ("alice", "bob", "carol"):
        status, _ = admin(world, subscription, "POST", "/subscription/members", {"userId": user})
        assert status == 200
    status, refused = admin(
        world, subscription, "POST", "/subscription/members", {"userId": "dave"}
    )
    assert (status, refused) == (
        409,
        {"error": "Every seat is taken: buy more seats or release one"},
    )
    status, again = admin(world, subscription, "POST", "/subscription/members", {"userId": "alice"})
    assert status == 200 and again == {
        "userId": "alice",
        "hasSeat": True,
        "seats": {"purchased": 3, "assigned": 3},
    }  # a no-op
    _, listed = admin(world, subscription, "GET", "/subscription/members")
    assert sorted(listed["members"]) == ["alice", "bob", "carol"]


def test_a_fourth_seat_is_bought_prorated_then_assigned(
    world: BillingWorld,
    subscription: ModuleType,
    team: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEAT_PRORATION_BEHAVIOR", "always_invoice")
    reset_runtime_caches()
    for user in ("alice", "bob", "carol"):
        admin(world, subscription, "POST", "/subscription/members", {"userId": user})
    status, changed = admin(world, subscription, "PUT", "/subscription/seats", {"seats": 4})
    assert status == 200 and changed == {"seats": {"purchased": 4, "assigned": 3}}
    stored = world.stripe.state.objects[team["id"]]
    assert stored["items"]["data"][0]["quantity"] == 4
    invoice = world.stripe.state.objects[stored["latest_invoice"]]
    assert invoice["billing_reason"] == "subscription_update"
    assert invoice["lines"]["data"][0]["parent"]["subscription_item_details"]["proration"] is True
    assert 0 < invoice["total"] <= 1200  # a part of one more seat's month
    status, _ = admin(world, subscription, "POST", "/subscription/members", {"userId": "dave"})
    assert status == 200


def test_seats_cannot_drop_below_those_assigned(
    world: BillingWorld, subscription: ModuleType, team: dict[str, Any]
) -> None:
    for user in ("alice", "bob"):
        admin(world, subscription, "POST", "/subscription/members", {"userId": user})
    status, refused = admin(world, subscription, "PUT", "/subscription/seats", {"seats": 1})
    assert status == 409 and "release members first" in refused["error"]
    assert world.stripe.state.objects[team["id"]]["items"]["data"][0]["quantity"] == 3
    assert release(world, subscription, "bob")[0] == 200
    assert admin(world, subscription, "PUT", "/subscription/seats", {"seats": 1})[0] == 200


def test_a_member_with_a_seat_gets_the_features_one_without_gets_none(
    world: BillingWorld, subscription: ModuleType, team: dict[str, Any]
) -> None:
    admin(world, subscription, "POST", "/subscription/members", {"userId": "alice"})
    status, seated = member(world, subscription, "GET", "/subscription", "alice")
    assert status == 200
    assert (seated["organizationId"], seated["hasSeat"], seated["isSubscribed"]) == (
        "acme",
        True,
        True,
    )
    assert sorted(seated["features"]) == sorted(TEAM_FEATURES)
    assert seated["seats"] == {"purchased": 3, "assigned": 1}
    _, unseated = member(world, subscription, "GET", "/subscription", "erin")
    assert (unseated["hasSeat"], unseated["features"], unseated["isSubscribed"]) == (
        False,
        [],
        True,
    )


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/subscription/checkout", {"priceId": TEAM_MONTHLY_PRICE, "seats": 2}),
        ("POST", "/subscription/portal", None),
        ("PUT", "/subscription/seats", {"seats": 5}),
        ("POST", "/subscription/members", {"userId": "mallory"}),
    ],
)
def test_a_member_who_is_not_an_admin_cannot_manage_billing(
    world: BillingWorld,
    subscription: ModuleType,
    team: dict[str, Any],
    method: str,
    path: str,
    payload: Any,
) -> None:
    status, refused = member(world, subscription, method, path, "alice", payload)
    assert status == 403 and "admin" in refused["error"]
    assert world.stripe.state.objects[team["id"]]["items"]["data"][0]["quantity"] == 3


def test_another_organisation_never_reads_nor_changes_this_one(
    world: BillingWorld, subscription: ModuleType, team: dict[str, Any]
) -> None:
    admin(world, subscription, "POST", "/subscription/members", {"userId": "alice"})
    _, state = member(world, subscription, "GET", "/subscription", "mallory", org="globex")
    assert (state["organizationId"], state["isSubscribed"], state["seats"]) == (
        "globex",
        False,
        {"purchased": 0, "assigned": 0},
    )
    _, members = member(
        world, subscription, "GET", "/subscription/members", "mallory", org="globex"
    )
    assert members == {"members": [], "seats": {"purchased": 0, "assigned": 0}}
    assert release(world, subscription, "alice", org="globex")[0] == 404  # their admin, our member
    assert (
        admin(world, subscription, "PUT", "/subscription/seats", {"seats": 9}, org="globex")[0]
        == 409
    )
    assert admin(world, subscription, "POST", "/subscription/portal", org="globex")[0] == 400
    _, ours = admin(world, subscription, "GET", "/subscription/members")
    assert ours["members"] == ["alice"] and ours["seats"] == {"purchased": 3, "assigned": 1}


def test_a_user_without_the_claim_is_a_b2c_account(
    world: BillingWorld, subscription: ModuleType
) -> None:
    status, state = call(subscription, world.api_event("GET", "/subscription"))
    assert status == 200 and state["organizationId"] is None and "seats" not in state
    status, _ = call(subscription, world.api_event("GET", "/subscription/members"))
    assert status == 404


def test_a_quantity_changed_in_the_portal_reaches_the_record(
    world: BillingWorld, subscription: ModuleType, webhook: ModuleType, team: dict[str, Any]
) -> None:
    from tools.local.stripe_emulator import portal

    _, session = admin(world, subscription, "POST", "/subscription/portal")
    with world.stripe.state.lock:
        portal.act(
            world.stripe.state, session["url"].rsplit("/", 1)[1], "quantity", {"quantity": "7"}
        )
    updated = latest_event(world, "customer.subscription.updated")
    assert body(world.deliver(webhook, updated))["outcome"] == "applied"
    _, members = admin(world, subscription, "GET", "/subscription/members")
    assert members["seats"] == {"purchased": 7, "assigned": 0}


def test_a_member_of_another_organisation_is_refused_on_every_managing_route(
    world: BillingWorld, subscription: ModuleType, team: dict[str, Any]
) -> None:
    admin(world, subscription, "POST", "/subscription/members", {"userId": "alice"})
    refusals = [
        member(
            world,
            subscription,
            "POST",
            "/subscription/checkout",
            "mallory",
            {"priceId": TEAM_MONTHLY_PRICE},
            org="globex",
        ),
        member(world, subscription, "POST", "/subscription/portal", "mallory", org="globex"),
        member(
            world, subscription, "PUT", "/subscription/seats", "mallory", {"seats": 1}, org="globex"
        ),
        member(
            world,
            subscription,
            "POST",
            "/subscription/members",
            "mallory",
            {"userId": "mallory"},
            org="globex",
        ),
        member(
            world,
            subscription,
            "DELETE",
            "/subscription/members/alice",
            "mallory",
            org="globex",
            route="/subscription/members/{userId}",
            path_parameters={"userId": "alice"},
        ),
    ]
    assert [status for status, _ in refusals] == [403] * 5
    _, ours = admin(world, subscription, "GET", "/subscription/members")
    assert ours == {"members": ["alice"], "seats": {"purchased": 3, "assigned": 1}}
