"""Seats and members of an organisation's billing account.

The organisation's record (users table, key `org:{organisation}`) holds `seats` (purchased:
the per-seat item's quantity in Stripe, written by the webhook and by sync) and `seatsAssigned`.
Each member holding a seat is one item of the members table, (organizationId, userId). Every
change costs a constant number of DynamoDB requests however large the organisation:

- assigning a seat is one transaction: put the member (unless it holds one: then nothing
  changes) and add one to `seatsAssigned` on condition that a seat is free (else 409), then
  one read of the counts for the answer;
- releasing one is one transaction (delete the member and subtract one) and that read;
- a member's `GET /subscription` is one BatchGetItem (the record and its own member item).

Reducing seats below the assigned count is refused (409): release members first. A quantity
lowered in the billing portal is Stripe's to take: then no seat is assigned until enough are
released, and the members keep theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import aws, customer_state, users
from shared.accounts import Account, account_of, require_admin, require_organization
from shared.config import runtime_config
from shared.contract import Table
from shared.http import Caller, HttpError
from shared.stripe_client import call_stripe

#: Checkout's and the seats route's limit.
MAX_SEATS = 10_000


def seats_from(value: Any) -> int:
    """A seat count from a request body (1-10,000), else a 400."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEATS:
        raise HttpError(400, f"seats must be a whole number from 1 to {MAX_SEATS}")
    return value


def _members_table() -> str:
    return runtime_config().members_table


def _member_key(organization_id: str, user_id: str) -> dict[str, Any]:
    return {Table.ORGANIZATION_ID: {"S": organization_id}, Table.USER_ID: {"S": user_id}}


def seat_counts(record: Mapping[str, Any]) -> dict[str, int]:
    return {
        "purchased": int(record.get("seats") or 0),
        "assigned": int(record.get("seatsAssigned") or 0),
    }


def account_and_seat(account: Account) -> tuple[dict[str, Any], bool]:
    """The organisation's record and whether the caller holds one of its seats: one request."""
    organization = require_organization(account)
    users_table = users.store().users_table
    answer = aws.client("dynamodb").batch_get_item(
        RequestItems={
            users_table: {"Keys": [{Table.USER_ID: {"S": account.id}}], "ConsistentRead": True},
            _members_table(): {
                "Keys": [_member_key(organization, account.user_id)],
                "ConsistentRead": True,
                "ProjectionExpression": Table.USER_ID,
            },
        }
    )
    found = answer.get("Responses", {})
    records = found.get(users_table) or []
    record = users._deserialize(records[0]) if records else {}
    return record, bool(found.get(_members_table()))


