"""Object templates in Stripe's shapes, ids, and the list envelope.

The templates in objects/ are what a fresh object of each kind looks like for the pinned API
version: Stripe's defaults, with null where Stripe sends null (no placeholder timestamps).
Builders copy a template and set what the request decided.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from tools.local.stripe_emulator.errors import invalid

TEMPLATES = Path(__file__).resolve().parent / "objects"

_counter = itertools.count(1)


@cache
def _template(name: str) -> str:
    return (TEMPLATES / f"{name}.json").read_text()


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of one object template (`subscription`, `checkout.session`, ...)."""
    loaded: dict[str, Any] = json.loads(_template(name))
    return loaded


def new_id(prefix: str) -> str:
    """An id in Stripe's form: a prefix, then a unique suffix (`sub_fake0000000012`)."""
    return f"{prefix}_fake{next(_counter):010d}"


def secret_suffix() -> str:
    return secrets.token_hex(12)


def public(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as Stripe answers it: a deep copy without the emulator's `_` bookkeeping."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


def list_page(
    found: Iterable[Mapping[str, Any]], params: Mapping[str, Any], url: str
) -> dict[str, Any]:
    """One page of a list as Stripe pages it: `found` newest first, `limit` (default 10),
    `starting_after` / `ending_before` by id (an unknown id is a 400, as in Stripe)."""
    items = list(found)
    limit = int(params.get("limit", 10))
    ids = [item["id"] for item in items]
    for cursor in ("starting_after", "ending_before"):
        if cursor in params and params[cursor] not in ids:
            raise invalid(f"No such object: '{params[cursor]}'", cursor, "resource_missing")
    if "starting_after" in params:
        items = items[ids.index(params["starting_after"]) + 1 :]
        shown = items[:limit]
    elif "ending_before" in params:
        before = items[: ids.index(params["ending_before"])]
        shown = before[-limit:]
        items = before
    else:
        shown = items[:limit]
    return {
        "object": "list",
        "data": [public(item) for item in shown],
        "has_more": len(items) > len(shown),
        "url": url,
    }


def merged_metadata(
    current: Mapping[str, str] | None, changes: Mapping[str, str] | str
) -> dict[str, str]:
    """Stripe's metadata update: keys merge, an empty value removes its key, "" clears all."""
    if isinstance(changes, str):
        return {}
    merged = dict(current or {})
    for key, value in changes.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
