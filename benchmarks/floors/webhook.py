"""Floor of a subscription webhook: import boto3, read the secret, check the HMAC, write the
event and the user's state in one transaction."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    session = boto3.session.Session()
    secret = json.loads(
        session.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])[
            "SecretString"
        ]
    )["stripe_webhook_secret"]
    header = dict(part.split("=", 1) for part in event["headers"]["Stripe-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{header['t']}.{event['body']}".encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, header["v1"]):
        return {"statusCode": 400, "body": "{}"}
    stripe_event = json.loads(event["body"])
    subscription = stripe_event["data"]["object"]
    session.client("dynamodb").transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": os.environ["EVENTS_TABLE"],
                    "Item": {"eventId": {"S": stripe_event["id"]}},
                    "ConditionExpression": "attribute_not_exists(eventId)",
                }
            },
            {
                "Update": {
                    "TableName": os.environ["USERS_TABLE"],
                    "Key": {"userId": {"S": subscription["metadata"]["userId"]}},
                    "UpdateExpression": "SET subscriptionStatus = :s",
                    "ExpressionAttributeValues": {":s": {"S": subscription["status"]}},
                }
            },
        ]
    )
    return {"statusCode": 200, "body": "{}"}
