"""`make serve` as a frontend developer runs it: over real HTTP, then Ctrl-C."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.local.conftest import REPO_ROOT, Served, start_serve
from tests.support import openapi
from tools.local import devjwt


def call(
    served: Served,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        served.base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def api(served: Served, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, _, payload = call(served, method, path, body, headers)
    found = openapi.problems(f"{method} {path}", {"statusCode": status, "body": payload})
    assert not found, found
    return status, json.loads(payload)


def shell_environment(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no make above it (under `make test`, a nested make
    would print "Entering directory" lines that a user's own `make` never prints)."""
    nested = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKE_TERMOUT", "MAKE_TERMERR")
    return {**{k: v for k, v in os.environ.items() if k not in nested}, **extra}


def make_token(user: str) -> str:
    """`TOKEN=$(make token USER=...)`, as the README has it: stdout is the token alone."""
    result = subprocess.run(
        ["make", "token", f"USER={user}"], cwd=REPO_ROOT, capture_output=True, text=True,
        check=True, env=shell_environment(),
    )  # fmt: skip
    token = result.stdout.strip()
    assert len(token.splitlines()) == 1 and token.count(".") == 2, result.stdout
    return token


def test_the_contract_and_the_demo_page_are_served(served: Served) -> None:
    status, headers, payload = call(served, "GET", "/openapi.yaml")
    assert status == 200 and payload == (REPO_ROOT / "openapi.yaml").read_bytes()
    status, headers, payload = call(served, "GET", "/")
    assert status == 200 and b"saas-billing demo" in payload
    assert headers["Content-Type"].startswith("text/html")


def test_prices_are_public_and_match_the_contract(served: Served) -> None:
    status, prices = api(served, "GET", "/subscription/prices")
    assert status == 200 and [plan["id"] for plan in prices["plans"]] == [
        "basic",
        "pro",
        "api",
        "team",
    ]
    assert prices["plans"][2]["usage"]["api-calls"]["monthly"]["unitAmountDecimal"] == "0.05"


def test_cors_preflight_answers_only_the_allowed_origin(served: Served) -> None:
    asked = {"Access-Control-Request-Method": "POST"}
    status, headers, _ = call(served, "OPTIONS", "/subscription/checkout",
                              headers={"Origin": served.base_url, **asked})  # fmt: skip
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == served.base_url
    assert "authorization" in headers["Access-Control-Allow-Headers"]
    status, headers, _ = call(served, "OPTIONS", "/subscription/checkout",
                              headers={"Origin": "https://evil.example", **asked})  # fmt: skip
    assert "Access-Control-Allow-Origin" not in headers


def test_a_bad_or_expired_token_is_api_gateways_401(served: Served) -> None:
    assert api(served, "GET", "/subscription", token="not-a-token") == (
        401,
        {"message": "Unauthorized"},
    )
    key = devjwt.signing_key(REPO_ROOT / "build" / "local" / "jwt.key")
    expired = devjwt.issue(key, "alice", ttl_seconds=60, now=time.time() - 3600)
    assert api(served, "GET", "/subscription", token=expired)[0] == 401
    forged = devjwt.issue(b"another key" * 3, "alice")
    assert api(served, "GET", "/subscription", token=forged)[0] == 401


def test_a_token_from_make_token_reaches_the_function_as_its_caller(served: Served) -> None:
    token = make_token("carol")
    status, state = api(served, "GET", "/subscription", token=token)
    assert status == 200 and state["isSubscribed"] is False


