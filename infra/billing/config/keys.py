"""Every key the program reads, and the refusal of any other (a typo is never ignored)."""

from __future__ import annotations

import difflib

from pulumi.runtime.config import CONFIG, get_config_env

from billing.config.errors import SettingsError

#: Keys the program reads; tests check that Pulumi.yaml declares each project key.
PROJECT_KEYS = (
    "production", "stripeRuntimeKey", "stripePublishableKey", "appSecrets",
    "plans", "meters", "allowPromotionCodes", "automaticTax", "taxBehavior", "productName",
    "currency", "monthlyAmount", "annualAmount",
    "frontendDomain", "jwtIssuer", "jwtAudience", "throttleRateLimit", "throttleBurstLimit",
    "checkoutSuccessPath", "checkoutCancelPath", "portalReturnPath",
    "apiDomainName", "hostedZoneId", "certificateArn",
    "secretRecoveryWindowDays", "secretKmsKeyArn", "webhookSecretGeneration",
    "secretsCacheTtlSeconds",
    "logRetentionDays", "snapStart", "logLevel", "reconcileIntervalMinutes", "alarmEmail",
    "organizationClaim", "organizationAdminClaim", "organizationAdminValues",
    "seatProrationBehavior",
)  # fmt: skip
#: Config namespaces besides the project's: the two providers', and Pulumi's own.
OTHER_NAMESPACES = ("aws", "stripe", "pulumi")


def config_keys() -> set[str]:
    """Every config key the engine handed the program (set in the test harness or by the CLI)."""
    return set(CONFIG.get()) | set(get_config_env())


def refuse_unknown_keys(project: str, keys: set[str]) -> None:
    """A typo such as `monthlyAmmount`, or a misspelt namespace such as `sass-billing:`, would be
    silently ignored; name the closest known key."""
    for full_key in sorted(keys):
        namespace, _, key = full_key.partition(":")
        if namespace in OTHER_NAMESPACES or (namespace == project and key in PROJECT_KEYS):
            continue
        if namespace != project:
            hint = f"; did you mean {project}:{key}?" if key in PROJECT_KEYS else ""
            raise SettingsError(
                f"{full_key} is not a setting of this program: its namespace is not "
                f"{project}{hint} (remove it with: pulumi config rm {full_key})"
            )
        close = difflib.get_close_matches(key, PROJECT_KEYS, n=1)
        hint = f"; did you mean {project}:{close[0]}?" if close else ""
        raise SettingsError(
            f"{full_key} is not a setting of this program{hint} "
            f"(remove it with: pulumi config rm {full_key})"
        )
