"""The functions' runtime configuration, read once from the environment.

Every variable is named in `shared.contract.Env` and set by the program from the same names.
`runtime_config()` reads them on first use and keeps them for the container's life (tests
call `reset_runtime_config()` after changing the environment). A value a function needs but was
not given fails with the variable's name, never a KeyError deep in a call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.contract import REDIRECT_PATH_DEFAULTS, Env, Table

DEFAULT_SECRETS_CACHE_TTL_SECONDS = 300.0


class MissingSettingError(RuntimeError):
    """A variable this function needs is not set (the program sets it on every function)."""


def _required(value: str | None, variable: str) -> str:
    if not value:
        raise MissingSettingError(f"{variable} is not set")
    return value


@dataclass(frozen=True)
class RuntimeConfig:
    """Non-secret settings of one function (the secrets are in the document at SECRET_ARN)."""

    secret_arn: str | None
    secrets_cache_ttl_seconds: float
    users_table_name: str | None
    events_table_name: str | None
    customer_index: str
    stack_id_value: str | None
    frontend_domain_value: str | None
    checkout_success_path: str
    checkout_cancel_path: str
    portal_return_path: str
    allow_promotion_codes: bool
    automatic_tax: bool
    log_level: str
    stripe_api_base: str | None
    """scheme://host:port of a local Stripe emulator; None in AWS."""
    stripe_meter_events_base: str | None = None
    """The same for stripe-python's `meter_events` base address (the v2 meter event stream)."""
    initialization_type: str | None = None
    """Lambda's own AWS_LAMBDA_INITIALIZATION_TYPE (`snap-start` while taking a snapshot)."""
    organization_claim: str | None = None
    """Teams: the claim naming the caller's organisation; None on a B2C stack."""
    organization_admin_claim: str | None = None
    organization_admin_values: tuple[str, ...] = ()
    seat_proration_behavior: str = "create_prorations"
    members_table_name: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> RuntimeConfig:
        env = os.environ if environ is None else environ
        flag = lambda name: env.get(name, "false").lower() == "true"  # noqa: E731
        return cls(
            secret_arn=env.get(Env.SECRET_ARN),
            secrets_cache_ttl_seconds=float(
                env.get(Env.SECRETS_CACHE_TTL_SECONDS, DEFAULT_SECRETS_CACHE_TTL_SECONDS)
            ),
            users_table_name=env.get(Env.USERS_TABLE),
            events_table_name=env.get(Env.EVENTS_TABLE),
            customer_index=env.get(Env.USERS_CUSTOMER_INDEX, Table.CUSTOMER_INDEX),
            stack_id_value=env.get(Env.STACK_ID),
            frontend_domain_value=env.get(Env.FRONTEND_DOMAIN),
            checkout_success_path=env.get(
                Env.CHECKOUT_SUCCESS_PATH, REDIRECT_PATH_DEFAULTS["checkoutSuccessPath"]
            ),
            checkout_cancel_path=env.get(
                Env.CHECKOUT_CANCEL_PATH, REDIRECT_PATH_DEFAULTS["checkoutCancelPath"]
            ),
            portal_return_path=env.get(
                Env.PORTAL_RETURN_PATH, REDIRECT_PATH_DEFAULTS["portalReturnPath"]
            ),
            allow_promotion_codes=flag(Env.ALLOW_PROMOTION_CODES),
            automatic_tax=flag(Env.AUTOMATIC_TAX),
            log_level=env.get(Env.LOG_LEVEL, "INFO").upper(),
            stripe_api_base=(env.get(Env.STRIPE_API_BASE) or "").rstrip("/") or None,
            stripe_meter_events_base=(
                (env.get(Env.STRIPE_METER_EVENTS_BASE) or "").rstrip("/") or None
            ),
            initialization_type=env.get(Env.LAMBDA_INITIALIZATION_TYPE),
            organization_claim=env.get(Env.ORGANIZATION_CLAIM) or None,
            organization_admin_claim=env.get(Env.ORGANIZATION_ADMIN_CLAIM) or None,
            organization_admin_values=tuple(
                v for v in env.get(Env.ORGANIZATION_ADMIN_VALUES, "").split(",") if v
            ),
            seat_proration_behavior=env.get(Env.SEAT_PRORATION_BEHAVIOR, "create_prorations"),
            members_table_name=env.get(Env.MEMBERS_TABLE) or None,
        )

    @property
    def users_table(self) -> str:
        return _required(self.users_table_name, Env.USERS_TABLE)

    @property
    def events_table(self) -> str:
        return _required(self.events_table_name, Env.EVENTS_TABLE)

    @property
    def members_table(self) -> str:
        return _required(self.members_table_name, Env.MEMBERS_TABLE)

    @property
    def stack_id(self) -> str:
        """`{environment}-{projectName}`, stamped on what this stack makes in Stripe."""
        return _required(self.stack_id_value, Env.STACK_ID)

    @property
    def frontend_domain(self) -> str:
        return _required(self.frontend_domain_value, Env.FRONTEND_DOMAIN).rstrip("/")


@functools.cache
def runtime_config() -> RuntimeConfig:
    """This container's configuration, read from the environment once."""
    return RuntimeConfig.from_environ()


def reset_runtime_config() -> None:
    """Read the environment again on next use (tests change it)."""
    runtime_config.cache_clear()
