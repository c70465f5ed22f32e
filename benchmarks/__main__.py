"""`make bench`: run every benchmark and print one table (median [min-max] over repeats)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import (
    clock,
    cold_start,
    dynamodb_cost,
    environment,
    package_size,
    teams_cost,
    usage_ingest,
    warm_path,
)
from benchmarks.naive import naive_fetch_secret
from benchmarks.stats import describe_ms, median, percentile
from tools.harness import (
    MONTHLY_PRICE,
    BillingWorld,
    fake_webhook_secret,
    load_function,
)

Row = tuple[str, str, str]


def _signed_updates(
    world: BillingWorld, user_id: str, customer: str, count: int
) -> list[dict[str, Any]]:
    """`count` updates of the one subscription the user's record follows, a second apart (the
    common path: each settles from its own object; an event about another subscription, or of
    the stored state's second, would re-read Stripe instead)."""
    subscription = world.stripe.create_subscription(customer, MONTHLY_PRICE, user_id=user_id)
    first = int(time.time())
    requests = []
    for index in range(count):
        event = world.stripe.event("customer.subscription.updated", subscription, first + index)
        payload, header = world.stripe.signed(event, world.document["stripe_webhook_secret"])
        requests.append(world.webhook_request(payload, header))
    return requests


def bench_cold_start(env: environment.Emulators, repeats: int) -> list[Row]:
    world, variables = env.deploy()
    world.put_user("user-cold", stripeCustomerId="cus_cold", email="cold@example.com")
    # Webhook events update a subscription in the fake: another customer keeps checkout valid.
    world.put_user("user-events", stripeCustomerId="cus_events")
    updates = iter(_signed_updates(world, "user-events", "cus_events", 4 * repeats + 4))

    def event(route: str) -> dict[str, Any]:
        if route == "GET /subscription/prices":
            return world.api_event("GET", "/subscription/prices", user_id=None)
        if route == "GET /subscription":
            return world.api_event("GET", "/subscription", user_id="user-cold")
        if route == "POST /subscription/checkout":
            body = {"priceId": MONTHLY_PRICE}
            return world.api_event("POST", "/subscription/checkout", body, user_id="user-cold")
        if route == "POST /subscription/portal":
            return world.api_event("POST", "/subscription/portal", user_id="user-cold")
        return next(updates)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        deployment = cold_start.deploy(root)
        environment = {**variables, "PATH": os.environ.get("PATH", "")}
        results = cold_start.measure(deployment, event, environment, repeats)
        for route, result in results.items():
            rows.append(
                (
                    f"cold first response: {route}",
                    describe_ms(result.handler_first),
                    f"{result.ratio:.2f}x its floor ({describe_ms(result.floor_first)}); "
                    f"import {median(result.handler_import) * 1000:.1f} ms",
                )
            )
        for label, samples in cold_start.stripe_import_lever(deployment, root, repeats).items():
            rows.append((f"cold: import stripe from the layer, {label}", describe_ms(samples), ""))
        cold_start.make_writable(root)
    return rows


def bench_warm_path(env: environment.Emulators, invocations: int) -> list[Row]:
    world, _ = env.deploy()
    subscription = load_function("subscription")
    webhook = load_function("stripe_webhook")
    world.put_user("user-1", stripeCustomerId="cus_warm")
    requests: dict[str, Callable[[int], dict[str, Any]]] = {
        "GET /subscription/prices": lambda i: world.api_event("GET", "/subscription/prices"),
        "GET /subscription": lambda i: world.api_event("GET", "/subscription"),
        "POST /subscription/portal": lambda i: world.api_event("POST", "/subscription/portal"),
        "POST /subscription/checkout": lambda i: world.api_event(
            "POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE}
        ),
    }
    rows: list[Row] = []
    for route, make in requests.items():
        subscription.handler(make(0), None)  # warm
        samples = warm_path.invoke_many(_serving(subscription, make), invocations)
        rows.append(_warm_row(f"warm: {route}", samples))
    events = _signed_updates(world, "user-1", "cus_warm", invocations + 1)
    webhook.handler(events[0], None)
    samples = warm_path.invoke_many(lambda i: webhook.handler(events[i + 1], None), invocations)
    rows.append(_warm_row("warm: webhook customer.subscription.updated", samples))
    forged = world.webhook_request('{"id": "evt_x"}', "t=1,v1=" + "0" * 64)
    samples = warm_path.invoke_many(lambda i: webhook.handler(forged, None), invocations, 400)
    rows.append(_warm_row("warm: webhook forged signature (rejected)", samples))
    lookup = warm_path.cached_secret_lookup_seconds()
    rows.append(("warm: cached secret lookup", f"{lookup * 1e6:.2f} µs", "target ≤ 5 µs"))
    return rows


def _serving(
    function: Any, make: Callable[[int], dict[str, Any]]
) -> Callable[[int], dict[str, Any]]:
    return lambda index: function.handler(make(index), None)


def _warm_row(label: str, samples: list[warm_path.WarmSample]) -> Row:
    own = [s.own_code for s in samples]
    with_sdk = [s.with_sdk for s in samples]
    total = [s.total for s in samples]
    trips = median([s.round_trips for s in samples])
    return (
        label,
        f"own code p50 {median(own) * 1000:.3f} ms, p90 {percentile(own, 0.9) * 1000:.3f}",
        f"+SDK CPU p50 {median(with_sdk) * 1000:.2f} ms; total p50 "
        f"{median(total) * 1000:.2f} ms, {trips:.0f} round trips",
    )


def bench_secret_calls(env: environment.Emulators, invocations: int) -> list[Row]:
    rows: list[Row] = []
    for ttl, label in (("300", "within one TTL window"), ("1", "across a TTL expiry")):
        world, _ = env.deploy()
        os.environ["SECRETS_CACHE_TTL_SECONDS"] = ttl
        subscription = load_function("subscription")
        world.count_secret_reads()
        event = world.api_event("GET", "/subscription/prices")
        for index in range(invocations):
            if ttl == "1" and index == invocations // 2:
                time.sleep(1.1)
            assert subscription.handler(event, None)["statusCode"] == 200
        rows.append(
            (
                f"GetSecretValue, {invocations} warm invocations, {label}",
                str(len(world.secret_reads)),
                "one per container per TTL window",
            )
        )
    world, _ = env.deploy()
    world.count_secret_reads()
    for _ in range(invocations):
        naive_fetch_secret()
    rows.append(
        (
            f"GetSecretValue, {invocations} invocations, NAIVE fetch per invocation",
            str(len(world.secret_reads)),
            "",
        )
    )
    world, _ = env.deploy()
    webhook = load_function("stripe_webhook")
    world.count_secret_reads()
    for _ in range(100):
        event = world.stripe.event("customer.subscription.updated", {"id": "sub_x"})
        payload, header = world.stripe.signed(event, fake_webhook_secret("FORGED"))
        assert webhook.handler(world.webhook_request(payload, header), None)["statusCode"] == 400
    label = "GetSecretValue, 100 forged webhooks on a cold container"
    rows.append((label, str(len(world.secret_reads)), "first load + at most one forced refresh"))
    return rows


