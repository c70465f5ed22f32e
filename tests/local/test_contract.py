"""openapi.yaml is the whole frontend contract, and the check against it can fail."""

from __future__ import annotations

import json
import time

import pytest

from billing.contract import contract
from tests.support import openapi
from tools.local import devjwt


def test_every_declared_route_is_documented_with_its_auth_and_nothing_else() -> None:
    declared = {
        route.key: route.requires_jwt
        for route in (
            *contract.SUBSCRIPTION_ROUTES,
            *contract.ORGANIZATION_ROUTES,
            *contract.WEBHOOK_ROUTES,
        )
    }
    spec = openapi.contract()
    documented = {
        f"{method.upper()} {path}": operation.get("security", spec["security"]) != []
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == declared
    assert spec["openapi"].startswith("3.1")


def test_every_operation_documents_its_errors_in_one_of_the_two_shapes() -> None:
    for path, operations in openapi.contract()["paths"].items():
        for method, operation in operations.items():
            responses = openapi.resolve(operation["responses"])
            for status, response in responses.items():
                schema = response["content"]["application/json"]["schema"]
                if status.startswith(("4", "5")):
                    required = schema["required"]
                    assert required in (["error"], ["message"]), f"{method} {path} {status}"


def test_the_check_refuses_an_undocumented_status_and_a_wrong_body() -> None:
    good = {"statusCode": 200, "body": json.dumps({"url": "https://example.com/x"})}
    assert openapi.problems("POST /subscription/portal", good) == []
    teapot = {"statusCode": 418, "body": "{}"}
    assert openapi.problems("POST /subscription/portal", teapot) != []
    wrong = {"statusCode": 200, "body": json.dumps({"link": "https://example.com"})}
    assert openapi.problems("POST /subscription/portal", wrong) != []
    gateway_shape = {"statusCode": 401, "body": json.dumps({"error": "Unauthorized"})}
    assert openapi.problems("GET /subscription", gateway_shape) != []


# -- dev tokens, checked as API Gateway's JWT authorizer checks ----------------------------------

KEY = b"k" * 32


def test_a_dev_token_carries_the_user_and_verifies() -> None:
    claims = devjwt.verify(devjwt.issue(KEY, "alice", "alice@example.com"), KEY)
    assert (claims["sub"], claims["email"], claims["aud"]) == ("alice", "alice@example.com",
                                                               devjwt.AUDIENCE)  # fmt: skip


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (devjwt.issue(b"x" * 32, "alice"), "bad signature"),
        (devjwt.issue(KEY, "alice", now=time.time() - 10 * 3600), "expired"),
        (devjwt.issue(KEY, "alice", now=time.time() + 3600), "not yet valid"),
        ("a.b", "not a JWT"),
    ],
)
def test_the_authorizers_refusals(token: str, reason: str) -> None:
    with pytest.raises(devjwt.InvalidTokenError, match=reason):
        devjwt.verify(token, KEY)


def test_issuer_and_audience_are_checked() -> None:
    token = devjwt.issue(KEY, "alice")
    with pytest.raises(devjwt.InvalidTokenError, match="wrong issuer"):
        devjwt.verify(token, KEY, issuer="https://other.example")
    with pytest.raises(devjwt.InvalidTokenError, match="wrong audience"):
        devjwt.verify(token, KEY, audiences=("another-client",))
