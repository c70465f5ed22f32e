"""Billing periods as Stripe counts them: whole months from the billing cycle anchor.

A month from January 31 is February 28 (or 29), and the month after that is March 31 again:
each period end is the anchor plus n intervals, clamped to the month's last day, not the
previous end plus one interval.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

_DAYS = {"day": 1, "week": 7}
_MONTHS = {"month": 1, "year": 12}


def nth_period_end(anchor: int, interval: str, interval_count: int, n: int) -> int:
    """The end of the `n`th period after `anchor` (n=1: the first period's end)."""
    start = datetime.fromtimestamp(anchor, UTC)
    if interval in _DAYS:
        return int((start + timedelta(days=_DAYS[interval] * interval_count * n)).timestamp())
    months = start.month - 1 + _MONTHS[interval] * interval_count * n
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())
