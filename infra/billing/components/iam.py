"""IAM documents the components share."""

from __future__ import annotations

import json


def assume_role_policy(service: str) -> str:
    """A trust policy letting one AWS service (e.g. lambda.amazonaws.com) assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )
