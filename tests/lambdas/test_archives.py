"""The handlers run from the built archives alone, with boto3 as the only other package.

Each runs in a fresh interpreter whose path is the function's zip, the layer's python/ folder
and a folder holding only boto3 and its own dependencies, as the Lambda runtime provides them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from billing.packaging import build_function_archive, build_layer_archive
from tests.support.billing_world import BillingWorld

RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py")

RUNNER = r"""
import json, sys
function_dir, layer_dir, runtime_dir, stdlib = sys.argv[1:5]
sys.path[:] = [function_dir, layer_dir, runtime_dir] + json.loads(stdlib)
import handler
response = handler.handler(json.loads(sys.stdin.read()), None)
allowed = (function_dir, layer_dir, runtime_dir) + tuple(json.loads(stdlib))
foreign = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)
print(json.dumps({"response": response, "foreign": foreign}))
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lambda")
    with zipfile.ZipFile(build_layer_archive().path) as layer:
        layer.extractall(root / "opt")
    for function in ("subscription", "stripe_webhook"):
        with zipfile.ZipFile(build_function_archive(function).path) as archive:
            archive.extractall(root / function)
    runtime = root / "runtime"
    runtime.mkdir()
    site = Path(boto3.__file__).parents[1]
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    return {"root": root, "layer": root / "opt" / "python", "runtime": runtime}


def run_from_archives(deployed: dict[str, Path], function: str, event: dict[str, Any]) -> Any:
    stdlib = [
        path
        for path in sys.path
        if path.startswith(sys.base_prefix) and "site-packages" not in path and Path(path).is_dir()
    ]
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-B", "-c", RUNNER,
         str(deployed["root"] / function), str(deployed["layer"]), str(deployed["runtime"]),
         json.dumps(stdlib)],
        input=json.dumps(event), capture_output=True, text=True, env=dict(os.environ),
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_subscription_handler_runs_from_the_archives(
    world: BillingWorld, deployed: dict[str, Path]
) -> None:
    outcome = run_from_archives(
        deployed, "subscription", world.api_event("GET", "/subscription/prices")
    )
    assert outcome["foreign"] == [], "only the archives, boto3 and the stdlib may be imported"
    assert outcome["response"]["statusCode"] == 200
    assert (
        json.loads(outcome["response"]["body"])["monthly"]
        == world.document["stripe_monthly_price_id"]
    )


def test_webhook_handler_runs_from_the_archives(
    world: BillingWorld, deployed: dict[str, Path]
) -> None:
    world.put_user("user-1", stripeCustomerId="cus_archive")
    sub = world.stripe.create_subscription("cus_archive", "price_monthlyFAKE", user_id="user-1")
    payload, header = world.stripe.signed(
        world.stripe.event("customer.subscription.updated", sub),
        world.document["stripe_webhook_secret"],
    )
    outcome = run_from_archives(deployed, "stripe_webhook", world.webhook_request(payload, header))
    assert outcome["foreign"] == []
    assert outcome["response"]["statusCode"] == 200, outcome
    record = world.user("user-1")
    assert record is not None and record["subscriptionStatus"] == "active"
