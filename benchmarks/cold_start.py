"""Cold init: a fresh interpreter imports a handler from the built archives and serves a request.

Each sample is a new process whose path is the extracted function zip, the layer's python/
folder and a folder with only boto3 (as the Lambda runtime has it), read-only and with
bytecode writing off. The floor is the same process importing only boto3 and stripe.
Interpreter start-up is outside the figures: timing starts in the process, before the import.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.stats import median
from billing.packaging import build_function_archive, build_layer_archive
from tests.support.lambda_container import extract, runtime_packages

_PROBE = r"""
import json, sys, time
paths, target, stdlib = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:] = json.loads(paths) + json.loads(stdlib)
start = time.perf_counter()
if target.startswith("client:"):  # import boto3 and create one client, as a first call does
    import boto3
    boto3.session.Session().client(target.removeprefix("client:"), region_name="us-east-1")
    print(json.dumps({"import": time.perf_counter() - start}))
elif target.startswith("modules:"):
    for name in target.removeprefix("modules:").split(","):
        __import__(name)
    imported = time.perf_counter()
    print(json.dumps({"import": imported - start}))
else:
    if target.endswith("+eager-boto3"):  # the lever switched off: boto3 imported up front
        import boto3
    import handler
    imported = time.perf_counter()
    event = sys.stdin.read()
    response = handler.handler(json.loads(event), None) if event else None
    done = time.perf_counter()
    print(json.dumps({"import": imported - start, "first": done - start,
                      "status": response and response["statusCode"]}))
"""


FLOOR = "modules:boto3,stripe"


@dataclass(frozen=True)
class Deployment:
    """Extracted archives, as a Lambda container sees them."""

    layer: Path
    functions: dict[str, Path]
    runtime: Path


def deploy(root: Path, with_bytecode: bool = False) -> Deployment:
    """Extract the built archives under `root` (and compile them, for the labelled proxy only)."""
    shutil.rmtree(root, ignore_errors=True)
    layer = extract(build_layer_archive().path, root / "opt") / "python"
    functions = {
        name: extract(build_function_archive(name).path, root / name)
        for name in ("subscription", "stripe_webhook")
    }
    if with_bytecode:  # this machine's 3.11 bytecode: a proxy, never shipped
        for folder in (layer, *functions.values()):
            compileall.compile_dir(str(folder), quiet=1)
    runtime = runtime_packages(root / "runtime")
    for path in root.rglob("*"):
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return Deployment(layer, functions, runtime)


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _stdlib() -> list[str]:
    return [
        path
        for path in sys.path
        if path.startswith(sys.base_prefix) and "site-packages" not in path and Path(path).is_dir()
    ]


def probe(
    deployment: Deployment,
    target: str,
    event: dict[str, Any] | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One cold process: `target` is "modules:a,b", a function, or a function+"+eager-boto3"."""
    paths = [str(deployment.layer), str(deployment.runtime)]
    if not target.startswith(("modules:", "client:")):
        paths.insert(0, str(deployment.functions[target.removesuffix("+eager-boto3")]))
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-B", "-c", _PROBE, json.dumps(paths), target,
         json.dumps(_stdlib())],
        input=json.dumps(event) if event else "", capture_output=True, text=True,
        env={**os.environ, **(environment or {})}, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class ColdStart:
    floor: list[float]
    imports: dict[str, list[float]]
    first_response: dict[str, list[float]]

    def ratio(self, function: str, first: bool = False) -> float:
        samples = (self.first_response if first else self.imports)[function]
        return median(samples) / median(self.floor)


def measure(
    deployment: Deployment,
    events: dict[str, dict[str, Any]],
    environment: dict[str, str],
    repeats: int,
    prepare: Any = None,
) -> ColdStart:
    """Interleave floor and handler samples so drift hits both alike."""
    floor: list[float] = []
    imports: dict[str, list[float]] = {name: [] for name in events}
    first: dict[str, list[float]] = {name: [] for name in events}
    for _ in range(repeats):
        floor.append(probe(deployment, FLOOR)["import"])
        for name, event in events.items():
            if prepare is not None:
                event = prepare(name)
            sample = probe(deployment, name, event, environment)
            assert sample["status"] in (200, 400), sample
            imports[name].append(sample["import"])
            first[name].append(sample["first"])
    return ColdStart(floor, imports, first)


def levers(deployment: Deployment, repeats: int) -> dict[str, list[float]]:
    """Import times that show what each cold-start lever is worth."""
    targets = {
        "stripe alone": "modules:stripe",
        "boto3 alone": "modules:boto3",
        "boto3 + a DynamoDB client created": "client:dynamodb",
        "subscription handler, boto3 imported eagerly (lever off)": "subscription+eager-boto3",
        "webhook handler, boto3 imported eagerly (lever off)": "stripe_webhook+eager-boto3",
    }
    samples: dict[str, list[float]] = {label: [] for label in targets}
    for _ in range(repeats):
        for label, target in targets.items():
            samples[label].append(probe(deployment, target)["import"])
    return samples
