"""Cold first response of every route, against that route's floor, on python3.12.

Before any timing, the built archives (with their python3.12 bytecode) are laid out as a Lambda
container sees them: the function folder, the layer's python/ folder and a runtime folder with
boto3 and its dependencies compiled for 3.12 (the runtime ships bytecode too), all read-only.
Each floor handler (`benchmarks/floors/`) is laid out the same way. Every sample is a fresh
`python3.12 -S -E -B` process that starts its clock, imports `handler` and answers one event;
interpreter start-up and teardown are outside the figure, and unzipping happened before.
Samples alternate between a route and its floor (the order flips each round), and each ratio
is the median over the median.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import floors
from benchmarks.stats import median
from billing.build.bytecode import find_runtime_python
from billing.build.packaging import BUILD_DIR, build_function_archive, build_layer_archive
from tools.local.lambda_container import RUNTIME_PACKAGES, extract

_PROBE = r"""
import importlib, json, sys, time
paths = json.loads(sys.argv[1])
sys.path[:0] = paths  # the Lambda runtime's path: /var/task, /opt/python, the runtime's own
start = time.perf_counter()
handler = importlib.import_module(sys.argv[2])  # `package.handler` (a floor: `handler`)
imported = time.perf_counter()
response = handler.handler(json.loads(sys.stdin.read()), None)
done = time.perf_counter()
print(json.dumps({"import": imported - start, "first": done - start,
                  "status": response["statusCode"]}))
"""

#: Route → (function folder, floor module).
ROUTES: dict[str, tuple[str, str]] = {
    "GET /subscription/prices": ("subscription", "prices"),
    "GET /subscription": ("subscription", "subscription_state"),
    "POST /subscription/checkout": ("subscription", "checkout"),
    "POST /subscription/portal": ("subscription", "portal"),
    "webhook customer.subscription.updated": ("stripe_webhook", "webhook"),
}


@dataclass(frozen=True)
class Deployment:
    """Folders laid out as Lambda containers see them, and the interpreter that runs them."""

    python: str
    layer: Path
    runtime: Path
    functions: dict[str, Path]
    floors: dict[str, Path]

    def paths(self, code: Path) -> list[str]:
        return [str(code), str(self.layer), str(self.runtime)]


def runtime_folder(python: str) -> Path:
    """boto3 and its dependencies, copied from this virtualenv and compiled for python3.12."""
    import boto3

    site = Path(boto3.__file__).parents[1]
    folder = BUILD_DIR / f"bench-runtime-{boto3.__version__}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        for name in RUNTIME_PACKAGES:
            source = site / name
            if source.is_dir():
                shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, folder / name)
        subprocess.run([python, "-m", "compileall", "-q", "-j", "0", str(folder)], check=False)
        (folder / ".complete").touch()
    return folder


def deploy(root: Path) -> Deployment:
    """Lay every archive and floor out under `root`, read-only, before anything is timed."""
    python, _ = find_runtime_python()
    shutil.rmtree(root, ignore_errors=True)
    layer = extract(build_layer_archive().directory, root / "opt") / "python"
    functions = {
        name: extract(build_function_archive(name).directory, root / name)
        for name in ("subscription", "stripe_webhook")
    }
    floor_dir = Path(floors.__file__).parent
    floor_folders = {}
    for module in {floor for _, floor in ROUTES.values()}:
        folder = root / f"floor-{module}"
        folder.mkdir(parents=True)
        shutil.copy(floor_dir / f"{module}.py", folder / "handler.py")
        subprocess.run([python, "-m", "compileall", "-q", str(folder)], check=True)
        floor_folders[module] = folder
    for path in root.rglob("*"):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return Deployment(python, layer, runtime_folder(python), functions, floor_folders)


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def probe(
    deployment: Deployment,
    code: Path,
    event: dict[str, Any],
    environment: dict[str, str],
    module: str = "handler",
) -> dict[str, Any]:
    """One cold process serving one event from `module` in `code` (a function or floor)."""
    result = subprocess.run(
        [deployment.python, "-S", "-E", "-B", "-c", _PROBE, json.dumps(deployment.paths(code)),
         module],
        input=json.dumps(event), capture_output=True, text=True, env=environment,
        check=False, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"cold probe of {code.name} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass
class RouteCold:
    """One route's paired samples."""

    handler_first: list[float] = field(default_factory=list)
    handler_import: list[float] = field(default_factory=list)
    floor_first: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return median(self.handler_first) / median(self.floor_first)


def measure(
    deployment: Deployment,
    events: Callable[[str], dict[str, Any]],
    environment: dict[str, str],
    repeats: int,
) -> dict[str, RouteCold]:
    """Alternating pairs per route: the floor first on even rounds, the handler first on odd."""
    results = {route: RouteCold() for route in ROUTES}
    for round_ in range(repeats):
        for route, (function, floor) in ROUTES.items():
            runs: list[tuple[str, Path]] = [
                ("floor", deployment.floors[floor]),
                ("handler", deployment.functions[function]),
            ]
            for kind, code in runs if round_ % 2 == 0 else reversed(runs):
                module = f"{function}.handler" if kind == "handler" else "handler"
                sample = probe(deployment, code, events(route), environment, module)
                assert sample["status"] == 200, (route, kind, sample)
                if kind == "floor":
                    results[route].floor_first.append(sample["first"])
                else:
                    results[route].handler_first.append(sample["first"])
                    results[route].handler_import.append(sample["import"])
    return results


def stripe_import_lever(deployment: Deployment, root: Path, repeats: int) -> dict[str, list[float]]:
    """`import stripe` from the layer with and without its shipped bytecode."""
    sourceless = root / "opt-no-bytecode"
    shutil.copytree(deployment.layer, sourceless, ignore=shutil.ignore_patterns("__pycache__"))
    probe_import = (
        "import sys, time, json; sys.path[:0] = json.loads(sys.argv[1]); "
        "start = time.perf_counter(); import stripe; print(time.perf_counter() - start)"
    )
    samples: dict[str, list[float]] = {"with bytecode": [], "source only": []}
    for _ in range(repeats):
        for label, layer in (("with bytecode", deployment.layer), ("source only", sourceless)):
            out = subprocess.run(
                [deployment.python, "-S", "-E", "-B", "-c", probe_import,
                 json.dumps([str(layer), str(deployment.runtime)])],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            samples[label].append(float(out.split()[-1]))
    return samples
