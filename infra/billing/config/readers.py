"""Typed reads of one config key, each failing with a `SettingsError` that names the key.

No message ever holds a config value: a wrongly typed secret must not be echoed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime.config import is_config_secret

from billing.config.errors import SettingsError

#: A plan's or a meter's id: stable, because it names Pulumi resources and Stripe lookup keys.
STABLE_ID = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


def string(config: pulumi.Config, key: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise SettingsError(f"{config.full_key(key)} must be a string")
    return value


def required_string(config: pulumi.Config, key: str) -> str:
    value = string(config, key)
    if not value:
        full_key = config.full_key(key)
        raise SettingsError(f"{full_key} is required: pulumi config set {full_key} <value>")
    return value


def structured(config: pulumi.Config, key: str) -> Any:
    """A structured value; a malformed one is an error naming the key, never echoing the value."""
    raw = config.get(key)
    if raw is None or not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        pass
    raise SettingsError(
        f"{config.full_key(key)} must be structured (a list or an object), not a plain string: "
        f"set it with `pulumi config set --path '{config.full_key(key)}[0]' <value>` "
        "or as a YAML list or map in the stack file"
    )


def secret_string(config: pulumi.Config, key: str, *, required: bool) -> str | None:
    """A config value that must be stored encrypted; the plain value never leaves the program."""
    full_key = config.full_key(key)
    value = config.get(key)
    if not value:
        if required:
            raise SettingsError(
                f"{full_key} is required: pulumi config set --secret {full_key} <value>"
            )
        return None
    if not is_config_secret(full_key):
        raise SettingsError(
            f"{full_key} must be a secret: pulumi config set --secret {full_key} <value>"
        )
    return value


def _typed(config: pulumi.Config, key: str, read: Callable[[str], Any], kind: str) -> Any:
    try:
        return read(key)
    except pulumi.ConfigTypeError:
        pass  # its message holds the value; ours never does
    raise SettingsError(f"{config.full_key(key)} must be {kind}")


def boolean(config: pulumi.Config, key: str, *, default: bool) -> bool:
    value = _typed(config, key, config.get_bool, "true or false")
    return default if value is None else bool(value)


def integer(config: pulumi.Config, key: str, *, default: int) -> int:
    value = _typed(config, key, config.get_int, "an integer")
    return default if value is None else int(value)


def positive_integer(config: pulumi.Config, key: str, *, default: int) -> int:
    value = integer(config, key, default=default)
    if value <= 0:
        raise SettingsError(f"{config.full_key(key)} must be a positive integer")
    return value


def integer_between(config: pulumi.Config, key: str, low: int, high: int, default: int) -> int:
    value = integer(config, key, default=default)
    if not low <= value <= high:
        raise SettingsError(f"{config.full_key(key)} must be between {low} and {high}")
    return value
