"""Every response a handler gives in the suite is checked against openapi.yaml.

`load_function` wraps each function's `handler` with `checked`, so a route answering a status
the contract does not list, or a body that does not match its schema, fails the test that
caused it. References are resolved in place (the contract has no recursive schema) and each
schema is checked with jsonschema's Draft 2020-12 validator, the dialect of OpenAPI 3.1.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"

Handler = Callable[[Any, Any], dict[str, Any]]


@functools.cache
def contract() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return loaded


def resolve(node: Any) -> Any:
    """`node` with every local `$ref` replaced by what it points at."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = contract()
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {key: resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item) for item in node]
    return node


def operation(route_key: str) -> dict[str, Any] | None:
    method, _, path = route_key.partition(" ")
    found = contract()["paths"].get(path, {}).get(method.lower())
    return resolve(found) if found else None


def problems(route_key: str, response: Mapping[str, Any]) -> list[str]:
    """What in `response` the contract does not allow (empty when it conforms)."""
    documented = operation(route_key)
    if documented is None:
        return []  # not a route API Gateway sends to a function
    status = str(response["statusCode"])
    answer = documented["responses"].get(status)
    if answer is None:
        return [f"{route_key} answered {status}, which openapi.yaml does not list"]
    body = json.loads(response["body"])
    schema = answer["content"]["application/json"]["schema"]
    validator = Draft202012Validator(schema)
    return [f"{route_key} {status}: {error.message}" for error in validator.iter_errors(body)]


def checked(handler: Handler) -> Handler:
    """`handler`, failing loudly on any response the contract does not allow."""

    def wrapper(event: Any, context: Any) -> dict[str, Any]:
        response = handler(event, context)
        route_key = event.get("routeKey") if isinstance(event, Mapping) else None
        if isinstance(route_key, str):
            found = problems(route_key, response)
            assert not found, "; ".join(found)
        return response

    return wrapper
