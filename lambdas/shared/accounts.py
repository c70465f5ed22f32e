"""Who pays: the billing account a caller acts for, and whether it may manage billing.

On a B2C stack (no `organizationClaim`) every caller is its own billing account and manages it.
With teams, a token that carries the organisation claim acts for the organisation: its account
id is `org:{claim value}` (the record key, the Stripe customer's `userId` metadata), and only a
token whose admin claim holds one of the admin values may start checkout, open the portal or
change seats and members. A token without the claim is a user's own account, as on B2C. The
account is always read from the verified token, never from a request's body or path, so a
member of one organisation can never name another's.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import runtime_config
from shared.contract import ORGANIZATION_PREFIX
from shared.http import Caller, HttpError


@dataclass(frozen=True)
class Account:
    """The billing account of one request."""

    id: str
    """The record's key: the user id, or `org:{organisation}`."""
    user_id: str
    email: str | None
    organization_id: str | None = None
    """The organisation (the claim's value) when acting for one."""
    admin: bool = True
    """May manage billing: always for a user's own account."""

    @property
    def is_organization(self) -> bool:
        return self.organization_id is not None


def account_of(caller: Caller) -> Account:
    """The account the caller acts for, from its verified claims."""
    config = runtime_config()
    claim = config.organization_claim
    organization = caller.claims.get(claim) if claim else None
    if not isinstance(organization, str) or not organization:
        return Account(caller.user_id, caller.user_id, caller.email)
    role = caller.claims.get(config.organization_admin_claim or "")
    roles = role if isinstance(role, list) else [role]
    admin = any(isinstance(r, str) and r in config.organization_admin_values for r in roles)
    return Account(
        f"{ORGANIZATION_PREFIX}{organization}", caller.user_id, caller.email, organization, admin
    )


def require_admin(account: Account) -> None:
    """403 for an organisation member who is not one of its admins."""
    if not account.admin:
        raise HttpError(403, "Only an admin of the organisation may manage its billing")


def require_organization(account: Account) -> str:
    """The organisation id; 404 for a caller acting for no organisation."""
    if account.organization_id is None:
        raise HttpError(404, "Not found: seats and members belong to an organisation")
    return account.organization_id
