"""Subscription API Lambda: a thin adapter from API Gateway events to `service` functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared.http import Caller, HttpError, caller, json_body, response
from shared.log import begin_request, bind, get_logger, log_response
from shared.secrets import SecretsError
from shared.snapstart import prepare_snapshot, warm_clients
from subscription import metering, service, teams

logger = get_logger("subscription.handler")
prepare_snapshot(warm_clients("secretsmanager", "dynamodb", stripe=True))

Route = Callable[[Mapping[str, Any]], dict[str, Any]]


def _signed_in(use_case: Callable[[Caller, Mapping[str, Any]], dict[str, Any]]) -> Route:
    """A route behind the JWT authorizer: the caller is the token's `sub`, else a 401."""

    def route(event: Mapping[str, Any]) -> dict[str, Any]:
        return use_case(caller(event), event)

    return route


ROUTES: dict[str, Route] = {
    "POST /subscription/checkout": _signed_in(
        lambda who, event: service.create_checkout(who, json_body(event))
    ),
    "POST /subscription/portal": _signed_in(lambda who, event: service.create_portal_session(who)),
    "GET /subscription": _signed_in(lambda who, event: service.subscription_state(who)),
    "POST /subscription/sync": _signed_in(lambda who, event: service.sync(who)),
    "GET /subscription/usage": _signed_in(lambda who, event: metering.usage(who)),
    # Teams (declared only on a stack with organizationClaim).
    "PUT /subscription/seats": _signed_in(
        lambda who, event: teams.change_seats(who, json_body(event))
    ),
    "GET /subscription/members": _signed_in(lambda who, event: teams.list_members(who)),
    "POST /subscription/members": _signed_in(
        lambda who, event: teams.add_member(who, json_body(event))
    ),
    "DELETE /subscription/members/{userId}": _signed_in(
        lambda who, event: teams.remove_member(who, _path_parameter(event, "userId"))
    ),
    # Public: a pricing page calls it before sign-in (the route has no authorizer).
    "GET /subscription/prices": lambda event: service.prices(),
}


def _path_parameter(event: Mapping[str, Any], name: str) -> str:
    value = (event.get("pathParameters") or {}).get(name)
    if not isinstance(value, str) or not value:
        raise HttpError(400, f"{name} is missing from the path")
    return value


def route_key(event: Mapping[str, Any]) -> str:
    """`METHOD /path` of the request, as API Gateway's route key names it."""
    key = event.get("routeKey")
    if isinstance(key, str) and key in ROUTES:
        return key
    http = event.get("requestContext", {}).get("http", {})
    return f"{http.get('method', '')} {event.get('rawPath', http.get('path', ''))}"


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    begin_request(context)
    key = route_key(event)
    # Every line of a signed-in request names the user, its access line and error line included.
    with bind(userId=_signed_in_user(event)):
        answer = _answer(key, event)
        log_response(logger, key, answer["statusCode"])
    return answer


def _signed_in_user(event: Mapping[str, Any]) -> str | None:
    try:
        return caller(event).user_id
    except HttpError:
        return None


def _answer(key: str, event: Mapping[str, Any]) -> dict[str, Any]:
    route = ROUTES.get(key)
    if route is None:
        return response(404, {"error": "Not found"})
    try:
        return response(200, route(event))
    except HttpError as error:
        # A 401 here means API Gateway's authorizer was bypassed: answer in its shape, so a
        # frontend sees one 401 body whoever sends it (openapi.yaml).
        body_key = "message" if error.status == 401 else "error"
        return response(error.status, {body_key: error.message})
    except Exception as error:
        logger.error("%s failed: %s", key, type(error).__name__, extra={"route": key})
        return response(502 if _is_upstream(error) else 500, {"error": "Internal error"})


def _is_upstream(error: Exception) -> bool:
    """Stripe or AWS failed (502), as opposed to this code (500)."""
    module = type(error).__module__
    return module.startswith(("stripe", "botocore")) or isinstance(error, SecretsError)
