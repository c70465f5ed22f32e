"""Stripe's request validation for the offline emulator, derived from stripe-python's typed params.

The emulator must refuse every request that Stripe itself would refuse for the API version that
stripe-python pins (`stripe._api_version._ApiVersion.CURRENT`, "2026-10-28.endive" for
stripe-python 16.1.0). The source of truth is stripe-python's generated params TypedDicts
(`stripe.params...`), which are generated from the same OpenAPI spec as that API version:

* `decode_form` is the exact inverse of `stripe._encode._api_encode` (+ `urlencode`), which is
  how stripe-python writes both form bodies and GET/DELETE query strings: nested dicts become
  `a[b][c]=v`, every list is indexed (`expand[0]=x`, `line_items[0][price]=p`, lists of lists
  `a[0][0]=x`), booleans are `true`/`false`, `None` is left out, and an empty list sends nothing.
  Rack's `expand[]=x` form (curl users, other SDKs) is accepted too.
* `validate` walks a decoded request against the params TypedDict and returns it coerced to
  Python types, or raises the `StripeError` Stripe would answer with.

What Stripe really answers (found with the `search` tool; the first error wins, as with Stripe):

* Unknown parameter: 400 `invalid_request_error`, code `parameter_unknown`, param the full
  bracketed name, message `Received unknown parameter: <param>`, doc_url
  `https://stripe.com/docs/error-codes/parameter-unknown` (stripe-node#317 and vizhub#333 show the
  raw error body; stripe-python#853 shows `idempotency_key` in a body is refused this way, which
  is why RequestOptions' own keys are never body params here).
* Missing required parameter: code `parameter_missing`, message
  `Missing required param: line_items[0][currency].` (with the trailing period: stripe-node#1114,
  stripe-php#291, code-corps-api#606).
* Bad integer: code `parameter_invalid_integer`, message `Invalid integer: 10.99`, param the name
  (a Stack Overflow answer quoting the full body, mcmap.net "stripe-how-do-you-send-decimal...").
* Bad enum: `Invalid status: must be one of active, past_due, ..., all, or ended` (stripe-python
  #686/#687: comma list with ", or" before the last value; one value alone, two joined by "or").
  The param's full bracketed name follows "Invalid". The same emulator refuses
  `Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer` with a param
  and no code, and no sample shows one, so none is sent (code null).
* Bad boolean: `Invalid boolean: True`, param set, code null (stripe-python#487; cartalyst#218 and
  Azuriom Plugin-Shop#274 show `Invalid boolean: 1`). Only `true`/`false` are booleans.
* Empty string for a parameter that cannot be unset: code `parameter_invalid_empty`, message
  `You passed an empty string for 'X'. We assume empty values are an attempt to unset a parameter;
  however 'X' cannot be unset. You should remove 'X' from your request or supply a non-empty
  value.` (nextjs/saas-starter#65, shurco/mycart#30). A value may be "" only where the params type
  has `Literal[""]` (Stripe's "unset" marker), as a value of a `Dict[str, str]` (metadata keys
  are unset that way), or where the type is untyped.
* A hash where a string is expected: `Invalid string: {"number"=>"..."}` (stripe-dotnet#178;
  Stripe renders the value Ruby-style, so does this module); a scalar where a list is expected:
  `Invalid array` (stripe-ruby#930); a scalar for metadata: `Invalid metadata: metadata must be a
  set of key-value pairs` (stripe-ruby#384; used for every `Dict[str, ...]`). No code in either.
* `limit` out of 1..100: `This value must be greater than or equal to 1.` / `This value must be
  less than or equal to 100.`, code `parameter_invalid_integer`, param `limit` (the greater-than
  spelling, with that code, is what a public Stripe emulator, `seahaven_stripe_world`'s payouts
  and refunds, says it recorded from live Stripe for `amount=0`; the less-than one is its mirror
  image, not seen recorded). Stripe documents the 1..100 range for every v1 list and
  search endpoint; it is applied to the top-level `limit` of any params class (nested `limit`s,
  e.g. payment links' `restrictions[completed_sessions][limit]`, are not pagination and are left
  alone). ExchangeRateListParams and the v2 list endpoints document other maxima; 1..100 is
  applied there too (decided, the emulator serves neither).

Decided here, where no Stripe sample was found:

* Enumerations are closed: stripe-python types every enum as `Literal[...] | str` so that new API
  values do not break old type checks; for the pinned version the Literal is the full list, so
  the `str` escape hatch is dropped whenever a union holds a non-empty Literal (it is kept beside
  `Literal[""]` alone, which means "a string, or empty to unset").
* Floats and `Decimal` fields: `Invalid decimal: <value>`, code null. Decimal fields come back as
  their (validated) string, which is what Stripe echoes in `*_decimal` fields; floats as float.
* Other shape mismatches: `Invalid object` (a scalar or a list where a hash is expected),
  `Invalid integer`/`Invalid boolean`/`Invalid string` with the value rendered Ruby-style.
* In a union, the error reported is the one from the member that got furthest: an error inside
  a nested value first (preferring one that is not `parameter_unknown`), else a member of the same
  shape (scalar or container), typed scalars before enums, never the bare `Literal[""]` marker.
  So `trial_end=abc` says `Invalid integer: abc`.
* Form keys that cannot be both a value and a hash (`a=1&a[b]=2`): 400 invalid_request_error, code
  null, param the name, message `Invalid <name>: cannot be both a value and a hash`. A repeated
  scalar key keeps its last value (as Rack, which Stripe's parser follows). A key that is not
  well bracketed (`a[b`) is kept verbatim as a name, so it is then an unknown parameter.
* JSON bodies (v2) validate too: native ints, bools and numbers are accepted where the type says
  so, alongside their string forms (v2 sends int64 as strings). `None` (JSON null) for an
  optional key is kept as `None` (v2's "unset"); for a required key it counts as missing.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
import threading
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal, NotRequired, Required, Union, get_args, get_origin

import typing_extensions
from stripe._api_version import _ApiVersion
from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject

API_VERSION: str = _ApiVersion.CURRENT
"""The API version whose params these are (stripe-python pins it)."""

LIMIT_MIN, LIMIT_MAX = 1, 100
_INT64 = 2**63
_DOC_URL = "https://stripe.com/docs/error-codes/"
_INVALID = "invalid_request_error"


@dataclass(eq=False)  # not frozen: raising sets __traceback__ (and context managers set it)
class StripeError(Exception):
    """An error answer as Stripe gives it: the HTTP status and the `error` object's fields."""

    status: int
    type: str
    message: str
    code: str | None = None
    param: str | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.type, self.message, self.code, self.param))

    def payload(self) -> dict[str, Any]:
        """{"error": {"type", "code", "param", "message", "doc_url"}} as Stripe answers."""
        doc_url = _DOC_URL + self.code.replace("_", "-") if self.code else None
        return {
            "error": {
                "type": self.type,
                "code": self.code,
                "param": self.param,
                "message": self.message,
                "doc_url": doc_url,
            }
        }