def test_the_whole_flow_with_the_emulator(served: Served) -> None:
    token = make_token("dave")
    _, prices = api(served, "GET", "/subscription/prices")
    pro = prices["plans"][1]["prices"]["monthly"]["id"]
    status, checkout = api(served, "POST", "/subscription/checkout", {"priceId": pro}, token)
    assert status == 200 and checkout["url"].startswith("http://127.0.0.1:")
    completed = subprocess.run(  # no PORT=: it finds the running server's port itself
        ["make", "complete-checkout", f"SESSION={checkout['sessionId']}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        env=shell_environment(SERVE_PORT_FILE=str(served.port_file)),
    )  # fmt: skip
    assert completed.stdout.strip().startswith(served.base_url + "/billing/success?session_id=")
    assert f"paid {checkout['sessionId']}: Pro (monthly), 29.00 USD" in completed.stderr
    again = subprocess.run(
        ["make", "complete-checkout", f"SESSION={checkout['sessionId']}", f"PORT={served.port}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, env=shell_environment(),
    )  # fmt: skip
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert "not paid: checkout session" in again.stderr and "is complete" in again.stderr
    status, state = api(served, "GET", "/subscription", token=token)
    assert state["isSubscribed"] is True and state["planId"] == "pro", "the webhook delivered"
    assert api(served, "POST", "/subscription/sync", token=token)[1] == state
    status, portal = api(served, "POST", "/subscription/portal", token=token)
    assert status == 200 and "/p/session/" in portal["url"]


def test_the_banner_names_every_local_command_with_its_port(served: Served) -> None:
    banner = "\n".join(served.lines)
    assert f"make complete-checkout SESSION=cs_... PORT={served.port}" in banner
    assert "TOKEN=$(make token USER=alice)" in banner
    assert (
        f"{served.base_url}/subscription" in banner and f"{served.base_url}/openapi.yaml" in banner
    )


def test_a_401_logs_why(served: Served) -> None:
    key = devjwt.signing_key(REPO_ROOT / "build" / "local" / "jwt.key")
    expired = devjwt.issue(key, "erin", ttl_seconds=60, now=time.time() - 3600)
    assert api(served, "GET", "/subscription", token=expired)[0] == 401
    served.read_until("401 on GET /subscription: expired", timeout=30)


def test_a_port_in_use_is_one_line_suggesting_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            ["make", "-s", "serve", f"PORT={port}"], cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"port {port} is in use: run PORT={port + 1} make serve" in result.stderr


def test_each_request_is_one_log_line(served: Served) -> None:
    call(served, "GET", "/subscription/prices")
    served.read_until("GET /subscription/prices 200", timeout=30)


@pytest.mark.parametrize("after", ["placeholder", "stop:"])
def test_ctrl_c_at_any_moment_stops_cleanly(after: str) -> None:
    """Interrupted while the program runs, or just as the banner prints: no traceback."""
    running = start_serve()
    running.read_until(after)
    running.stop()  # make itself reports the interrupt; the server must clean up
    assert "stopping" in running.lines, running.lines
    assert not any("Traceback" in line for line in running.lines), running.lines
    if running.port:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", running.port)) != 0, "the port must be free"


def test_a_live_key_is_refused() -> None:
    running = start_serve({"STRIPE_API_KEY": "sk_live_" + "FAKE" * 6})
    assert running.finish(timeout=120) != 0
    output = "\n".join(running.lines)
    assert "live key" in output and "FAKE" not in output


def test_make_usage_is_fed_to_the_usage_function_and_billed_once(served: Served) -> None:
    """`make usage` sends to make serve's queue on moto; the local event source feeds the
    usage function, which streams it to the emulator under the user's own customer."""
    import re

    import stripe

    from tools.mock_engine import fake_stripe_key

    token = make_token("erin")
    _, prices = api(served, "GET", "/subscription/prices")
    price = prices["plans"][0]["prices"]["monthly"]["id"]
    _, checkout = api(served, "POST", "/subscription/checkout", {"priceId": price}, token)
    emulator_url = next(
        found.group(1)
        for line in served.lines
        if (found := re.search(r"Stripe emulator at (http://\S+)", line))
    )
    client = stripe.StripeClient(
        fake_stripe_key("sk", "test", "PLACEHOLDER"), base_addresses={"api": emulator_url}
    )
    customer = str(client.v1.checkout.sessions.retrieve(checkout["sessionId"]).customer)
    meter = next(
        m for m in client.v1.billing.meters.list().data if m.event_name.endswith("_api-calls")
    )
    for _ in range(2):  # the same key twice: a producer's retry
        subprocess.run(
            ["make", "usage", "USER=erin", "METER=api-calls", "VALUE=5", "KEY=erin-1"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
            env=shell_environment(SERVE_PORT_FILE=str(served.port_file)),
        )  # fmt: skip
    now = int(time.time())
    window: Any = {"customer": customer, "start_time": now - 3600, "end_time": now + 3600}
    deadline = time.monotonic() + 30
    value = 0.0
    while time.monotonic() < deadline and value < 5:
        time.sleep(0.5)
        summaries = client.v1.billing.meters.event_summaries.list(meter.id, params=window)
        value = summaries.data[0].aggregated_value
    time.sleep(6)  # one more batching window: the retry must not count
    summaries = client.v1.billing.meters.event_summaries.list(meter.id, params=window)
    assert summaries.data[0].aggregated_value == 5
