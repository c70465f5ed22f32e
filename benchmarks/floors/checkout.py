"""Floor of POST /subscription/checkout for a known customer: the secret, the record, one
subscription list and the session, with boto3 and stripe imported."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import stripe


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    session = boto3.session.Session()
    secret = json.loads(
        session.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])[
            "SecretString"
        ]
    )
    user_id = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    record = session.client("dynamodb").get_item(
        TableName=os.environ["USERS_TABLE"], Key={"userId": {"S": user_id}}
    )["Item"]
    customer = record["stripeCustomerId"]["S"]
    client = stripe.StripeClient(
        secret["stripe_secret_key"], base_addresses={"api": os.environ["STRIPE_API_BASE"]}
    )
    client.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    checkout = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer,
            "line_items": [{"price": json.loads(event["body"])["priceId"], "quantity": 1}],
            "success_url": "https://example.com/ok",
        }
    )
    return {"statusCode": 200, "body": json.dumps({"url": checkout.url})}
