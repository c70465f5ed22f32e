"""SnapStart: warm what every request needs before the snapshot, forget what must not be reused.

With `snapStart` on, Lambda runs the function's init once per published version, snapshots the
memory, and restores that snapshot for each new execution environment. Lambda marks that init
with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`; only then does `prepare_snapshot` import the
libraries and create the clients (so restores skip that work), and register `after_restore`.

Never in a snapshot: the secret document (a key rotated after the snapshot would otherwise live
on in every restored environment until its TTL) and anything unique per environment (the
clients' connection pools, whose sockets do not survive a restore, and `random`'s state, which
every restore would otherwise share). `after_restore` drops all three; the first request then
reads the current secret. The hook library (`snapshot_restore_py`) ships in Lambda's Python
runtimes; elsewhere the hook is simply not registered.
"""

from __future__ import annotations

from collections.abc import Callable

from shared import aws, secrets, stripe_client
from shared.config import runtime_config

SNAPSTART_INIT = "snap-start"


def snapshot_init() -> bool:
    """True while Lambda initialises a function version for a SnapStart snapshot."""
    return runtime_config().initialization_type == SNAPSTART_INIT


def after_restore() -> None:
    """Forget the secret document, every client and the random state of the snapshot."""
    import random  # only a restore needs it: not on every cold start's import path

    secrets.reset_cache()
    aws.reset_clients()
    stripe_client.reset_client()
    random.seed()


def prepare_snapshot(warm: Callable[[], None]) -> bool:
    """During a SnapStart init: run `warm` and register `after_restore`. True if it did."""
    if not snapshot_init():
        return False
    warm()
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # not on Lambda: nothing will restore this process
        return True
    register_after_restore(after_restore)
    return True


def warm_clients(*services: str, stripe: bool = False) -> Callable[[], None]:
    """A `warm` that imports boto3 and creates `services`' clients (and imports stripe)."""

    def warm() -> None:
        for service in services:
            aws.client(service)
        if stripe:
            import stripe as _stripe  # noqa: F401 - the import is the warming

    return warm
