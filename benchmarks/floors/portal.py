"""Floor of POST /subscription/portal: the record, the secret and one portal session, with
boto3 and stripe imported."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import stripe


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    session = boto3.session.Session()
    user_id = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    record = session.client("dynamodb").get_item(
        TableName=os.environ["USERS_TABLE"], Key={"userId": {"S": user_id}}
    )["Item"]
    secret = json.loads(
        session.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])[
            "SecretString"
        ]
    )
    client = stripe.StripeClient(
        secret["stripe_secret_key"], base_addresses={"api": os.environ["STRIPE_API_BASE"]}
    )
    portal = client.v1.billing_portal.sessions.create(
        params={
            "customer": record["stripeCustomerId"]["S"],
            "configuration": secret["stripe_portal_configuration_id"],
        }
    )
    return {"statusCode": 200, "body": json.dumps({"url": portal.url})}
