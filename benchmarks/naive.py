"""NAIVE VARIANTS, for comparison only: the designs this project replaced. Never in the product.

- `naive_fetch_secret`: read the secret on every invocation (no cache).
- `naive_find_user_by_scan`: find a user from a Stripe customer id with a table Scan (what the
  original design did), then update it without a transaction or dedupe record.
"""

from __future__ import annotations

import json
import os
from typing import Any

from shared import aws


def naive_fetch_secret() -> dict[str, str]:
    """NAIVE: one GetSecretValue per call."""
    response = aws.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])
    return json.loads(response["SecretString"])


def naive_find_user_by_scan(customer_id: str) -> tuple[str | None, list[dict[str, Any]]]:
    """NAIVE: Scan the whole users table for the customer; returns (user, every page read)."""
    client = aws.client("dynamodb")
    pages: list[dict[str, Any]] = []
    found = None
    request: dict[str, Any] = {
        "TableName": os.environ["USERS_TABLE"],
        "FilterExpression": "stripeCustomerId = :customer",
        "ExpressionAttributeValues": {":customer": {"S": customer_id}},
    }
    while True:
        page = client.scan(**request)
        pages.append(page)
        if page.get("Items"):
            found = page["Items"][0]["userId"]["S"]
        if "LastEvaluatedKey" not in page:
            return found, pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def naive_update_user(user_id: str, status: str) -> None:
    """NAIVE: a plain UpdateItem, with no order guard and no dedupe record."""
    aws.client("dynamodb").update_item(
        TableName=os.environ["USERS_TABLE"],
        Key={"userId": {"S": user_id}},
        UpdateExpression="SET subscriptionStatus = :status",
        ExpressionAttributeValues={":status": {"S": status}},
    )
