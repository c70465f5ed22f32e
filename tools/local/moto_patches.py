"""Fixes for moto's server, used only by the local emulators: DynamoDB memory that never frees.

moto (5.2.5, the newest release, and its main branch) deep-copies every table a TransactWriteItems
names, all its items, before it runs the transaction, so that it can put the copy back if the
transaction is cancelled. Every webhook copies the whole users and events tables: the time per
transaction grows with the tables, and so does the process's memory. `install()` makes that copy
the live table itself, and instead saves the items the transaction names (at most 100), putting
them back if moto's own code raises. The rest of the transaction is moto's unchanged code.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_installed = False
_in_transaction = threading.local()


class _CopyKeepingTables:
    """`copy` as moto.dynamodb.models sees it: a Table, inside a transaction, is not copied."""

    def __init__(self, table_class: type) -> None:
        self._table_class = table_class

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_class) and getattr(_in_transaction, "active", False):
            return value
        return copy.deepcopy(value, memo)


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    global _installed
    if _installed:
        return
    install_transaction_fix()
    install_untracked_items()
    install_isolated_requests()
    _installed = True


def install_isolated_requests() -> None:
    """One DynamoDB request at a time, as DynamoDB applies each request atomically.

    moto's threaded server runs requests side by side with no isolation: a TransactWriteItems
    checks an update's condition, a concurrent request writes, and moto's own update then fails
    that condition again and reports it with no item; a cancelled transaction can also put
    items back over a write made meanwhile. Concurrent webhooks under `make serve` (and the
    end-to-end races) need DynamoDB's own guarantee.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def one_at_a_time(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = one_at_a_time  # type: ignore[method-assign]


def install_untracked_items() -> None:
    """DynamoDB's items and tables are kept alive by their table alone, not also by moto.

    moto's BaseModel appends every instance it creates to a class-wide list (read only by the
    /moto-api dashboard, and emptied only by /moto-api/reset), copies included: each query
    result, each item an UpdateItem replaces. In a long session they pile up.
    """
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    def untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    for model in (Item, Table):
        model.__new__ = staticmethod(untracked_new)  # type: ignore[method-assign]


def install_transaction_fix() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    def saved_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        saved = []
        for entry in transact_items:
            try:
                op = next(iter(entry.values()))
                table = backend.get_table(op["TableName"])
                key = op["Item"] if "Item" in op else op["Key"]
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
                item = table.get_item(hash_value, range_value)
            except Exception:  # moto's own code reports a malformed operation
                continue
            saved.append((table, hash_value, range_value, copy.deepcopy(item)))
        return saved

    def restore(saved: list[tuple[Any, ...]]) -> None:
        for table, hash_value, range_value, item in reversed(saved):
            if range_value is None:
                if item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
            elif item is None:
                table.items.get(hash_value, {}).pop(range_value, None)
                if hash_value in table.items and not table.items[hash_value]:
                    del table.items[hash_value]
            else:
                table.items[hash_value][range_value] = item

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = saved_items(self, transact_items)
        _in_transaction.active = True
        try:
            original(self, transact_items)
        except BaseException:
            restore(saved)
            raise
        finally:
            _in_transaction.active = False

    models.copy = _CopyKeepingTables(Table)  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