def list_members(caller: Caller) -> dict[str, Any]:
    """`GET /subscription/members`: who holds a seat (any member may look), and the counts."""
    account = account_of(caller)
    organization = require_organization(account)
    client = aws.client("dynamodb")
    members: list[str] = []
    query: dict[str, Any] = {
        "TableName": _members_table(),
        "KeyConditionExpression": "#org = :org",
        "ExpressionAttributeNames": {"#org": Table.ORGANIZATION_ID},
        "ExpressionAttributeValues": {":org": {"S": organization}},
        "ProjectionExpression": Table.USER_ID,
    }
    while True:
        page = client.query(**query)
        members += [item[Table.USER_ID]["S"] for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    record = users.store().get_user(account.id) or {}
    return {"members": members, "seats": seat_counts(record)}


def _admin_organization(caller: Caller) -> tuple[Account, str]:
    account = account_of(caller)
    organization = require_organization(account)
    require_admin(account)
    return account, organization


def add_member(caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """`POST /subscription/members {"userId"}`: assign a seat (a second time changes nothing)."""
    account, organization = _admin_organization(caller)
    member = body.get("userId")
    if not isinstance(member, str) or not member.strip() or len(member) > 256:
        raise HttpError(400, "userId must be a non-empty string")
    outcome = _transact(
        {"Put": {
            "TableName": _members_table(), "Item": _member_key(organization, member),
            "ConditionExpression": "attribute_not_exists(#user)",
            "ExpressionAttributeNames": {"#user": Table.USER_ID},
        }},
        _count_update(account.id, +1),
    )  # fmt: skip
    if outcome == "count":
        raise HttpError(409, "Every seat is taken: buy more seats or release one")
    # outcome "member": the member already holds a seat, and nothing changed.
    return _membership(account, member, has_seat=True)


def remove_member(caller: Caller, member: str) -> dict[str, Any]:
    """`DELETE /subscription/members/{userId}`: release a seat (404 for a non-member)."""
    account, organization = _admin_organization(caller)
    outcome = _transact(
        {"Delete": {
            "TableName": _members_table(), "Key": _member_key(organization, member),
            "ConditionExpression": "attribute_exists(#user)",
            "ExpressionAttributeNames": {"#user": Table.USER_ID},
        }},
        _count_update(account.id, -1),
    )  # fmt: skip
    if outcome is not None:
        raise HttpError(404, f"{member} holds no seat of this organisation")
    return _membership(account, member, has_seat=False)


def _membership(account: Account, member: str, has_seat: bool) -> dict[str, Any]:
    """A membership change's answer: the member, and the seats after it (one read)."""
    record = users.store().get_user(account.id) or {}
    return {"userId": member, "hasSeat": has_seat, "seats": seat_counts(record)}


def _count_update(account_id: str, change: int) -> dict[str, Any]:
    """`seatsAssigned` by one, on condition that a seat is free (adding) or held (removing)."""
    condition = (
        # (DynamoDB allows if_not_exists only in the update, not in the condition.)
        "attribute_exists(seats) AND "
        "((attribute_not_exists(seatsAssigned) AND seats > :zero) OR seatsAssigned < seats)"
        if change > 0
        else "seatsAssigned > :zero"
    )
    return {"Update": {
        "TableName": users.store().users_table,
        "Key": {Table.USER_ID: {"S": account_id}},
        "UpdateExpression": "SET seatsAssigned = if_not_exists(seatsAssigned, :zero) + :change",
        "ConditionExpression": condition,
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":change": {"N": str(change)}},
    }}  # fmt: skip


def _transact(member: dict[str, Any], count: dict[str, Any]) -> str | None:
    """Run both writes as one; None when done, else which condition failed (`member`/`count`)."""
    from botocore.exceptions import ClientError

    try:
        aws.client("dynamodb").transact_write_items(TransactItems=[member, count])
        return None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
    if reasons[:1] == ["ConditionalCheckFailed"]:
        return "member"
    if reasons[1:2] == ["ConditionalCheckFailed"]:
        return "count"
    raise RuntimeError(f"the seat transaction was cancelled: {reasons}")


def change_seats(caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """`PUT /subscription/seats {"seats"}`: the per-seat item's quantity in Stripe, prorated as
    the stack says; fewer than are assigned is a 409. The record follows Stripe's answer."""
    account, _ = _admin_organization(caller)
    seats = seats_from(body.get("seats"))
    record = users.store().get_user(account.id) or {}
    subscription_id, customer_id = (
        record.get("stripeSubscriptionId"),
        record.get("stripeCustomerId"),
    )
    if record.get("seats") is None or not subscription_id or not customer_id:
        raise HttpError(409, "No per-seat subscription to change: check out a per-seat plan first")
    if seats < int(record.get("seatsAssigned") or 0):
        raise HttpError(409, "Fewer seats than are assigned: release members first")
    subscription = call_stripe(
        lambda client: client.v1.subscriptions.retrieve(str(subscription_id))
    )
    item = subscription["items"].data[0]
    call_stripe(
        lambda client: client.v1.subscription_items.update(
            item.id,
            params={
                "quantity": seats,
                "proration_behavior": runtime_config().seat_proration_behavior,
            },
        )
    )
    customer_state.refresh(account.id, str(customer_id))
    return {"seats": seat_counts(users.store().get_user(account.id) or {})}
