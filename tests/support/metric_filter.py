"""CloudWatch Logs JSON filter patterns, the subset the program uses, evaluated on a log line.

moto does not evaluate metric filters, so the tests check the program's patterns against the
lines the functions really log with this small reading of CloudWatch's documented syntax:
`{ $.field OP value && ... }`, OP one of = != >= <= > <, value a quoted string or a number. A
line that is not a JSON object, or lacks a field, does not match (as in CloudWatch); anything
else in a pattern is refused, so a new construct cannot pass unread.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import Any

_CONDITION = re.compile(r'^\$\.(\w+)\s*(=|!=|>=|<=|>|<)\s*("[^"]*"|-?\d+(?:\.\d+)?)$')
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, ">=": operator.ge,
    "<=": operator.le, ">": operator.gt, "<": operator.lt,
}  # fmt: skip


def matches(pattern: str, line: str) -> bool:
    """True when CloudWatch would count `line` for `pattern`."""
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    if not isinstance(entry, dict):
        return False
    return all(_holds(part.strip(), entry) for part in body[1:-1].split("&&"))


def _holds(condition: str, entry: dict[str, Any]) -> bool:
    found = _CONDITION.match(condition)
    if found is None:
        raise ValueError(f"unsupported condition: {condition!r}")
    field, symbol, raw = found.groups()
    if field not in entry:
        return False
    value = entry[field]
    if raw.startswith('"'):
        return isinstance(value, str) and _OPERATORS[symbol](value, raw[1:-1])
    return isinstance(value, int | float) and _OPERATORS[symbol](value, float(raw))