def bench_dynamodb(env: environment.Emulators, sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    for users in sizes:
        world, _ = env.deploy()
        dynamodb_cost.populate(world, users)
        webhook = load_function("stripe_webhook")
        for named, label in ((True, "event names the user"), (False, "user found via index")):
            cost = dynamodb_cost.cost_of_update(world, webhook, users, named)
            rows.append(
                (
                    f"DynamoDB per subscription.updated, {users} users, {label}",
                    f"{len(cost.requests)} requests ({', '.join(cost.requests)})",
                    f"computed {cost.read_units:g} RCU + {cost.write_units:g} WCU",
                )
            )
        naive = dynamodb_cost.naive_cost_of_update(world, users)
        rows.append(
            (
                f"DynamoDB per subscription.updated, {users} users, NAIVE Scan",
                f"{len(naive.requests)} requests (computed at 1 MB pages)",
                f"computed {naive.read_units:g} RCU + {naive.write_units:g} WCU",
            )
        )
    return rows


def bench_teams(env: environment.Emulators, sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    for members in sizes:
        world, _ = env.deploy()
        teams_cost.populate(world, members)
        for label, requests in teams_cost.costs(world).items():
            rows.append((f"DynamoDB per {label}, {members} members", f"{len(requests)} requests",
                         ", ".join(requests)))  # fmt: skip
    return rows


def bench_reconciliation(env: environment.Emulators, events: int) -> list[Row]:
    world, _ = env.deploy()
    dynamodb_cost.populate(world, events)
    cost = dynamodb_cost.cost_of_reconciliation(world, events)
    requests = ", ".join(f"{count:g} {name}" for name, count in cost.per_event.items())
    return [
        (
            f"DynamoDB per reconciled event, {events} undelivered events",
            f"{sum(cost.per_event.values()):g} requests ({requests})",
            f"plus {len(cost.bookkeeping)} per run ({', '.join(cost.bookkeeping)})",
        )
    ]


def bench_usage(env: environment.Emulators, events: int) -> list[Row]:
    world, _ = env.deploy()
    run = usage_ingest.through_the_function(world, events)
    world, _ = env.deploy()
    naive = usage_ingest.naive(world, events)
    per_thousand = 1000 / events
    cost = usage_ingest.cost_per_million(run.batch_ms_median)
    total = sum(cost.values())
    return [
        (f"usage: events/s through one function, {events} events",
         f"{events / run.seconds:,.0f}/s", f"batch of 100: {run.batch_ms_median:.1f} ms median"),
        ("usage: Stripe requests per 1,000 events", f"{run.stripe_requests * per_thousand:g}",
         "one stream request per 100, the session reused"),
        ("usage: NAIVE Stripe requests per 1,000 events",
         f"{naive.stripe_requests * per_thousand:g}",
         f"one v1 request per event: {events / naive.seconds:,.0f}/s"),
        ("usage: cost per million events (computed)", f"${total:.3f}",
         ", ".join(f"{name} ${value:.3f}" for name, value in cost.items())),
    ]  # fmt: skip


def bench_package_size() -> list[Row]:
    rows: list[Row] = []
    for name, size in package_size.product_sizes().items():
        rows.append((f"size: {name}", f"{size.zipped / 1e6:.3f} MB zipped",
                     f"{size.unzipped / 1e6:.2f} MB unzipped"))  # fmt: skip
    naive = package_size.naive_layer_with_boto3()
    rows.append(("size: NAIVE layer that also packs boto3", f"{naive.zipped / 1e6:.3f} MB zipped",
                 f"{naive.unzipped / 1e6:.2f} MB unzipped"))  # fmt: skip
    return rows


def bench_clock(repeats: int) -> list[Row]:
    rows: list[Row] = []
    for customers in (1, 3):
        runs = [clock.simulate_year(customers) for _ in range(repeats)]
        rows.append((
            f"emulator: a year of monthly renewals, {customers} customer(s) on one clock",
            describe_ms([seconds for seconds, _ in runs]),
            f"{runs[0][1]} events delivered to a webhook endpoint",
        ))  # fmt: skip
    return rows


def bench_program(repeats: int) -> list[Row]:
    script = (
        "import sys, time; sys.path[:0] = ['infra', 'lambdas', '.']; start = time.perf_counter();"
        "from tools.mock_engine import run_program; run_program();"
        "print(time.perf_counter() - start)"
    )
    samples = [
        float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, cwd=environment.REPO_ROOT).stdout.split()[-1])
        for _ in range(repeats)
    ]  # fmt: skip
    return [("program evaluation under mocks (fresh process)", describe_ms(samples), "")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke test)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    repeats, invocations, sizes = (2, 20, [100]) if args.quick else (9, 300, [100, 1000, 10000])
    rows: list[Row] = []
    with environment.emulators() as env:
        rows += bench_cold_start(env, repeats)
        rows += bench_warm_path(env, invocations)
        rows += bench_secret_calls(env, 1000 if not args.quick else 50)
        rows += bench_dynamodb(env, sizes)
        rows += bench_reconciliation(env, 50 if args.quick else 250)
        rows += bench_usage(env, 200 if args.quick else 5000)
        rows += bench_teams(env, [10, 100] if args.quick else [10, 1000, 10000])
    rows += bench_clock(repeats)
    rows += bench_package_size()
    rows += bench_program(3 if not args.quick else 1)
    print(f"# make bench — {datetime.date.today()} — Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}, repeats={repeats}")  # fmt: skip
    width = max(len(row[0]) for row in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:<40}  {note}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
