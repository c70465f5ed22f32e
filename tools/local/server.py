"""The local API: what API Gateway does in front of the Lambdas, on 127.0.0.1.

Routes come from the program's declarations (`DeployedStack.routes`). For each request it does
what the HTTP API would: answer CORS preflights for the allowed origins (and add the CORS
header to their responses), check the JWT on routes that require one (`devjwt`, 401 with API
Gateway's own `{"message": "Unauthorized"}`), build the payload 2.0 event with the token's
claims, and return the function's response. It also serves the demo page, `openapi.yaml`, and
two local-only helpers under /local/ (a dev token for the demo page's sign-in, and completing
an emulator Checkout). Each request is logged in one line (a 401 says why).

At the HTTP level it answers as API Gateway does: any method or path no route declares is a
404 `{"message": "Not Found"}` (never http.server's 501 HTML page), a malformed or chunked
request body is a 400 and a body over 10 MB a 413, all as JSON. Each answer goes out in one
send (headers and body together, so a keep-alive client never waits on delayed ACKs), and the
listen backlog takes a burst of connections.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from tools.local import devjwt
from tools.local.stack import NOT_FOUND, UNAUTHORIZED, DeployedStack, route_template
from tools.local.stripe_emulator import SessionNotOpenError, StripeFake

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_PAGE = Path(__file__).resolve().parent / "demo" / "index.html"
OPENAPI = REPO_ROOT / "openapi.yaml"
#: The demo page answers on these paths too: Checkout and the portal send people back there.
DEMO_PATHS = {"/", "/index.html"}
CORS_METHODS = "GET,OPTIONS,POST"
CORS_HEADERS = "authorization,content-type"

Response = tuple[int, dict[str, str], bytes]

#: API Gateway's payload limit for an HTTP API request.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Pending connections the socket holds (http.server's default, 5, drops a burst of 32).
LISTEN_BACKLOG = 128


class Handles(Protocol):
    """What the HTTP server needs of the router."""

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Response: ...


@dataclass
class LocalApi:
    """The router; `handle` is a plain function of the request, so tests can call it directly."""

    stack: DeployedStack
    jwt_key: bytes
    allowed_origins: set[str]
    demo_paths: set[str] = field(default_factory=lambda: set(DEMO_PATHS))
    emulator: StripeFake | None = None

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        url = urlsplit(target)
        lowered = {name.lower(): value for name, value in headers.items()}
        origin = lowered.get("origin")
        cors = (
            {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
            if origin in self.allowed_origins
            else {}
        )
        if method == "OPTIONS":
            return self._preflight(origin, lowered)
        if method == "GET" and url.path in self.demo_paths:
            return _file(DEMO_PAGE, "text/html; charset=utf-8")
        if method == "GET" and url.path == "/openapi.yaml":
            return _file(OPENAPI, "application/yaml")
        if url.path.startswith("/local/"):
            return self._local(method, url.path, body)
        route = self.stack.routes.get(route_template(self.stack.routes, method, url.path)[0])
        if route is None:
            return _json(404, NOT_FOUND, cors)
        claims = None
        if route.requires_jwt:
            token = lowered.get("authorization", "").removeprefix("Bearer ").strip()
            try:
                claims = devjwt.verify(token, self.jwt_key)
            except devjwt.InvalidTokenError as error:
                print(f"401 on {method} {url.path}: {error}", file=sys.stderr, flush=True)
                return _json(401, UNAUTHORIZED, {**cors, "www-authenticate": "Bearer"})
        event = self.stack.event(
            method,
            url.path,
            body.decode("utf-8", "replace") if body else None,
            claims,
            lowered,
            url.query,
        )
        response = route.container.invoke(event)
        response_headers = {**(response.get("headers") or {}), **cors}
        if not cors:  # API Gateway answers only allowed origins' CORS
            response_headers.pop("Access-Control-Allow-Origin", None)
        return response["statusCode"], response_headers, str(response.get("body", "")).encode()

    def _preflight(self, origin: str | None, headers: Mapping[str, str]) -> Response:
        wanted = headers.get("access-control-request-method", "")
        if origin not in self.allowed_origins or wanted not in CORS_METHODS.split(","):
            return 204, {}, b""
        return (
            204,
            {
                "Access-Control-Allow-Origin": str(origin),
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": CORS_HEADERS,
                "Access-Control-Max-Age": "3600",
                "Vary": "Origin",
            },
            b"",
        )

    def _local(self, method: str, path: str, body: bytes) -> Response:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "Request body must be JSON"})
        if method == "POST" and path == "/local/token":
            user = str(request.get("user") or "alice")
            org = request.get("org") if isinstance(request.get("org"), str) else None
            role = request.get("role") if isinstance(request.get("role"), str) else None
            email = request.get("email") or f"{user}@example.com"
            token = devjwt.issue(
                self.jwt_key, user, email, org=org or None, role=role if org else None
            )
            return _json(200, {"token": token})
        if method == "POST" and path == "/local/complete-checkout" and self.emulator:
            session_id = str(request.get("sessionId") or "")
            if session_id not in self.emulator.state.objects:
                return _json(404, {"error": "No such checkout session"})
            price = self.emulator.state.objects.get(
                self.emulator.state.objects[session_id]["_items"][0][0], {}
            )
            try:
                redirect = self.emulator.pay_checkout(session_id)
            except SessionNotOpenError as error:
                return _json(400, {"error": str(error)})
            paid = {key: price.get(key) for key in ("id", "unit_amount", "currency", "nickname")}
            return _json(200, {"redirect": redirect, "paid": paid})
        if path == "/local/clock" and self.emulator:
            return self._clock(method, request)
        return _json(404, NOT_FOUND)

    def _clock(self, method: str, request: Mapping[str, Any]) -> Response:
        """Offline only: the customers' test clocks (`GET`), and moving them all forward by
        `{"days": 1..31}` or `{"months": 1..2}` (`POST`); answers once every event is in."""
        assert self.emulator is not None
        if method == "POST":
            days, months = request.get("days", 0), request.get("months", 0)
            valid = (type(days) is int and 1 <= days <= 31 and months == 0) or (
                type(months) is int and 1 <= months <= 2 and days == 0
            )
            if not valid:
                return _json(400, {"error": 'Send {"days": 1..31} or {"months": 1..2}'})
            self.emulator.advance_all(days=days, months=months)
        elif method != "GET":
            return _json(405, {"error": "Method not allowed"})
        return _json(200, {"clocks": self.emulator.clocks()})


def _json(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


def _file(path: Path, content_type: str) -> Response:
    return 200, {"Content-Type": content_type}, path.read_bytes()


class LocalServer(ThreadingHTTPServer):
    """The HTTP server; its `api` may be set after binding (the port decides the origin)."""

    api: Handles | None = None
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def serve(api: Handles | None, port: int) -> LocalServer:
    """An HTTP server on 127.0.0.1:`port` (0 picks a free one, read `server_address`); set
    `api` before calling serve_forever if it was not given."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # one line per request, below

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """http.server's own refusals (a bad request line, an unknown method) as JSON."""
            self.close_connection = True
            if code == 501:  # a method no route declares: API Gateway's 404
                self._answer(*_json(404, NOT_FOUND))
            else:
                self._answer(*_json(code, {"message": message or "Bad Request"}))

        def _body(self) -> bytes | Response:
            """The request body, or the answer that refuses it."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return _json(400, {"message": "Chunked request bodies are not supported"})
            declared = self.headers.get("Content-Length") or "0"
            if not declared.isdigit():
                return _json(400, {"message": "Invalid Content-Length"})
            if int(declared) > MAX_BODY_BYTES:
                return _json(413, {"message": "Request Entity Too Large"})
            return self.rfile.read(int(declared)) if int(declared) else b""

        def _handle(self) -> None:
            started = time.perf_counter()
            body = self._body()
            if isinstance(body, tuple):
                status, headers, payload = body
                self.close_connection = True  # the unread body is not a next request
            else:
                try:
                    assert isinstance(self.server, LocalServer) and self.server.api is not None
                    status, headers, payload = self.server.api.handle(
                        self.command, self.path, dict(self.headers.items()), body
                    )
                except Exception as error:  # a handler process died: say so, keep serving
                    status, headers, payload = _json(502, {"message": "Internal Server Error"})
                    print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
            self._answer(status, headers, payload)
            elapsed = (time.perf_counter() - started) * 1000
            print(f"{self.command} {urlsplit(self.path).path} {status} {elapsed:.0f}ms", flush=True)

        def _answer(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
            """Status line, headers and body in one write."""
            self.send_response_only(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            buffered: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]
            buffered.append(b"\r\n" + payload)  # flushed in one send below
            self.flush_headers()

        do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle  # noqa: N815

    server = LocalServer(("127.0.0.1", port), Handler)
    server.api = api
    return server
