"""moto's server as local mode runs it: DynamoDB transactions keep moto's semantics and memory
stays bounded (moto 5.2.5 deep-copied every table a transaction names, and kept every copy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tools.local.emulators import aws_client, running_moto


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with running_moto() as endpoint:
        client = aws_client("dynamodb", endpoint)
        for table in ("users", "events"):
            client.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            )
        for index in range(50):
            client.put_item(TableName="users", Item={"id": {"S": f"u{index}"}, "n": {"N": "0"}})
        yield client


def event_and_update(event_id: str, user: str, expected: int) -> list[dict[str, Any]]:
    """The webhook's shape: record the event, update the user under a condition."""
    return [
        {"Put": {"TableName": "events", "Item": {"id": {"S": event_id}},
                 "ConditionExpression": "attribute_not_exists(id)"}},
        {"Update": {"TableName": "users", "Key": {"id": {"S": user}},
                    "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n = :expected",
                    "ExpressionAttributeValues": {":one": {"N": "1"},
                                                  ":expected": {"N": str(expected)}}}},
    ]  # fmt: skip


def user_count(client: Any, user: str) -> int:
    return int(client.get_item(TableName="users", Key={"id": {"S": user}})["Item"]["n"]["N"])


def test_a_cancelled_transaction_changes_nothing(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=event_and_update("e1", "u1", 0))
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(TransactItems=event_and_update("e2", "u1", 0))
    assert user_count(dynamodb, "u1") == 1
    assert "Item" not in dynamodb.get_item(TableName="events", Key={"id": {"S": "e2"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):  # the event is a duplicate
        dynamodb.transact_write_items(TransactItems=event_and_update("e1", "u1", 1))
    assert user_count(dynamodb, "u1") == 1


def test_transactions_neither_copy_tables_nor_keep_item_copies(dynamodb: Any) -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    tables, items = len(Table.instances_tracked), len(Item.instances_tracked)  # type: ignore[attr-defined]
    for index in range(40):
        dynamodb.transact_write_items(TransactItems=event_and_update(f"m{index}", "u2", index))
    assert len(Table.instances_tracked) == tables, "a table copy per transaction"  # type: ignore[attr-defined]
    assert len(Item.instances_tracked) == items, "item copies kept for the process's life"  # type: ignore[attr-defined]
    assert user_count(dynamodb, "u2") == 40
