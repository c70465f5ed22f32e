"""The stack's Stripe meters, from `<project>:meters`, and a plan's metered prices (`usage`).

A meter counts one kind of usage per customer. Its `id` is stable like a plan's: it names the
meter's Pulumi resource, its event name (`{environment}_{project}_{id}`, so stacks sharing an
account never count each other's events) and the lookup keys of the prices that bill it. Stripe
lets only a meter's display name change, so a changed `aggregation` replaces the meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.config.readers import STABLE_ID
from billing.contract import contract

_METER_FIELDS = {"id", "name", "aggregation"}
#: Stripe's limit on `unit_amount_decimal`: at most 12 decimal places.
_MAX_DECIMAL_PLACES = 12


class MeterError(ValueError):
    """A meter or a plan's usage is malformed; the message names it and the field."""


@dataclass(frozen=True)
class Meter:
    """One Stripe meter."""

    id: str
    name: str
    aggregation: str = "sum"
    """`sum`, `count` or `last` of the events' values over a billing period."""

    def event_name(self, environment: str, project: str) -> str:
        """The name usage events carry for this meter, scoped to the stack."""
        return f"{environment}_{project}_{self.id}"


def parse_meters(full_key: str, raw: Any) -> tuple[Meter, ...]:
    """Validate `<project>:meters`; each error names the meter (by id or position) and field."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MeterError(f"{full_key} must be a list of meters")
    meters = [_parse_meter(f"{full_key}[{position}]", item) for position, item in enumerate(raw)]
    seen: set[str] = set()
    for position, meter in enumerate(meters):
        if meter.id in seen:
            raise MeterError(f"{full_key}[{position}].id {meter.id!r} is used by another meter")
        seen.add(meter.id)
    return tuple(meters)


def _parse_meter(where: str, item: Any) -> Meter:
    if not isinstance(item, dict):
        raise MeterError(f"{where} must be an object with id and name")
    meter_id = item.get("id")
    if not isinstance(meter_id, str) or not STABLE_ID.match(meter_id):
        raise MeterError(f"{where}.id must match {STABLE_ID.pattern}")
    where = f"{where} ({meter_id})"
    unknown = set(item) - _METER_FIELDS
    if unknown:
        raise MeterError(
            f"{where} has unknown fields {sorted(unknown)}; known: {sorted(_METER_FIELDS)}"
        )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MeterError(f"{where}.name is required: the meter's display name")
    aggregation = item.get("aggregation", "sum")
    if aggregation not in contract.METER_AGGREGATIONS:
        raise MeterError(
            f"{where}.aggregation must be one of {', '.join(contract.METER_AGGREGATIONS)}"
        )
    return Meter(id=meter_id, name=name, aggregation=aggregation)


def parse_usage(where: str, raw: Any, meter_ids: set[str]) -> dict[str, str]:
    """A plan's `usage`: meter id → unit amount as a decimal string in the smallest unit."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise MeterError(f'{where}.usage must map meter ids to unit amounts such as "0.05"')
    usage = {}
    for meter_id, amount in raw.items():
        if meter_id not in meter_ids:
            raise MeterError(
                f"{where}.usage names meter {meter_id!r}, which is not in meters "
                f"(known: {sorted(meter_ids) or 'none'})"
            )
        usage[meter_id] = _unit_amount(f"{where}.usage.{meter_id}", amount)
    return usage


def _unit_amount(where: str, raw: Any) -> str:
    """A decimal string, positive, at most 12 decimal places (Stripe's limit)."""
    if not isinstance(raw, str):
        raise MeterError(f'{where} must be a decimal string such as "0.05" (quoted)')
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise MeterError(f"{where} {raw!r} is not a decimal number") from None
    exponent = amount.as_tuple().exponent
    if (
        not amount.is_finite()
        or amount <= 0
        or (isinstance(exponent, int) and -exponent > _MAX_DECIMAL_PLACES)
    ):
        raise MeterError(f"{where} must be positive with at most 12 decimal places")
    return raw
