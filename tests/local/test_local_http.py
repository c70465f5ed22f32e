"""The local API stand-in at the HTTP level: it answers as API Gateway does, promptly, in JSON."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tools.local.server import LISTEN_BACKLOG, LocalServer, Response, serve


class EchoApi:
    """A router that answers every request with its method and body size."""

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        payload = json.dumps({"method": method, "bytes": len(body)}).encode()
        return 200, {"Content-Type": "application/json"}, payload


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = serve(EchoApi(), 0)
    thread = threading.Thread(target=local.serve_forever, daemon=True)
    thread.start()
    yield local
    local.shutdown()
    local.server_close()


def exchange(server: LocalServer, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one answer: (status, headers, body)."""
    address = ("127.0.0.1", int(server.server_address[1]))
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(raw)
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            body += connection.recv(65536)
        return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "BREW"])
def test_an_undeclared_method_is_a_json_404_never_html(server: LocalServer, method: str) -> None:
    status, headers, body = exchange(server, f"{method} /x HTTP/1.1\r\nHost: a\r\n\r\n".encode())
    if method == "BREW":  # unknown to http.server itself
        assert status == 404 and json.loads(body) == {"message": "Not Found"}
    else:  # reaches the router, which answers for the declared routes
        assert status == 200 and json.loads(body)["method"] == method
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Content-Length: nope", 400),
        ("Content-Length: -5", 400),
        ("Transfer-Encoding: chunked", 400),
        (f"Content-Length: {10 * 1024 * 1024 + 1}", 413),
    ],
)
def test_a_bad_chunked_or_oversized_body_is_refused_in_json(
    server: LocalServer, header: str, status: int
) -> None:
    raw = f"POST /subscription/sync HTTP/1.1\r\nHost: a\r\n{header}\r\n\r\n".encode()
    answered, headers, body = exchange(server, raw)
    assert answered == status and "message" in json.loads(body)
    assert headers["connection"] == "close"


def test_each_answer_is_one_send_so_keep_alive_never_waits_on_a_delayed_ack(
    server: LocalServer,
) -> None:
    sends: list[bytes] = []
    original = socket.socket.sendall

    def recording(self: socket.socket, data: bytes, *args: Any) -> None:
        sends.append(bytes(data))
        original(self, data, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "sendall", recording)
        status, _, _ = exchange(server, b"GET /subscription HTTP/1.1\r\nHost: a\r\n\r\n")
    answers = [s for s in sends if s.startswith(b"HTTP/1.1")]
    assert status == 200 and len(answers) == 1 and answers[0].endswith(b'"bytes": 0}')


def test_a_burst_of_32_connections_is_not_dropped(server: LocalServer) -> None:
    assert server.request_queue_size == LISTEN_BACKLOG >= 32, "http.server's default is 5"
    results: list[int] = []
    request = b"GET /subscription HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    threads = [
        threading.Thread(target=lambda: results.append(exchange(server, request)[0]))
        for _ in range(32)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 32, f"{len(results)} of 32 answered in {time.monotonic() - started}s"