def _invalid(message: str, param: str | None, code: str | None = None) -> StripeError:
    return StripeError(400, _INVALID, message, code=code, param=param)


# --- decoding -----------------------------------------------------------------------------------

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"^(?:0|[1-9][0-9]*)$")


class _IndexedList(list[Any]):
    """A decoded list that remembers its form keys (`items[3]`), so that a hash whose keys happen
    to be numbers (`metadata[0]=x`) can be given back its keys when the schema wants a hash."""

    keys: tuple[str, ...] = ()


def _name(path: tuple[str, ...]) -> str:
    return path[0] + "".join(f"[{part}]" for part in path[1:])


def _split_key(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        return [key]
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def _conflict(path: tuple[str, ...]) -> StripeError:
    name = _name(path)
    return _invalid(f"Invalid {name}: cannot be both a value and a hash", name)


def _has_path(node: Any, parts: list[str]) -> bool:
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _next_index(node: dict[str, Any]) -> str:
    indices = [int(k) for k in node if _INDEX.match(k)]
    return str(max(indices) + 1) if indices else "0"


def _insert(root: dict[str, Any], parts: list[str], value: str) -> None:
    node = root
    path: tuple[str, ...] = (parts[0],)
    key = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise _conflict(path)
        if part == "":
            # Rack's `a[]`: append, or for `a[][k]` fill the last element until `k` repeats.
            rest = parts[i + 1 :]
            last = str(int(_next_index(child)) - 1)
            if rest and last in child and not _has_path(child[last], rest):
                part = last
            else:
                part = _next_index(child)
        node, key = child, part
        path = (*path, part)
    if isinstance(node.get(key), dict):
        raise _conflict(path)
    node[key] = value


def _finish(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    done = {k: _finish(v) for k, v in node.items()}
    if done and all(_INDEX.match(k) for k in done):
        keys = sorted(done, key=int)
        items = _IndexedList(done[k] for k in keys)
        items.keys = tuple(keys)
        return items
    return done


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (as stripe-python writes it, for bodies and query strings) back to
    nested dicts/lists of strings.

    Give it `urllib.parse.parse_qsl(text, keep_blank_values=True)`: an empty value stays "" (Stripe
    reads it as "unset"). `a[b][c]=1` -> {"a": {"b": {"c": "1"}}}; a hash whose keys are all
    indices (`items[0][price]`, `expand[0]`) or built with `[]` (`expand[]=x`) becomes a list in
    index order. Raises StripeError (400) when one key is both a value and a hash.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, _split_key(key), value)
    return {k: _finish(v) for k, v in root.items()}


# --- rendering values in messages ---------------------------------------------------------------


def _render(value: Any, nested: bool = False) -> str:
    """A value as Stripe's messages show it (Ruby's inspect for hashes and arrays)."""
    if isinstance(value, Mapping):
        inner = ", ".join(f'"{k}"=>{_render(v, True)}' for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(v, True) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil" if nested else ""
    return f'"{value}"' if nested and isinstance(value, str) else str(value)


def _one_of(values: Iterable[str]) -> str:
    shown = [v for v in values if v != ""]
    if len(shown) <= 2:
        return " or ".join(shown)
    return ", ".join(shown[:-1]) + ", or " + shown[-1]


def _empty(name: str) -> StripeError:
    return _invalid(
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' from "
        "your request or supply a non-empty value.",
        name,
        code="parameter_invalid_empty",
    )


# --- the compiled schema ------------------------------------------------------------------------


class _Node:
    """One compiled annotation: `check` returns the coerced value or raises StripeError."""

    container: ClassVar[bool] = False
    """Whether it wants a hash or a list (for picking a union's most telling error)."""
    rank: ClassVar[int] = 3
    """Preference among a union's same-shaped members' errors: lower is reported first."""

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        raise NotImplementedError


class _Any(_Node):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        return _plain(value)


class _None(_Node):
    rank = 4

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value is None:
            return None
        raise _invalid(f"Invalid {_name(path)}: must be null", _name(path))


class _Scalar(_Node):
    """A typed scalar: the form's string, or the JSON value, parsed by `parse`."""

    rank = 1
    label: ClassVar[str] = ""
    code: ClassVar[str | None] = None

    def parse(self, value: Any) -> Any:
        raise ValueError

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value == "":
            raise _empty(_name(path))
        try:
            return self.parse(value)
        except (ValueError, TypeError, InvalidOperation):
            pass
        raise _invalid(f"Invalid {self.label}: {_render(value)}", _name(path), self.code)


class _Str(_Scalar):
    label = "string"

    def parse(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        raise ValueError


_INT = re.compile(r"^-?[0-9]+$")


class _Int(_Scalar):
    label = "integer"
    code = "parameter_invalid_integer"

    def parse(self, value: Any) -> Any:
        if isinstance(value, str) and _INT.match(value):
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise ValueError
        if not -_INT64 <= number < _INT64:
            raise ValueError
        return number


class _Bool(_Scalar):
    label = "boolean"

    def parse(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise ValueError


_DECIMAL = re.compile(r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def _finite_decimal(value: Any) -> Decimal:
    if isinstance(value, str):
        if not _DECIMAL.match(value):
            raise ValueError
    elif isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError
    number = Decimal(value if not isinstance(value, float) else repr(value))
    if not number.is_finite():
        raise ValueError
    return number


class _Float(_Scalar):
    label = "decimal"

    def parse(self, value: Any) -> Any:
        return float(_finite_decimal(value))


class _Decimal(_Scalar):
    label = "decimal"

    def parse(self, value: Any) -> Any:
        _finite_decimal(value)
        return value if isinstance(value, str) else str(value)


class _Enum(_Node):
    rank = 2

    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(dict.fromkeys(values))
        self.allowed = frozenset(self.values)
        self.unset_only = self.values == ("",)

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str) and value in self.allowed:
            return value
        name = _name(path)
        if value == "":
            raise _empty(name)
        if self.unset_only:
            raise _invalid(f"Invalid {name}: must be an empty string", name)
        raise _invalid(f"Invalid {name}: must be one of {_one_of(self.values)}", name)


class _List(_Node):
    container = True

    def __init__(self, item: _Node) -> None:
        self.item = item

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value == "":
            raise _empty(_name(path))
        if not isinstance(value, list):
            raise _invalid("Invalid array", _name(path))
        keys = getattr(value, "keys", ()) or [str(i) for i in range(len(value))]
        return [self.item.check(v, (*path, k)) for k, v in zip(keys, value, strict=True)]


class _Dict(_Node):
    """`Dict[str, X]` (metadata and the like): any keys, values checked as X."""

    container = True

    def __init__(self, item: _Node) -> None:
        self.item = item
        self.unsettable = isinstance(item, _Str) or (
            isinstance(item, _Union) and any(isinstance(m, _Str) for m in item.members)
        )

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        name = _name(path)
        if value == "":
            raise _empty(name)
        if isinstance(value, list):
            keys = getattr(value, "keys", ()) or [str(i) for i in range(len(value))]
            value = dict(zip(keys, value, strict=True))
        if not isinstance(value, Mapping):
            raise _invalid(f"Invalid {name}: {name} must be a set of key-value pairs", name)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None or (item == "" and self.unsettable):
                out[key] = item
            else:
                out[key] = self.item.check(item, (*path, str(key)))
        return out


class _TypedDict(_Node):
    container = True

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.fields: dict[str, _Node] = {}
        self.required: frozenset[str] = frozenset()

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value == "" and path:
            raise _empty(_name(path))
        if not isinstance(value, Mapping):
            raise _invalid("Invalid object", _name(path) if path else None)
        for key in value:
            if key not in self.fields:
                param = _name((*path, str(key)))
                raise _invalid(f"Received unknown parameter: {param}", param, "parameter_unknown")
        for key in self.fields:
            if key in self.required and value.get(key) is None:
                param = _name((*path, key))
                raise _invalid(f"Missing required param: {param}.", param, "parameter_missing")
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key] = None if item is None else self.fields[key].check(item, (*path, key))
        return out


class _Union(_Node):
    def __init__(self, members: list[_Node]) -> None:
        self.members = members

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        errors: list[tuple[_Node, StripeError]] = []
        for member in self.members:
            try:
                return member.check(value, path)
            except StripeError as error:
                errors.append((member, error))
        raise self._telling(errors, value, _name(path))

    @staticmethod
    def _telling(errors: list[tuple[_Node, StripeError]], value: Any, name: str) -> StripeError:
        deeper = [e for _, e in errors if e.param != name]
        if deeper:
            known = [e for e in deeper if e.code != "parameter_unknown"]
            return (known or deeper)[0]
        container = isinstance(value, Mapping | list)
        useful = [
            (m, e) for m, e in errors if not (isinstance(m, _Enum) and m.unset_only)
        ] or errors
        same_shape = [(m, e) for m, e in useful if m.container == container] or useful
        return min(same_shape, key=lambda pair: pair[0].rank)[1]


# --- compiling annotations ----------------------------------------------------------------------

_LOCK = threading.RLock()
_TYPED_DICTS: dict[type, _TypedDict] = {}
_WRAPPERS = {NotRequired, Required, typing_extensions.NotRequired, typing_extensions.Required}
_LITERALS = {Literal, typing_extensions.Literal}
_UNIONS = {Union, types.UnionType}
_SCALARS: dict[Any, type[_Node]] = {
    str: _Str,
    int: _Int,
    bool: _Bool,
    float: _Float,
    Decimal: _Decimal,
    Any: _Any,
    object: _Any,
    type(None): _None,
}


def _compile(tp: Any) -> _Node:
    origin, args = get_origin(tp), get_args(tp)
    if origin in _WRAPPERS:
        return _compile(args[0])
    if tp in _SCALARS:
        return _SCALARS[tp]()
    if origin in _LITERALS:
        return _Enum(str(a) for a in args)
    if origin in _UNIONS:
        return _compile_union(args)
    if origin is list:
        return _List(_compile(args[0]))
    if origin in (dict, Mapping) or origin is UntypedStripeObject:
        return _Dict(_compile(args[-1])) if args else _Any()
    if tp is UntypedStripeObject:
        return _Any()
    if isinstance(tp, type) and typing_extensions.is_typeddict(tp):
        return _typed_dict(tp)
    raise TypeError(f"stripe_schema cannot check annotation {tp!r}")


def _compile_union(args: tuple[Any, ...]) -> _Node:
    literals = [v for a in args if get_origin(a) in _LITERALS for v in get_args(a)]
    enum = any(v != "" for v in literals)
    members: list[_Node] = [_Enum(str(v) for v in literals)] if literals else []
    seen_dict = False
    for arg in args:
        if get_origin(arg) in _LITERALS or (enum and arg is str):
            continue  # `Literal[...]|str` is a closed enum for the pinned API version
        is_dict = get_origin(arg) in (dict, Mapping, UntypedStripeObject)
        if is_dict and seen_dict:
            continue  # `Dict[str, X]|UntypedStripeObject[X]`: one check is enough
        seen_dict = seen_dict or is_dict
        members.append(_compile(arg))
    return members[0] if len(members) == 1 else _Union(members)


def _namespace(cls: type) -> dict[str, Any]:
    """The globals the class's (merged) annotations were written in: its module and its bases'."""
    namespace: dict[str, Any] = {}
    pending, seen = [cls], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        pending.extend(b for b in getattr(current, "__orig_bases__", ()) if isinstance(b, type))
        module = sys.modules.get(current.__module__)
        namespace = {**(vars(module) if module else {}), **namespace}
    return namespace


def _own_annotations(cls: type) -> dict[str, Any]:
    """The class's params, without the client options RequestOptions adds (api_key, ...)."""
    options = RequestOptions.__annotations__
    return {
        key: tp
        for key, tp in cls.__annotations__.items()
        if not (key in options and options[key] is tp)
    }


def _typed_dict(cls: type) -> _TypedDict:
    with _LOCK:
        node = _TYPED_DICTS.get(cls)
        if node is not None:
            return node
        # Registered before its fields are compiled, so a class that nests itself terminates.
        node = _TYPED_DICTS[cls] = _TypedDict(cls)
        try:
            own = _own_annotations(cls)
            holder = types.SimpleNamespace(__annotations__=own)
            hints = typing_extensions.get_type_hints(
                holder, globalns=_namespace(cls), include_extras=True
            )
            node.fields = {key: _compile(hints[key]) for key in own}
        except Exception:
            del _TYPED_DICTS[cls]
            raise
        node.required = frozenset(k for k in getattr(cls, "__required_keys__", ()) if k in own)
        return node


@dataclass(frozen=True)
class _Validator:
    root: _TypedDict

    def __call__(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.root.check(params, ())
        limit = out.get("limit")
        if isinstance(self.root.fields.get("limit"), _Int) and isinstance(limit, int):
            if limit < LIMIT_MIN:
                raise _invalid(
                    f"This value must be greater than or equal to {LIMIT_MIN}.",
                    "limit",
                    "parameter_invalid_integer",
                )
            if limit > LIMIT_MAX:
                raise _invalid(
                    f"This value must be less than or equal to {LIMIT_MAX}.",
                    "limit",
                    "parameter_invalid_integer",
                )
        return out


@functools.cache
def _validator(params_cls: type) -> _Validator:
    if not typing_extensions.is_typeddict(params_cls):
        raise TypeError(f"{params_cls!r} is not a stripe params TypedDict")
    return _Validator(_typed_dict(params_cls))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --- public -------------------------------------------------------------------------------------


def params_class(dotted: str) -> type:
    """`"checkout.SessionCreateParams"` -> stripe.params.checkout.SessionCreateParams; also
    `"SubscriptionUpdateParams"` and `"v2.billing.MeterEventStreamCreateParams"`."""
    dotted = dotted.removeprefix("stripe.params.")
    package, _, name = dotted.rpartition(".")
    module = importlib.import_module("stripe.params" + (f".{package}" if package else ""))
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and typing_extensions.is_typeddict(cls)):
        raise LookupError(f"no stripe params class {dotted!r}")
    return cls


def validate(params_cls: type, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check decoded params against the TypedDict and return them coerced to Python types: int,
    bool, float, Decimal fields as their validated string, lists and nested dicts. Raises the
    StripeError Stripe would answer with (the first problem found)."""
    return _validator(params_cls)(params)
