"""Local mode: `make serve`, `make token USER=alice`, `make complete-checkout SESSION=cs_...`.

`serve` runs the program under mocks for the stack (dev), stands what it declares up on moto's
server, runs each function from its built archive behind the local API (`tools.local.server`)
on http://127.0.0.1:PORT, and points the functions at Stripe: real test mode when
STRIPE_API_KEY holds a test key (then `stripe listen --forward-to localhost:PORT/stripe/webhook`
delivers webhooks, its whsec_ given as STRIPE_WEBHOOK_SECRET), else the bundled Stripe
emulator, whose own Checkout page signs and delivers the events Stripe would. The functions'
FRONTEND_DOMAIN is the local server (or FRONTEND_ORIGIN), so Checkout and the portal come back
to the demo page. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from billing.config import SettingsError
from billing.contract import contract
from billing.paths import BUILD_DIR
from tools.local import devjwt, real_stripe

REPO_ROOT = Path(__file__).resolve().parents[2]

JWT_KEY = BUILD_DIR / "local" / "jwt.key"
#: `make serve` writes its port here, so `make complete-checkout` finds it without PORT=.
PORT_FILE = Path(os.environ.get("SERVE_PORT_FILE") or BUILD_DIR / "local" / "serve.port")
#: ... and its usage queue's URL (on its moto server) here, for `make usage`.
USAGE_QUEUE_FILE = PORT_FILE.with_name(PORT_FILE.name + ".usage-queue")


class StartupInterrupts:
    """Ctrl-C (or SIGTERM) during start-up is noted, and acted on once start-up is done.

    Start-up runs the program under Pulumi's mocks (an event loop and worker threads) and starts
    servers and processes; an interrupt in the middle of that can strand a thread that never
    ends, and the process hangs (seen: one start in ten). So an interrupt then only sets
    `requested`; `release()` raises it where one `try` stops everything started, and from then
    on both signals raise KeyboardInterrupt at once.
    """

    def __init__(self) -> None:
        self.requested = False

    def hold(self) -> None:
        def note(signum: int, frame: Any) -> None:
            self.requested = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, note)

    def release(self) -> None:
        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        if self.requested:
            raise KeyboardInterrupt


def serve(stack_name: str, port: int) -> int:
    interrupts = StartupInterrupts()
    interrupts.hold()
    from tools import plan
    from tools.local.emulators import running_moto
    from tools.local.server import DEMO_PATHS, LocalApi
    from tools.local.server import serve as http_server
    from tools.local.stack import DeployedStack, declared_stack_id
    from tools.local.stripe_emulator import StripeFake
    from tools.local.usage_source import UsageSource
    from tools.mock_engine import run_program

    api_key = os.environ.get("STRIPE_API_KEY", "")
    if api_key:
        try:
            real_stripe.check_key(api_key)
        except real_stripe.LiveKeyError as error:
            print(f"refused: {error}", file=sys.stderr)
            return 2
    try:
        config, secret_keys = plan.stack_config(stack_name)
        recording = run_program(config, stack=stack_name, secret_keys=tuple(sorted(secret_keys)))
    except SettingsError as error:
        print(f"settings error: {error}", file=sys.stderr)
        return 2
    if interrupts.requested:  # nothing started yet
        print("stopping", flush=True)
        return 130
    try:
        server = http_server(None, port)  # bound before anything starts: --port 0 picks one
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"port {port} is in use: run PORT={port + 1} make serve (or PORT=0 for a free one)",
            file=sys.stderr,
        )
        return 2
    port = int(server.server_address[1])
    PORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    PORT_FILE.write_text(f"{port}\n")  # make complete-checkout finds this server by it
    origin = f"http://127.0.0.1:{port}"
    frontend = os.environ.get("FRONTEND_ORIGIN", origin).rstrip("/")
    project = config.get("saas-billing:frontendDomain", "")
    paths = {
        key: str(config.get(f"saas-billing:{key}") or default)
        for key, default in contract.REDIRECT_PATH_DEFAULTS.items()
    }
    # One try from the bind on: a Ctrl-C at any moment (held until the banner is out) stops
    # whatever has started, in reverse order, and never ends in a traceback.
    with contextlib.ExitStack() as started:
        started.callback(server.server_close)
        try:
            moto = started.enter_context(running_moto())
            document: dict[str, Any] = json.loads(
                recording.one("aws:secretsmanager/secretVersion:SecretVersion").inputs[
                    "secretString"
                ]
            )
            emulator: StripeFake | None = None
            if api_key:
                import stripe

                client = stripe.StripeClient(api_key)
                document = real_stripe.ensure_catalog(
                    client, recording, document, f"{stack_name}-local"
                )
                document["stripe_secret_key"] = api_key
                document["stripe_webhook_secret"] = os.environ.get(
                    "STRIPE_WEBHOOK_SECRET", document["stripe_webhook_secret"]
                )
            else:
                emulator = StripeFake(hosted_pages=True).start()
                # Each customer on a test clock of its own: the demo page's "advance" buttons.
                emulator.state.settings.clock_per_customer = True
                started.callback(emulator.stop)
                emulator.stock(document, declared_stack_id(recording))
            stack = DeployedStack(
                recording,
                moto,
                emulator,
                BUILD_DIR / "local" / "functions",
                document=document,
                environment={contract.Env.FRONTEND_DOMAIN: frontend},  # logLevel: the stack's own
                logs=None,
            )
            started.callback(stack.stop)
            USAGE_QUEUE_FILE.write_text(stack.usage_queue_url + "\n")
            usage = UsageSource(stack.boto("sqs"), stack.usage_queue_url, stack.usage_function)
            started.callback(usage.stop)
            usage.start()
            server.api = LocalApi(
                stack,
                devjwt.signing_key(JWT_KEY),
                allowed_origins={origin, frontend, f"http://localhost:{port}", project} - {""},
                demo_paths=DEMO_PATHS | set(paths.values()),
                emulator=emulator,
            )
            if emulator is not None:
                emulator.webhook = (
                    f"{origin}/stripe/webhook",
                    stack.document["stripe_webhook_secret"],
                )
            mode = (
                "real Stripe test mode"
                if api_key
                else f"the Stripe emulator at {emulator and emulator.base_url}"
            )
            print(banner(stack_name, origin, port, mode, offline=emulator is not None), flush=True)
            interrupts.release()
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0


def token(user: str, email: str | None, org: str | None = None, role: str | None = None) -> int:
    print(
        devjwt.issue(
            devjwt.signing_key(JWT_KEY), user, email or f"{user}@example.com", org=org, role=role
        )
    )
    return 0


def banner(stack_name: str, origin: str, port: int, mode: str, offline: bool) -> str:
    """What a frontend developer needs: the URLs and every local command, with this port."""
    lines = [
        f"saas-billing ({stack_name}) on {origin} with {mode}",
        f"  demo page:  {origin}/",
        f"  contract:   {origin}/openapi.yaml",
        "  a token:    TOKEN=$(make token USER=alice)",
        f'  call it:    curl -H "Authorization: Bearer $TOKEN" {origin}/subscription',
    ]
    if offline:
        lines.append(f"  pay:        make complete-checkout SESSION=cs_... PORT={port}")
        lines.append("  usage:      make usage USER=alice METER=api-calls VALUE=5")
    else:
        lines.append(f"  webhooks:   stripe listen --forward-to localhost:{port}/stripe/webhook")
    lines.append("  stop:       Ctrl-C")
    return "\n".join(lines)


def served_port() -> int:
    """The port of the running `make serve` (it writes it on start), else 8000."""
    try:
        return int(PORT_FILE.read_text().strip())
    except (OSError, ValueError):
        return 8000


def complete_checkout(session: str, port: int | None) -> int:
    """Pay an emulator Checkout Session as its Pay button does; print what was paid."""
    port = port or served_port()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/local/complete-checkout",
        data=json.dumps({"sessionId": session}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}").get("error") or error.reason
        print(f"not paid: {detail}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"no make serve answers on port {port} ({error.reason}): start it, or set PORT=",
              file=sys.stderr)  # fmt: skip
        return 1
    paid = answer.get("paid") or {}
    amount = f"{(paid.get('unit_amount') or 0) / 100:.2f} {str(paid.get('currency', '')).upper()}"
    print(f"paid {session}: {paid.get('nickname') or paid.get('id')}, {amount}", file=sys.stderr)
    print(answer["redirect"])
    return 0


def send_usage(user: str, meter: str, value: float, key: str | None) -> int:
    """Send one usage message to the running `make serve`'s queue, as a producer would."""
    import uuid

    import boto3

    try:
        url = USAGE_QUEUE_FILE.read_text().strip()
    except OSError:
        print("no make serve is running (it writes its usage queue's URL on start)",
              file=sys.stderr)  # fmt: skip
        return 1
    body = {
        contract.UsageField.USER_ID: user,
        contract.UsageField.METER: meter,
        contract.UsageField.VALUE: value,
        contract.UsageField.IDEMPOTENCY_KEY: key or uuid.uuid4().hex,
    }
    endpoint = url.split("/", 3)
    sqs = boto3.client(
        "sqs",
        endpoint_url="/".join(endpoint[:3]),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sent = sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    print(f"sent {json.dumps(body)} as message {sent['MessageId']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="the whole API on 127.0.0.1")
    serving.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    serving.add_argument("--stack", default="dev")
    tokens = commands.add_parser("token", help="print a dev JWT the local server accepts")
    tokens.add_argument("--user", default="alice")
    tokens.add_argument("--email", default=None)
    tokens.add_argument("--org", default=None, help="act for this organisation (org_id)")
    tokens.add_argument("--role", default=None, help="the organisation role (org_role): admin")
    completing = commands.add_parser("complete-checkout", help="pay an emulator Checkout")
    completing.add_argument("--session", required=True)
    completing.add_argument("--port", type=int, default=None, help="default: make serve's")
    usage = commands.add_parser("usage", help="send a usage message to make serve's queue")
    usage.add_argument("--user", required=True)
    usage.add_argument("--meter", required=True)
    usage.add_argument("--value", type=float, required=True)
    usage.add_argument("--key", default=None, help="idempotencyKey (default: a new one)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            return serve(args.stack, args.port)
        except KeyboardInterrupt:  # before the port was bound: nothing to clean up yet
            print("stopping", flush=True)
            return 130
    if args.command == "token":
        return token(args.user, args.email, args.org, args.role)
    if args.command == "usage":
        value = int(args.value) if args.value.is_integer() else args.value
        return send_usage(args.user, args.meter, value, args.key)
    return complete_checkout(args.session, args.port)


if __name__ == "__main__":
    sys.exit(main())
