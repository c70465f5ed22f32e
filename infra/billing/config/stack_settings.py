"""Stack settings, parsed once from Pulumi config into a frozen dataclass of sections.

Components never read `pulumi.Config` themselves: every key is read by one section's parser
(`stripe`, `catalog`, `api`, `secrets`, `operations`), validated with a clear error naming the
key, and every secret leaves them only as a Pulumi secret `Output`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from billing.config import readers
from billing.config.api import ApiSettings, parse_api
from billing.config.catalog import CatalogSettings, parse_catalog
from billing.config.errors import SettingsError
from billing.config.keys import config_keys, refuse_unknown_keys
from billing.config.names import InvalidNameError, StackNames
from billing.config.operations import OperationsSettings, parse_operations
from billing.config.organizations import OrganizationSettings, parse_organizations
from billing.config.secrets import SecretSettings, parse_secrets
from billing.config.stripe import StripeSettings, parse_stripe


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    """Everything the program needs from one stack's config, by concern."""

    project: str
    environment: str
    names: StackNames
    """Every physical name of the stack, checked against the services' limits."""
    production: bool
    stripe: StripeSettings
    catalog: CatalogSettings
    """The plans sold, their currency and the Checkout options."""
    api: ApiSettings
    secrets: SecretSettings
    operations: OperationsSettings = field(default_factory=OperationsSettings)
    organizations: OrganizationSettings = field(default_factory=OrganizationSettings)
    """Who a token bills for (an organisation, or the user: B2C) and seats' proration."""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """`{environment}-{project}`: scopes every physical name and Stripe lookup key."""
        return self.names.prefix


def load_settings() -> StackSettings:
    """Read and validate the current stack's config."""
    return parse_settings(
        project=pulumi.get_project(),
        environment=pulumi.get_stack(),
        project_config=pulumi.Config(),
        stripe_config=pulumi.Config("stripe"),
    )


def parse_settings(
    project: str,
    environment: str,
    project_config: pulumi.Config,
    stripe_config: pulumi.Config,
) -> StackSettings:
    """Validate config into `StackSettings`; raise `SettingsError` naming the bad key."""
    refuse_unknown_keys(project, config_keys())
    try:
        names = StackNames.for_stack(environment, project)
    except InvalidNameError as error:
        raise SettingsError(str(error)) from None
    production = readers.boolean(project_config, "production", default=False)
    catalog = parse_catalog(project_config)
    _check_feature_keys(project_config, catalog, names.prefix)
    return StackSettings(
        project=project,
        environment=environment,
        names=names,
        production=production,
        stripe=parse_stripe(project_config, stripe_config, production),
        catalog=catalog,
        api=parse_api(project_config, production),
        secrets=parse_secrets(project_config),
        operations=parse_operations(project_config),
        organizations=parse_organizations(project_config, catalog),
        tags={"environment": environment, "project": project, "managed-by": "pulumi"},
    )


#: Stripe's limit on an entitlement feature's lookup key.
FEATURE_LOOKUP_KEY_MAX = 80


def _check_feature_keys(config: pulumi.Config, catalog: CatalogSettings, prefix: str) -> None:
    """Each feature becomes an entitlement feature keyed `{prefix}-{feature}` (80 characters)."""
    for plan in catalog.plans:
        for feature in plan.features:
            if len(f"{prefix}-{feature}") > FEATURE_LOOKUP_KEY_MAX:
                raise SettingsError(
                    f"{config.full_key('plans')} ({plan.id}) feature {feature!r} makes the "
                    f"lookup key {prefix}-{feature} longer than Stripe's "
                    f"{FEATURE_LOOKUP_KEY_MAX} characters: shorten it"
                )
