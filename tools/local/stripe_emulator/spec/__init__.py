"""Stripe's response shapes, from the OpenAPI subset beside this file, as JSON Schema checks.

`response_problems("invoice", payload)` lists where a payload departs from the schema of that
object. The subset's OpenAPI 3.0 schemas are turned into JSON Schema (draft 2020-12): `nullable`
becomes a `null` alternative, `$ref`s point into `$defs`, and an object schema that declares
`properties` gets `additionalProperties: false` (Stripe's schemas allow extras, but a real Stripe
never sends an undeclared field); free-form maps such as `metadata` keep their value schema.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema

SUBSET = Path(__file__).resolve().parent / "openapi-subset.json"
_OPENAPI_REF = "#/components/schemas/"
# OpenAPI keywords and extensions with no JSON Schema meaning here.
_DROPPED = frozenset({"nullable", "discriminator", "example", "format", "title", "readOnly"})


@functools.cache
def spec() -> dict[str, Any]:
    with SUBSET.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


def version() -> str:
    """The API version the subset describes."""
    return str(spec()["info"]["version"])


@functools.cache
def schema_key(object_name: str) -> str:
    """The `components.schemas` key of an object name (its `x-resourceId`, else the key)."""
    schemas = spec()["components"]["schemas"]
    for key, schema in schemas.items():
        if schema.get("x-resourceId") == object_name:
            return str(key)
    if object_name in schemas:
        return object_name
    raise KeyError(f"the Stripe spec subset has no schema for {object_name!r}")


def to_json_schema(node: Any) -> Any:
    """One OpenAPI 3.0 schema (and what it holds) as JSON Schema draft 2020-12."""
    if isinstance(node, list):
        return [to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key.startswith("x-"):
            continue
        if key == "$ref":
            out[key] = "#/$defs/" + str(value).removeprefix(_OPENAPI_REF)
        elif key == "properties":
            out[key] = {name: to_json_schema(v) for name, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not"):
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return _nullable(out) if node.get("nullable") else out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    if "$ref" in schema or "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    out = {**schema, "type": [*types, "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


@functools.cache
def _defs() -> dict[str, Any]:
    return {key: to_json_schema(s) for key, s in spec()["components"]["schemas"].items()}


@functools.cache
def validator(object_name: str) -> jsonschema.Draft202012Validator:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": _defs(),
        "$ref": f"#/$defs/{schema_key(object_name)}",
    }
    return jsonschema.Draft202012Validator(root)


def response_problems(object_name: str, payload: Mapping[str, Any]) -> list[str]:
    """Where `payload` departs from the spec's schema for `object_name` (e.g. "checkout.session",
    "subscription", "invoice", "test_helpers.test_clock"): a property the spec doesn't have
    (Stripe's schemas don't forbid extras, but a real Stripe never sends an undeclared field;
    report them), a required property missing, a wrong type, an enum value not allowed, null
    where not nullable. Nested objects and lists (`items.data[]`) are checked too; expandable
    fields (anyOf string | object) accept either. Returns readable strings with JSON paths."""
    errors = validator(object_name).iter_errors(payload)
    return sorted({line for error in errors for e in _leaves(error) for line in _describe(e)})


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """The errors that say what is wrong: inside an anyOf, those of the branch that fits best
    (an expandable field holding an object is judged against the object, not the string)."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        yield error
        return
    branches: dict[int, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.schema_path[0]), []).append(sub)

    def misfit(subs: list[jsonschema.ValidationError]) -> tuple[bool, int]:
        wrong_type = any(s.validator == "type" and not s.relative_path for s in subs)
        return wrong_type, len(subs)

    best = min(branches.values(), key=misfit)
    if misfit(best)[0]:  # no branch even has the right type: say so once
        yield error
        return
    for sub in best:
        yield from _leaves(sub)


def _describe(error: jsonschema.ValidationError) -> list[str]:
    path = error.json_path
    if error.validator == "additionalProperties" and error.validator_value is False:
        extra = set(error.instance) - set(error.schema.get("properties", {}))
        return [f"{path}.{name}: not in the spec's schema" for name in extra]
    return [_say(error, path)]


def _say(error: jsonschema.ValidationError, path: str) -> str:
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        return f"{path}.{missing}: required by the spec, missing"
    if error.validator == "type" and error.instance is None:
        return f"{path}: null, and the spec's schema is not nullable"
    if error.validator == "enum":
        return f"{path}: {error.instance!r} is not one of the spec's values {error.validator_value}"
    if error.validator in ("anyOf", "oneOf"):
        return f"{path}: {_short(error.instance)} fits none of the spec's alternatives"
    return f"{path}: {error.message}"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
