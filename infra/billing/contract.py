"""The contract the functions share with the program (`lambdas/shared/contract.py`).

Loaded from its file rather than imported: the program runs from infra/ and the functions'
code is not a package of the program. The module uses the standard library only.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

from billing.paths import LAMBDAS_DIR


def _load() -> ModuleType:
    path = LAMBDAS_DIR / "shared" / "contract.py"
    spec = importlib.util.spec_from_file_location("billing_contract", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load()
WEBHOOK_EVENTS: tuple[str, ...] = contract.WEBHOOK_EVENTS
STACK_ID_VARIABLE: str = contract.STACK_ID_VARIABLE
DUPLICATE_SUBSCRIPTION_OUTCOME: str = contract.DUPLICATE_SUBSCRIPTION_OUTCOME
