"""Floor of GET /subscription/prices: import boto3, read the secret once, answer the catalog."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    client = boto3.session.Session().client("secretsmanager")
    secret = client.get_secret_value(SecretId=os.environ["SECRET_ARN"])["SecretString"]
    return {"statusCode": 200, "body": json.dumps(json.loads(secret)["stripe_catalog"])}
