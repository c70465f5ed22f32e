"""The Stripe keys: the provider's, the runtime's and the publishable one, test or live."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi

from billing.config import readers
from billing.config.errors import SettingsError

_TEST_KEY = re.compile(r"^(sk|rk)_test_")
_LIVE_KEY = re.compile(r"^(sk|rk)_live_")
_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_")


@dataclass(frozen=True)
class StripeSettings:
    provider_key: str = field(repr=False)
    """stripe:apiKey itself, for the program's own Stripe calls (archiving); never exported."""
    api_key: pulumi.Output[str]
    """The runtime Stripe key (stripeRuntimeKey if set, else stripe:apiKey), as a secret."""
    publishable_key: pulumi.Output[str]


def parse_stripe(
    project_config: pulumi.Config, stripe_config: pulumi.Config, production: bool
) -> StripeSettings:
    """Live keys on a production stack and test keys elsewhere; every secret key encrypted."""
    api_key = readers.secret_string(stripe_config, "apiKey", required=True)
    assert api_key is not None
    _check_key_mode("stripe:apiKey", api_key, production)
    runtime_key = readers.secret_string(project_config, "stripeRuntimeKey", required=False)
    if runtime_key:
        _check_key_mode(project_config.full_key("stripeRuntimeKey"), runtime_key, production)
    return StripeSettings(
        provider_key=api_key,
        api_key=pulumi.Output.secret(runtime_key or api_key),
        publishable_key=pulumi.Output.secret(_publishable_key(project_config, production)),
    )


def _publishable_key(config: pulumi.Config, production: bool) -> str:
    full_key = config.full_key("stripePublishableKey")
    key = readers.string(config, "stripePublishableKey")
    if not key:
        raise SettingsError(f"{full_key} is required: pulumi config set {full_key} <pk_...>")
    if not _PUBLISHABLE_KEY.match(key):
        raise SettingsError(f"{full_key} must start with pk_test_ or pk_live_")
    if production != key.startswith("pk_live_"):
        raise SettingsError(
            f"{full_key} must be a {'live' if production else 'test'} key on this stack "
            f"(production={production})"
        )
    return key


def _check_key_mode(full_key: str, key: str, production: bool) -> None:
    if production and not _LIVE_KEY.match(key):
        raise SettingsError(
            f"{full_key} must be a live key (sk_live_/rk_live_) on a production stack"
        )
    if not production and not _TEST_KEY.match(key):
        raise SettingsError(
            f"{full_key} must be a test key (sk_test_/rk_test_) on a non-production stack"
        )
