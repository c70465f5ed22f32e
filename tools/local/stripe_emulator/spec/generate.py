"""A stand-in for the published spec's subset, read off stripe-python's type annotations.

    python -m tools.local.stripe_emulator.spec.generate \
        > tools/local/stripe_emulator/spec/openapi-subset.json

stripe-python is generated from Stripe's OpenAPI description of the API version it pins
(`stripe._api_version._ApiVersion.CURRENT`), so its classes carry that version's property names,
enums, nesting and expandable fields. What they lose is the spec's difference between a property
that may be absent (not `required`) and one that may be null (`nullable`): both are `Optional`
there, so this stand-in calls every `Optional` property nullable and not required, and every
other one required. It writes the OpenAPI 3.0 shapes that extract.py keeps (`$ref` into
`components.schemas`, `anyOf` string | object for expandable fields, `nullable`,
`additionalProperties` for maps).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import sys
import types
import typing
from decimal import Decimal
from typing import Any, Literal, Union

import stripe
from stripe._api_version import _ApiVersion
from stripe._expandable_field import ExpandableField
from stripe._list_object import ListObject
from stripe._object_classes import OBJECT_CLASSES, V2_OBJECT_CLASSES
from stripe._stripe_object import StripeObject, UntypedStripeObject

#: The objects the emulator answers with (and a few it may, for issues to come).
OBJECTS = (
    "checkout.session",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",
    "customer",
    "price",
    "product",
    "coupon",
    "promotion_code",
    "discount",
    "event",
    "webhook_endpoint",
    "billing_portal.session",
    "billing_portal.configuration",
    "test_helpers.test_clock",
    "billing.meter",
    "billing.meter_event",
    "billing.meter_event_summary",
    "entitlements.feature",
    "product_feature",
    "entitlements.active_entitlement",
    "entitlements.active_entitlement_summary",
    "error",
)

V2_OBJECTS = ("v2.billing.meter_event", "v2.billing.meter_event_session")
_REF = "#/components/schemas/"


def _namespace(module: types.ModuleType) -> dict[str, Any]:
    """The module's globals plus what it imports only for type checkers."""
    ns = dict(vars(module))
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            try:
                imported = importlib.import_module(node.module)
            except ImportError:
                continue
            for alias in node.names:
                if hasattr(imported, alias.name):
                    ns.setdefault(alias.asname or alias.name, getattr(imported, alias.name))
    return ns


class Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.by_class: dict[type, str] = {}
        self.todo: list[tuple[str, type]] = []
        for name, (mod, cls) in {**OBJECT_CLASSES, **V2_OBJECT_CLASSES}.items():
            self.by_class.setdefault(getattr(importlib.import_module(mod), cls), name)

    def resource(self, cls: type) -> dict[str, Any]:
        name = self.by_class[cls]
        if name not in self.schemas:
            self.schemas[name] = {}  # claimed: a cycle refers to it
            self.schemas[name] = self.object_schema(cls, name)
        return {"$ref": _REF + name}

    def object_schema(self, cls: type, resource_id: str | None = None) -> dict[str, Any]:
        module = sys.modules[cls.__module__]
        ns = _namespace(module)
        local: dict[str, Any] = {}
        scope: Any = module
        for part in cls.__qualname__.split("."):  # the enclosing classes' names, then its own
            scope = getattr(scope, part)
            local.update(vars(scope))
        own = type(
            cls.__name__, (), {"__annotations__": dict(vars(cls).get("__annotations__", {}))}
        )
        hints = typing.get_type_hints(own, globalns=ns, localns=local)
        props: dict[str, Any] = {}
        required: list[str] = []
        expandable: list[str] = []
        for field, hint in hints.items():
            if field.startswith("_") or typing.get_origin(hint) is typing.ClassVar:
                continue
            optional, inner = _unwrap_optional(hint)
            schema = self.schema(inner)
            if typing.get_origin(inner) is ExpandableField:
                expandable.append(field)
            if optional:
                schema = {**schema, "nullable": True}
            else:
                required.append(field)
            props[field] = schema
        out: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            out["required"] = sorted(required)
        if resource_id:
            out["x-resourceId"] = resource_id
        if expandable:
            out["x-expandableFields"] = sorted(expandable)
        return out

    def schema(self, hint: Any) -> dict[str, Any]:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is str:
            return {"type": "string"}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if hint is Decimal:
            return {"format": "decimal", "type": "string"}
        if hint is Any:
            return {}
        if origin is Literal:
            kind = "boolean" if all(isinstance(a, bool) for a in args) else "string"
            return {"enum": list(args), "type": kind}
        if origin is Union:
            literals = [a for a in args if typing.get_origin(a) is Literal]
            if literals and set(args) - set(literals) == {str}:  # an enum Stripe may widen
                values = [v for lit in literals for v in typing.get_args(lit)]
                return {"enum": values, "type": "string", "x-stripeBypassValidation": True}
            return {"anyOf": [self.schema(a) for a in args]}
        if origin in (list, typing.List):  # noqa: UP006
            return {"items": self.schema(args[0]), "type": "array"}
        if origin in (dict, typing.Dict):  # noqa: UP006
            return {"additionalProperties": self.schema(args[1]), "type": "object"}
        if origin is ExpandableField:
            return {"anyOf": [{"type": "string"}, self.schema(args[0])]}
        if origin is ListObject or origin is stripe.SearchResultObject:
            return {
                "properties": {
                    "data": {"items": self.schema(args[0]), "type": "array"},
                    "has_more": {"type": "boolean"},
                    "object": {"enum": ["list", "search_result"], "type": "string"},
                    "url": {"type": "string"},
                },
                "required": ["data", "has_more", "object", "url"],
                "type": "object",
            }
        if origin is UntypedStripeObject or hint is UntypedStripeObject:
            value = self.schema(args[0]) if args else {}
            return {"additionalProperties": value, "type": "object"}
        if isinstance(hint, type) and hint in self.by_class:
            return self.resource(hint)
        if isinstance(hint, type) and issubclass(hint, StripeObject):
            return self.object_schema(hint)
        raise TypeError(f"no schema for {hint!r}")


def _unwrap_optional(hint: Any) -> tuple[bool, Any]:
    if typing.get_origin(hint) is Union and type(None) in typing.get_args(hint):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return True, rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return False, hint


def build() -> dict[str, Any]:
    builder = Builder()
    for name in (*OBJECTS, *V2_OBJECTS):
        entry = OBJECT_CLASSES.get(name) or V2_OBJECT_CLASSES.get(name)
        if entry:
            builder.resource(getattr(importlib.import_module(entry[0]), entry[1]))
    builder.schemas["error"] = ERROR
    return {
        "openapi": "3.0.0",
        "info": {
            "title": "Stripe API (stand-in read off stripe-python's annotations)",
            "version": _ApiVersion.CURRENT,
            "x-source": f"stripe-python {stripe.VERSION}",
        },
        "paths": {},
        "components": {"schemas": dict(sorted(builder.schemas.items()))},
    }


# stripe-python has no class for an error body; its properties as the spec has them
# (stripe._error_object.ErrorObject's fields).
ERROR = {
    "properties": {
        "error": {
            "properties": {
                "advice_code": {"type": "string"},
                "charge": {"type": "string"},
                "code": {"type": "string"},
                "decline_code": {"type": "string"},
                "doc_url": {"type": "string"},
                "message": {"type": "string"},
                "network_advice_code": {"type": "string"},
                "network_decline_code": {"type": "string"},
                "param": {"type": "string"},
                "payment_intent": {"type": "object"},
                "payment_method": {"type": "object"},
                "payment_method_type": {"type": "string"},
                "request_log_url": {"type": "string"},
                "setup_intent": {"type": "object"},
                "source": {"type": "object"},
                "type": {
                    "enum": [
                        "api_error",
                        "card_error",
                        "idempotency_error",
                        "invalid_request_error",
                    ],
                    "type": "string",
                },
            },
            "required": ["type"],
            "type": "object",
        }
    },
    "required": ["error"],
    "type": "object",
}


def main() -> int:
    json.dump(build(), sys.stdout, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
