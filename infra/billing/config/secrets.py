"""The secret document's own settings: other app secrets, encryption, recovery, caching and
the webhook signing secret's generation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.config import is_config_secret

from billing.config import readers
from billing.config.errors import SettingsError
from billing.contract import contract

#: A single-Region key id is a UUID; a multi-Region one is `mrk-` and 32 hex digits.
_KMS_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$"
)


@dataclass(frozen=True)
class SecretSettings:
    app_secrets: Mapping[str, pulumi.Output[str]]
    """Other app secrets copied verbatim into the secret document, each value a secret."""
    recovery_window_days: int
    kms_key_arn: str | None
    cache_ttl_seconds: int
    """How long the functions keep the document before reading it again."""
    webhook_secret_generation: int
    """Bumping it replaces the webhook endpoint: the only way to get a new signing secret."""


def parse_secrets(config: pulumi.Config) -> SecretSettings:
    kms_key_arn = readers.string(config, "secretKmsKeyArn") or None
    if kms_key_arn is not None and not _KMS_KEY_ARN.match(kms_key_arn):
        raise SettingsError(
            f"{config.full_key('secretKmsKeyArn')} must be a KMS key ARN "
            "(arn:aws:kms:<region>:<account>:key/<key id or mrk-...>), not an alias"
        )
    recovery_window = readers.integer(config, "secretRecoveryWindowDays", default=7)
    if not 7 <= recovery_window <= 30:
        raise SettingsError(
            f"{config.full_key('secretRecoveryWindowDays')} must be between 7 and 30 "
            "(0 would delete the secret at once, with no way back)"
        )
    return SecretSettings(
        app_secrets=_app_secrets(config),
        recovery_window_days=recovery_window,
        kms_key_arn=kms_key_arn,
        cache_ttl_seconds=readers.positive_integer(config, "secretsCacheTtlSeconds", default=300),
        webhook_secret_generation=readers.positive_integer(
            config, "webhookSecretGeneration", default=1
        ),
    )


def _app_secrets(config: pulumi.Config) -> dict[str, pulumi.Output[str]]:
    """`appSecrets`, as `pulumi config set --secret --path 'appSecrets.<name>'` stores it.

    The CLI keeps each value as a nested `secure:` entry and hands the program the whole object
    as JSON, with the top-level key marked secret (a Pulumi object holding any secure value is
    a secret as a whole).
    """
    full_key = config.full_key("appSecrets")
    text = config.get("appSecrets")
    if not text or text.strip() == "{}":  # unset, or Pulumi.yaml's empty default
        return {}
    if not is_config_secret(full_key):
        raise SettingsError(
            f"{full_key} must be a secret: "
            f"pulumi config set --secret --path '{full_key}.<name>' <value>"
        )
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise SettingsError(
            f"{full_key} must be an object of name: value pairs, set one at a time with "
            f"pulumi config set --secret --path '{full_key}.<name>' <value>"
        )
    return {str(name): _app_secret(full_key, str(name), value) for name, value in raw.items()}


def _app_secret(full_key: str, name: str, value: Any) -> pulumi.Output[str]:
    if name in contract.SecretKey.RESERVED:
        raise SettingsError(
            f"{full_key}.{name} collides with a key the program writes to the secret document"
        )
    if not isinstance(value, (str, int, float, bool)):
        raise SettingsError(f"{full_key}.{name} must be a string, number or boolean")
    if isinstance(value, bool):
        return pulumi.Output.secret("true" if value else "false")
    return pulumi.Output.secret(value if isinstance(value, str) else str(value))
