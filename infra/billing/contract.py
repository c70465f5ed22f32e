"""The contract the functions share with the program: `lambdas/shared/contract.py`, loaded.

Loaded from its file rather than imported: the program runs from infra/ and the functions'
code is not one of its packages (that module uses the standard library only). Type checkers
see the real module (mypy's path includes lambdas/).
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import TYPE_CHECKING

from billing.paths import LAMBDAS_DIR


def _load() -> ModuleType:
    path = LAMBDAS_DIR / "shared" / "contract.py"
    spec = importlib.util.spec_from_file_location("billing_contract", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve their module by name while the class body runs: register it first.
    import sys

    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from shared import contract
else:
    contract = _load()

__all__ = ["contract"]
