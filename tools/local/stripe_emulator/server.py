"""HTTP: authenticate, record, apply idempotency, route, answer; then run what comes after.

v1 bodies are forms; v2 bodies (`/v2/...`) are JSON, as stripe-python 16 sends them, validated
against `stripe.params.v2` the same way. The meter event stream is authenticated by a meter
event session's token instead of an API key (`meters.authenticate_session`).

Idempotency as Stripe keeps it: a key's first executed request (its params validated) is
saved with its answer for 24 hours of emulator time; the same request again replays that
answer with `Idempotent-Replayed: true`; other params or another endpoint is a 400
`idempotency_error`; a request while the key's first is still running is a 409. Requests
that fail validation, authentication or routing save nothing, as in Stripe.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tools.local.stripe_emulator import meters, pages, router
from tools.local.stripe_emulator.errors import StripeError
from tools.local.stripe_emulator.objects import new_id
from tools.local.stripe_emulator.state import IDEMPOTENCY_SECONDS, IdempotentResult, RecordedRequest

if TYPE_CHECKING:
    from tools.local.stripe_emulator.emulator import StripeFake

TEST_KEYS = ("sk_test_", "rk_test_")


def json_document(path: str, method: str, body: str) -> dict[str, Any] | None:
    """A v2 POST's JSON body as a dict (None for v1 and GETs); a malformed one is a 400."""
    if method != "POST" or not path.startswith("/v2/"):
        return None
    try:
        document = json.loads(body or "{}")
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise StripeError(400, "invalid_request_error", "The request body is not a JSON object.")
    return document


def authenticate(emulator: StripeFake, authorization: str | None) -> str:
    """The request's key, or Stripe's 401 (a live key never authenticates here)."""
    if not authorization:
        raise StripeError(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    key = authorization.removeprefix("Bearer ").strip()
    state = emulator.state
    if key in state.valid_keys or (state.any_test_key and key.startswith(TEST_KEYS)):
        return key
    raise StripeError(
        401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}{'*' * 4}{key[-4:]}"
    )


def handler_for(emulator: StripeFake) -> type[BaseHTTPRequestHandler]:
    state = emulator.state

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            emulator.begin_request()
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            is_json = method == "POST" and url.path.startswith("/v2/")
            # A JSON body is idempotency-checked as one opaque pair: same bytes, same request.
            pairs = (
                [("__json__", body)]
                if is_json
                else parse_qsl(body if method == "POST" else url.query, keep_blank_values=True)
            )
            page = (
                pages.serve(emulator, method, url.path, dict(pairs))
                if emulator.hosted_pages
                else None
            )
            if page is not None:
                status, headers, data = page
                replayed = False
            else:
                status, payload, replayed = self._api(method, url.path, pairs, body)
                headers = {
                    "Content-Type": "application/json",
                    "Request-Id": new_id("req"),
                    "Stripe-Version": self.headers.get("Stripe-Version")
                    or state.settings.api_version,
                }
                if replayed:
                    headers["Idempotent-Replayed"] = "true"
                data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            emulator.end_request()

        def _api(
            self, method: str, path: str, pairs: list[tuple[str, str]], body: str
        ) -> tuple[int, dict[str, Any], bool]:
            key = self.headers.get("Idempotency-Key") if method == "POST" else None
            authorization = self.headers.get("Authorization")
            try:
                if path in meters.SESSION_AUTHENTICATED:
                    with state.lock:
                        api_key = meters.authenticate_session(
                            state, authorization, emulator.wall_time()
                        )
                else:
                    api_key = authenticate(emulator, authorization)
                # Bookkeeping under its own lock: a request never waits for another's work here.
                with state.idempotency_lock:
                    state.requests.append(
                        RecordedRequest(
                            method,
                            path,
                            dict(pairs),
                            api_key,
                            self.headers.get("Stripe-Version"),
                            key,
                        )
                    )
                    if state.fail_next > 0:
                        state.fail_next -= 1
                        raise StripeError(
                            500,
                            "api_error",
                            "An unknown error occurred (the emulator's simulated outage).",
                        )
                found, ids = router.find(method, path)
                params = router.checked_params(found, pairs, json_document(path, method, body))
                return self._execute(found, ids, params, method, path, pairs, key)
            except StripeError as refused:
                return refused.status, refused.payload(), False

        def _execute(
            self,
            found: router.Route,
            ids: dict[str, str],
            params: dict[str, Any],
            method: str,
            path: str,
            pairs: list[tuple[str, str]],
            key: str | None,
        ) -> tuple[int, dict[str, Any], bool]:
            signature = tuple(sorted(pairs))
            if key:
                with state.idempotency_lock:
                    first = state.idempotent.get(key)
                    if first is not None and emulator.wall_time() - first.at > IDEMPOTENCY_SECONDS:
                        del state.idempotent[key]
                        first = None
                    if first is not None:
                        if (first.method, first.path, first.params) != (method, path, signature):
                            raise StripeError(
                                400,
                                "idempotency_error",
                                "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with. Try using a key other "
                                "than "
                                f"'{key}' if you meant to execute a different request.",
                            )
                        return first.status, first.payload, True
                    if key in state.in_flight:
                        raise StripeError(
                            409,
                            "idempotency_error",
                            "There is currently another in-progress request using this "
                            "Stripe-Idempotency-Key (that probably means you submitted "
                            "twice, and the other request is still going through): "
                            f"{key}. Please try again later.",
                        )
                    state.in_flight.add(key)
            try:
                with state.lock:
                    try:
                        status, payload = (
                            200,
                            dict(found.handler(router.Call(emulator, params, ids))),
                        )
                    except StripeError as refused:
                        status, payload = refused.status, refused.payload()
                if key and status < 500:
                    with state.idempotency_lock:
                        state.idempotent[key] = IdempotentResult(
                            method, path, signature, status, payload, emulator.wall_time()
                        )
                if status < 300:
                    emulator.after_response(emulator.deliver)
                return status, payload, False
            finally:
                if key:
                    with state.idempotency_lock:
                        state.in_flight.discard(key)

    return Handler
