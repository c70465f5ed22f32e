"""Routes: one table of (method, path template, Stripe params class) → function.

Each route module registers its functions with `@route`; a request's form fields are decoded
and checked against the route's typed params (stripe-python's, generated from Stripe's
specification for the pinned version) before its function sees them, so a route only ever
handles a request Stripe itself would accept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.local.stripe_emulator import schema as stripe_schema
from tools.local.stripe_emulator.errors import StripeError

if TYPE_CHECKING:
    from tools.local.stripe_emulator.emulator import StripeFake
    from tools.local.stripe_emulator.state import StripeState


@dataclass
class Call:
    """One request as a route sees it: validated params and the path's ids."""

    emulator: StripeFake
    params: dict[str, Any]
    ids: dict[str, str]

    @property
    def state(self) -> StripeState:
        return self.emulator.state

    def id(self, name: str = "id") -> str:
        return self.ids[name]


Handler = Callable[[Call], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[str, ...]
    params: str | None
    """stripe.params class (dotted below `stripe.params`), or None for emulator-only routes."""
    handler: Handler

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        if method != self.method or len(parts) != len(self.segments):
            return None
        ids: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=True):
            if segment.startswith("{"):
                ids[segment.strip("{}")] = part
            elif segment != part:
                return None
        return ids

    @property
    def specificity(self) -> int:
        return sum(not s.startswith("{") for s in self.segments)


ROUTES: list[Route] = []


def route(method: str, template: str, params: str | None) -> Callable[[Handler], Handler]:
    """Register `handler` for `method template` (e.g. `POST /v1/subscriptions/{id}`)."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, tuple(template.strip("/").split("/")), params, handler))
        ROUTES.sort(key=lambda r: r.specificity, reverse=True)
        return handler

    return register


def find(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route serving `method path`, or Stripe's 404 for a URL it does not know."""
    parts = path.strip("/").split("/")
    for candidate in ROUTES:
        ids = candidate.match(method, parts)
        if ids is not None:
            return candidate, ids
    raise StripeError(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we "
        "can help at https://support.stripe.com/.",
    )


def checked_params(
    found: Route, pairs: list[tuple[str, str]], document: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The request's params (form `pairs`, or a v2 JSON `document`) validated against the
    route's params class."""
    decoded = document if document is not None else stripe_schema.decode_form(pairs)
    if found.params is None:
        return decoded
    return stripe_schema.validate(stripe_schema.params_class(found.params), decoded)


def serve(
    emulator: StripeFake, method: str, path: str, pairs: list[tuple[str, str]]
) -> Mapping[str, Any]:
    """Route one authenticated request; raises StripeError for Stripe's refusals."""
    found, ids = find(method, path)
    return found.handler(Call(emulator, checked_params(found, pairs), ids))
