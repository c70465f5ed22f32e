"""DynamoDB requests per membership change and per member's `GET /subscription`, as an
organisation grows: each is a constant number of requests (a transaction, a BatchGetItem),
never a scan or a query over its members."""

from __future__ import annotations

from typing import Any

from benchmarks.dynamodb_cost import count_requests
from tools.harness import BillingWorld, body, load_function

ORGANIZATION = "bench-org"


def populate(world: BillingWorld, members: int) -> None:
    """An organisation of `members` seated members and one free seat (not counted)."""
    client = world.boto("dynamodb")
    table = world.declared_table("members")
    client.put_item(
        TableName=world.users_table,
        Item={
            "userId": {"S": f"org:{ORGANIZATION}"},
            "seats": {"N": str(members + 1)},
            "seatsAssigned": {"N": str(members)},
            "isSubscribed": {"BOOL": True},
        },
    )
    for start in range(0, members, 25):
        client.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"organizationId": {"S": ORGANIZATION},
                                     "userId": {"S": f"member-{index:06d}"}}}}
            for index in range(start, min(start + 25, members))
        ]})  # fmt: skip


def _event(world: BillingWorld, method: str, path: str, user: str, role: str, **more: Any) -> Any:
    return world.api_event(
        method, path, user_id=user, claims={"org_id": ORGANIZATION, "org_role": role}, **more
    )


def costs(world: BillingWorld) -> dict[str, list[str]]:
    """The DynamoDB operations of a member's read, a seat given, and a seat taken back."""
    subscription = load_function("subscription")
    seen: dict[str, list[str]] = {}
    newcomer = {"userId": "newcomer"}
    steps = {
        "GET /subscription (a member)": _event(
            world, "GET", "/subscription", "member-000000", "member"
        ),
        "POST /subscription/members": _event(
            world, "POST", "/subscription/members", "ada", "admin", body=newcomer
        ),
        "DELETE /subscription/members/{userId}": _event(
            world, "DELETE", "/subscription/members/newcomer", "ada", "admin",
            route="/subscription/members/{userId}", path_parameters=newcomer,
        ),
    }  # fmt: skip
    for label, event in steps.items():
        with count_requests() as requests:
            answer = subscription.handler(event, None)
        assert answer["statusCode"] == 200, (label, body(answer))
        seen[label] = list(requests)
    return seen
