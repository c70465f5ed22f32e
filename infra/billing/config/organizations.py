"""Teams: which JWT claim names the organisation a caller acts for, who may manage its
billing, and how a seat change is prorated.

A stack without `organizationClaim` bills each user as before (B2C): nothing here applies, and
a plan may not be sold per seat. With it, a token carrying the claim acts for the organisation
`org:{value}`, and only a token whose `organizationAdminClaim` holds one of
`organizationAdminValues` may start checkout, open the portal, change seats or members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

from billing.config import readers
from billing.config.catalog import CatalogSettings
from billing.config.errors import SettingsError

#: Stripe's `proration_behavior` values for a quantity change.
SEAT_PRORATION_BEHAVIORS = ("create_prorations", "always_invoice", "none")
#: A claim name as identity providers write them (`org_id`, `custom:org_id`, a URL namespace).
CLAIM = re.compile(r"^[A-Za-z0-9_:./-]{1,128}$")


@dataclass(frozen=True)
class OrganizationSettings:
    """Who a token bills for; all None/empty on a B2C stack."""

    claim: str | None = None
    admin_claim: str | None = None
    admin_values: tuple[str, ...] = ()
    seat_proration_behavior: str = "create_prorations"

    @property
    def enabled(self) -> bool:
        return self.claim is not None


def parse_organizations(config: pulumi.Config, catalog: CatalogSettings) -> OrganizationSettings:
    """Validate the organisation keys together (each needs the others) and against the plans."""
    claim = _claim(config, "organizationClaim")
    admin_claim = _claim(config, "organizationAdminClaim")
    values = _admin_values(config)
    behaviour = readers.string(config, "seatProrationBehavior") or "create_prorations"
    if behaviour not in SEAT_PRORATION_BEHAVIORS:
        raise SettingsError(
            f"{config.full_key('seatProrationBehavior')} must be one of "
            f"{', '.join(SEAT_PRORATION_BEHAVIORS)}"
        )
    if claim is None:
        _refuse_without_claim(config, catalog, admin_claim, values)
        return OrganizationSettings(seat_proration_behavior=behaviour)
    if admin_claim is None or not values:
        raise SettingsError(
            f"{config.full_key('organizationClaim')} needs "
            f"{config.full_key('organizationAdminClaim')} and "
            f"{config.full_key('organizationAdminValues')} (who may manage billing), "
            'e.g. org_role and ["admin", "owner"]'
        )
    return OrganizationSettings(claim, admin_claim, values, behaviour)


def _refuse_without_claim(
    config: pulumi.Config,
    catalog: CatalogSettings,
    admin_claim: str | None,
    values: tuple[str, ...],
) -> None:
    if admin_claim is not None or values:
        raise SettingsError(
            f"{config.full_key('organizationAdminClaim')} and "
            f"{config.full_key('organizationAdminValues')} need "
            f"{config.full_key('organizationClaim')}: set it (e.g. org_id) or remove them"
        )
    per_seat = [plan.id for plan in catalog.plans if plan.per_seat]
    if per_seat:
        raise SettingsError(
            f"{config.full_key('plans')} sells {', '.join(per_seat)} per seat, which needs "
            f"{config.full_key('organizationClaim')}: seats belong to an organisation"
        )


def _claim(config: pulumi.Config, key: str) -> str | None:
    value = readers.string(config, key)
    if value is not None and not CLAIM.match(value):
        raise SettingsError(
            f"{config.full_key(key)} must be a JWT claim name such as org_id or custom:org_id"
        )
    return value


def _admin_values(config: pulumi.Config) -> tuple[str, ...]:
    raw = readers.structured(config, "organizationAdminValues")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
        raise SettingsError(
            f"{config.full_key('organizationAdminValues')} must be a non-empty list of strings, "
            'e.g. ["admin", "owner"]'
        )
    return tuple(raw)
