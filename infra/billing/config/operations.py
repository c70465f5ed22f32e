"""Running the stack: logs, alarms, the reconciliation's rhythm and SnapStart."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

from billing.config import readers
from billing.config.errors import SettingsError

#: CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip
#: Lambda's application log levels that Python's logging also knows (it reads WARN as WARNING).
#: Not ERROR: the webhook's 4xx-surge alarm counts its WARNING access lines.
LOG_LEVELS = ("DEBUG", "INFO", "WARN")


@dataclass(frozen=True)
class OperationsSettings:
    log_retention_days: int = 30
    log_level: str = "INFO"
    """The functions' LOG_LEVEL and Lambda's application log level (Lambda's level names)."""
    alarm_email: str | None = None
    """An address subscribed to the alarm topic (it must confirm the subscription)."""
    reconcile_interval_minutes: int = 60
    """How often the reconciliation replays undelivered events."""
    snap_start: bool = False
    """Lambda SnapStart for both API functions (published versions behind a `live` alias)."""


def parse_operations(config: pulumi.Config) -> OperationsSettings:
    return OperationsSettings(
        log_retention_days=_log_retention(config),
        log_level=_log_level(config),
        alarm_email=_alarm_email(config),
        reconcile_interval_minutes=_reconcile_interval(config),
        snap_start=readers.boolean(config, "snapStart", default=False),
    )


def _log_retention(config: pulumi.Config) -> int:
    days = readers.integer(config, "logRetentionDays", default=30)
    if days not in LOG_RETENTION_DAYS:
        raise SettingsError(
            f"{config.full_key('logRetentionDays')} must be one CloudWatch accepts: "
            f"{sorted(LOG_RETENTION_DAYS)}"
        )
    return days


def _log_level(config: pulumi.Config) -> str:
    level = (config.get("logLevel") or "INFO").upper()
    level = "WARN" if level == "WARNING" else level
    if level not in LOG_LEVELS:
        raise SettingsError(
            f"{config.full_key('logLevel')} must be one of {', '.join(LOG_LEVELS)} (not quieter: "
            "the webhook's alarms count its WARN and ERROR lines)"
        )
    return level


def _alarm_email(config: pulumi.Config) -> str | None:
    email = readers.string(config, "alarmEmail") or None
    if email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise SettingsError(f"{config.full_key('alarmEmail')} must be an e-mail address")
    return email


def _reconcile_interval(config: pulumi.Config) -> int:
    minutes = readers.integer(config, "reconcileIntervalMinutes", default=60)
    if not 5 <= minutes <= 1440:
        raise SettingsError(
            f"{config.full_key('reconcileIntervalMinutes')} must be between 5 and 1440 minutes "
            "(Stripe retries a failed delivery for three days; once a day still catches them)"
        )
    return minutes
