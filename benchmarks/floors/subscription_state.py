"""Floor of GET /subscription: import boto3 and read the caller's record once."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    item = (
        boto3.session.Session()
        .client("dynamodb")
        .get_item(TableName=os.environ["USERS_TABLE"], Key={"userId": {"S": user_id}})
    )
    return {"statusCode": 200, "body": json.dumps({"found": "Item" in item})}
