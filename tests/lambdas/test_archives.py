"""The handlers run from the built archives alone, with boto3 as the only other package."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from billing.build.packaging import build_function_archive, build_layer_archive
from tests.support.billing_world import MONTHLY_PRICE, BillingWorld
from tools.local.lambda_container import LambdaContainer, extract, runtime_packages


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lambda")
    paths = {"layer": extract(build_layer_archive().path, root / "opt") / "python"}
    for function in ("subscription", "stripe_webhook"):
        paths[function] = extract(build_function_archive(function).path, root / function)
    paths["runtime"] = runtime_packages(root / "runtime")
    return paths


def container(deployed: dict[str, Path], function: str) -> LambdaContainer:
    return LambdaContainer(
        deployed[function], deployed["layer"], deployed["runtime"], dict(os.environ),
        handler=f"{function}.handler.handler",
    )  # fmt: skip


def test_subscription_handler_runs_from_the_archives(
    world: BillingWorld, deployed: dict[str, Path]
) -> None:
    lambda_ = container(deployed, "subscription")
    response = lambda_.invoke(world.api_event("GET", "/subscription/prices"))
    lambda_.stop()
    assert lambda_.foreign_modules == [], "only the archives, boto3 and the stdlib are imported"
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["monthly"] == world.document["stripe_monthly_price_id"]


def test_webhook_handler_runs_from_the_archives(
    world: BillingWorld, deployed: dict[str, Path]
) -> None:
    world.put_user("user-1", stripeCustomerId="cus_archive")
    sub = world.stripe.create_subscription("cus_archive", MONTHLY_PRICE, user_id="user-1")
    payload, header = world.stripe.signed(
        world.stripe.event("customer.subscription.updated", sub),
        world.document["stripe_webhook_secret"],
    )
    lambda_ = container(deployed, "stripe_webhook")
    response = lambda_.invoke(world.webhook_request(payload, header))
    lambda_.stop()
    assert lambda_.foreign_modules == []
    assert response["statusCode"] == 200, response
    record = world.user("user-1")
    assert record is not None and record["subscriptionStatus"] == "active"


def test_routes_that_need_no_stripe_call_never_import_stripe(
    world: BillingWorld, deployed: dict[str, Path]
) -> None:
    world.put_user("user-1", stripeCustomerId="cus_archive", isSubscribed=False)
    for event in (
        world.api_event("GET", "/subscription/prices", user_id=None),
        world.api_event("GET", "/subscription"),
    ):
        lambda_ = container(deployed, "subscription")
        assert lambda_.invoke(event)["statusCode"] == 200
        lambda_.stop()
        assert "stripe" not in lambda_.imported, event["routeKey"]
    sub = world.stripe.create_subscription("cus_archive", MONTHLY_PRICE, user_id="user-1")
    payload, header = world.stripe.signed(
        world.stripe.event("customer.subscription.updated", sub),
        world.document["stripe_webhook_secret"],
    )
    lambda_ = container(deployed, "stripe_webhook")
    assert lambda_.invoke(world.webhook_request(payload, header))["statusCode"] == 200
    lambda_.stop()
    assert "stripe" not in lambda_.imported, "a subscription event needs only an HMAC check"


def test_a_route_that_calls_stripe_imports_it(
    world: BillingWorld, deployed: dict[str, Path]
) -> None:
    lambda_ = container(deployed, "subscription")
    event = world.api_event("POST", "/subscription/checkout", {"priceId": MONTHLY_PRICE})
    assert lambda_.invoke(event)["statusCode"] == 200
    lambda_.stop()
    assert "stripe" in lambda_.imported, "the check above would prove nothing otherwise"


def test_without_the_runtime_code_the_function_logs_json_itself(
    world: BillingWorld, deployed: dict[str, Path], tmp_path: Path
) -> None:
    """Where awslambdaric cannot be installed (macOS), a container still runs and logs JSON."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for entry in deployed["runtime"].iterdir():
        if entry.name not in ("awslambdaric", "simplejson"):
            (runtime / entry.name).symlink_to(entry.resolve())
    lambda_ = LambdaContainer(
        deployed["subscription"], deployed["layer"], runtime, dict(os.environ),
        handler="subscription.handler.handler",
    )  # fmt: skip
    response = lambda_.invoke(world.api_event("GET", "/subscription/prices"))
    logs = lambda_.stop()
    assert response["statusCode"] == 200 and "awslambdaric" not in lambda_.imported
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert [line["route"] for line in lines if "route" in line] == ["GET /subscription/prices"]
