"""Stack settings, parsed once from Pulumi config into a frozen dataclass.

Components never read `pulumi.Config` themselves: every key is read here, validated with a
clear error, and every secret leaves this module only as a Pulumi secret `Output`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

from billing.currencies import STRIPE_CURRENCIES
from billing.names import InvalidNameError, StackNames
from billing.plans import CatalogSettings, Plan, PlanError, legacy_plan, parse_plans

#: Keys of the secret document the program writes itself; app secrets may not reuse them.
DOCUMENT_KEYS = (
    "stripe_secret_key",
    "stripe_publishable_key",
    "stripe_webhook_secret",
    "stripe_monthly_price_id",
    "stripe_annual_price_id",
    "stripe_portal_configuration_id",
    "stripe_catalog",
)

_TEST_KEY = re.compile(r"^(sk|rk)_test_")
_LIVE_KEY = re.compile(r"^(sk|rk)_live_")
_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_")
_CURRENCY = re.compile(r"^[a-z]{3}$")
#: A single-Region key id is a UUID; a multi-Region one is `mrk-` and 32 hex digits.
_KMS_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$"
)
#: Values the shipped stack files hold until a user puts in their own identity provider.
_PLACEHOLDER_MARKERS = ("EXAMPLE", "example-")


#: Where Checkout and the portal send users back to, on frontendDomain.
REDIRECT_PATH_DEFAULTS = {
    "checkoutSuccessPath": "/billing/success",
    "checkoutCancelPath": "/billing/cancel",
    "portalReturnPath": "/account",
}


@dataclass(frozen=True)
class ApiDomain:
    """`apiDomainName` with the zone that validates and aliases it, and/or its certificate."""

    name: str
    hosted_zone_id: str | None
    certificate_arn: str | None


class SettingsError(ValueError):
    """A stack config value is missing or malformed; the message names the key, never a value."""


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    """Everything the program needs from one stack's config."""

    project: str
    environment: str
    names: StackNames
    """Every physical name of the stack, checked against the services' limits."""
    production: bool
    stripe_provider_key: str = field(repr=False)
    """stripe:apiKey itself, for the program's own Stripe calls (archiving); never exported."""
    stripe_api_key: pulumi.Output[str]
    """The runtime Stripe key (stripeRuntimeKey if set, else stripe:apiKey), as a secret."""
    stripe_publishable_key: pulumi.Output[str]
    app_secrets: Mapping[str, pulumi.Output[str]]
    """Other app secrets copied verbatim into the secret document, each value a secret."""
    catalog: CatalogSettings
    """The plans sold, their currency and the Checkout options."""
    frontend_domain: str
    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    secret_recovery_window_days: int
    secret_kms_key_arn: str | None
    webhook_secret_generation: int
    log_retention_days: int
    secrets_cache_ttl_seconds: int
    throttle_rate_limit: int
    throttle_burst_limit: int
    redirect_paths: Mapping[str, str] = field(default_factory=lambda: dict(REDIRECT_PATH_DEFAULTS))
    """checkoutSuccessPath, checkoutCancelPath, portalReturnPath: where the frontend gets users
    back after Checkout and the billing portal (paths on frontendDomain)."""
    alarm_email: str | None = None
    """An address subscribed to the alarm topic (it must confirm the subscription)."""
    api_domain: ApiDomain | None = None
    """The API's own domain name, when configured."""
    reconcile_interval_minutes: int = 60
    """How often the reconciliation replays undelivered events."""
    snap_start: bool = False
    """Lambda SnapStart for both API functions (published versions behind a `live` alias)."""
    log_level: str = "INFO"
    """The functions' LOG_LEVEL and Lambda's application log level (Lambda's level names)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """`{environment}-{project}`: scopes every physical name and Stripe lookup key."""
        return self.names.prefix


# Keys the program reads; tests check that Pulumi.yaml declares each project key.
PROJECT_KEYS = (
    "production",
    "stripeRuntimeKey",
    "stripePublishableKey",
    "appSecrets",
    "plans",
    "allowPromotionCodes",
    "automaticTax",
    "taxBehavior",
    "productName",
    "currency",
    "monthlyAmount",
    "annualAmount",
    "frontendDomain",
    "jwtIssuer",
    "jwtAudience",
    "secretRecoveryWindowDays",
    "secretKmsKeyArn",
    "webhookSecretGeneration",
    "logRetentionDays",
    "secretsCacheTtlSeconds",
    "throttleRateLimit",
    "throttleBurstLimit",
    "snapStart",
    "logLevel",
    "reconcileIntervalMinutes",
    "checkoutSuccessPath",
    "checkoutCancelPath",
    "portalReturnPath",
    "alarmEmail",
    "apiDomainName",
    "hostedZoneId",
    "certificateArn",
)

# CloudWatch Logs accepts only these retention periods.
_LOG_RETENTION_DAYS = frozenset(
    {
        1,
        3,
        5,
        7,
        14,
        30,
        60,
        90,
        120,
        150,
        180,
        365,
        400,
        545,
        731,
        1096,
        1827,
        2192,
        2557,
        2922,
        3288,
        3653,
    }
)


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
    """Validate config into `StackSettings`; raise `SettingsError` naming the bad key.

    No message ever holds a config value: a wrongly typed secret must not be echoed.
    """
    _refuse_unknown_keys(project)
    try:
        names = StackNames.for_stack(environment, project)
    except InvalidNameError as error:
        raise SettingsError(str(error)) from None
    production = _boolean(project_config, "production", default=False)

    api_key = _secret_string(stripe_config, "apiKey", required=True)
    assert api_key is not None
    _check_key_mode("stripe:apiKey", api_key, production)
    runtime_key = _secret_string(project_config, "stripeRuntimeKey", required=False)
    if runtime_key:
        _check_key_mode(f"{project}:stripeRuntimeKey", runtime_key, production)

    publishable_key = _string(project_config, "stripePublishableKey")
    if not publishable_key:
        raise SettingsError(
            f"{project}:stripePublishableKey is required: "
            f"pulumi config set {project}:stripePublishableKey <pk_...>"
        )
    if not _PUBLISHABLE_KEY.match(publishable_key):
        raise SettingsError(f"{project}:stripePublishableKey must start with pk_test_ or pk_live_")
    if production != publishable_key.startswith("pk_live_"):
        raise SettingsError(
            f"{project}:stripePublishableKey must be a "
            f"{'live' if production else 'test'} key on this stack (production={production})"
        )

    currency = (_string(project_config, "currency") or "usd").lower()
    if not _CURRENCY.match(currency):
        raise SettingsError(f"{project}:currency must be a 3-letter ISO code such as usd")
    if currency not in STRIPE_CURRENCIES:
        raise SettingsError(
            f"{project}:currency {currency} is not a currency Stripe charges in "
            "(see docs.stripe.com/currencies): set one such as usd or eur"
        )
    automatic_tax = _boolean(project_config, "automaticTax", default=False)
    tax_behavior = _tax_behavior(project, project_config, automatic_tax)

    kms_key_arn = _string(project_config, "secretKmsKeyArn") or None
    if kms_key_arn is not None and not _KMS_KEY_ARN.match(kms_key_arn):
        raise SettingsError(
            f"{project}:secretKmsKeyArn must be a KMS key ARN "
            "(arn:aws:kms:<region>:<account>:key/<key id or mrk-...>), not an alias"
        )

    recovery_window = _integer(project_config, "secretRecoveryWindowDays", default=7)
    if not 7 <= recovery_window <= 30:
        raise SettingsError(
            f"{project}:secretRecoveryWindowDays must be between 7 and 30 "
            "(0 would delete the secret at once, with no way back)"
        )

    log_retention = _integer(project_config, "logRetentionDays", default=30)
    if log_retention not in _LOG_RETENTION_DAYS:
        raise SettingsError(
            f"{project}:logRetentionDays must be one CloudWatch accepts: "
            f"{sorted(_LOG_RETENTION_DAYS)}"
        )

    frontend_domain = _required_string(project, project_config, "frontendDomain").rstrip("/")
    if not re.match(r"^https?://[^/\s]+$", frontend_domain):
        raise SettingsError(
            f"{project}:frontendDomain must be an origin such as https://app.example.com"
        )
    jwt_issuer = _required_string(project, project_config, "jwtIssuer")
    if not jwt_issuer.startswith("https://"):
        raise SettingsError(f"{project}:jwtIssuer must be an https URL")
    audience = _object(project_config, "jwtAudience")
    if (
        not isinstance(audience, list)
        or not audience
        or not all(isinstance(item, str) and item for item in audience)
    ):
        raise SettingsError(f"{project}:jwtAudience must be a non-empty list of strings")
    _check_placeholders(project, production, frontend_domain, jwt_issuer, audience)

    return StackSettings(
        project=project,
        environment=environment,
        names=names,
        production=production,
        stripe_provider_key=api_key,
        stripe_api_key=pulumi.Output.secret(runtime_key or api_key),
        stripe_publishable_key=pulumi.Output.secret(publishable_key),
        app_secrets=_app_secrets(project_config),
        catalog=CatalogSettings(
            plans=_plans(project_config),
            currency=currency,
            allow_promotion_codes=_boolean(project_config, "allowPromotionCodes", default=False),
            automatic_tax=automatic_tax,
            tax_behavior=tax_behavior,
        ),
        frontend_domain=frontend_domain,
        jwt_issuer=jwt_issuer,
        jwt_audience=tuple(audience),
        secret_recovery_window_days=recovery_window,
        secret_kms_key_arn=kms_key_arn,
        webhook_secret_generation=_positive_integer(
            project_config, "webhookSecretGeneration", default=1
        ),
        log_retention_days=log_retention,
        secrets_cache_ttl_seconds=_positive_integer(
            project_config, "secretsCacheTtlSeconds", default=300
        ),
        throttle_rate_limit=_positive_integer(project_config, "throttleRateLimit", default=50),
        throttle_burst_limit=_positive_integer(project_config, "throttleBurstLimit", default=100),
        snap_start=_boolean(project_config, "snapStart", default=False),
        log_level=_log_level(project_config),
        reconcile_interval_minutes=_reconcile_interval(project_config),
        alarm_email=_alarm_email(project_config),
        api_domain=_api_domain(project_config),
        redirect_paths={
            key: _path(project_config, key, default)
            for key, default in REDIRECT_PATH_DEFAULTS.items()
        },
        tags={"environment": environment, "project": project, "managed-by": "pulumi"},
    )


#: The keys of a single-plan stack, with Pulumi.yaml's defaults.
_LEGACY_PLAN_DEFAULTS = {"productName": "Premium", "monthlyAmount": "999", "annualAmount": "9990"}


def _plans(config: pulumi.Config) -> tuple[Plan, ...]:
    """`plans` when set, else the one plan the older keys describe (never both).

    The CLI hands the program Pulumi.yaml's defaults as if they were set, so an older key
    counts as set beside `plans` only when it differs from its default.
    """
    raw = _object(config, "plans")
    if raw is None or raw == []:
        return (
            legacy_plan(
                _string(config, "productName") or _LEGACY_PLAN_DEFAULTS["productName"],
                _positive_integer(config, "monthlyAmount", default=999),
                _positive_integer(config, "annualAmount", default=9990),
            ),
        )
    stale = [
        key
        for key, default in _LEGACY_PLAN_DEFAULTS.items()
        if config.get(key) not in (None, default)
    ]
    if stale:
        raise SettingsError(
            f"{config.full_key('plans')} replaces {', '.join(config.full_key(k) for k in stale)}: "
            "describe that plan in plans and remove the older keys"
        )
    try:
        return parse_plans(config.full_key("plans"), raw)
    except PlanError as error:
        raise SettingsError(str(error)) from None


_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{5,31}$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")


def _tax_behavior(project: str, config: pulumi.Config, automatic_tax: bool) -> str | None:
    """Whether prices include tax; Stripe Tax cannot compute tax on a price without one (unless
    the account has a default), so automaticTax requires it."""
    behavior = _string(config, "taxBehavior")
    if behavior is not None and behavior not in ("exclusive", "inclusive"):
        raise SettingsError(f"{project}:taxBehavior must be exclusive or inclusive")
    if automatic_tax and behavior is None:
        raise SettingsError(
            f"{project}:taxBehavior is required when {project}:automaticTax is true: "
            f"pulumi config set {project}:taxBehavior exclusive (tax added on top) or inclusive"
        )
    return behavior


def _alarm_email(config: pulumi.Config) -> str | None:
    email = _string(config, "alarmEmail") or None
    if email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise SettingsError(f"{config.full_key('alarmEmail')} must be an e-mail address")
    return email


def _api_domain(config: pulumi.Config) -> ApiDomain | None:
    """`apiDomainName` needs `hostedZoneId` or `certificateArn`; either alone is a mistake."""
    name = (_string(config, "apiDomainName") or "").lower().rstrip(".") or None
    zone = _string(config, "hostedZoneId") or None
    certificate = _string(config, "certificateArn") or None
    if name is None:
        if zone or certificate:
            given = "hostedZoneId" if zone else "certificateArn"
            raise SettingsError(
                f"{config.full_key(given)} is set but {config.full_key('apiDomainName')} is not: "
                "set the API's domain name too, or remove it"
            )
        return None
    if not _DOMAIN.match(name):
        raise SettingsError(f"{config.full_key('apiDomainName')} must be a domain name")
    if zone is None and certificate is None:
        raise SettingsError(
            f"{config.full_key('apiDomainName')} needs {config.full_key('hostedZoneId')} (a "
            f"certificate is made and validated in that Route 53 zone) or "
            f"{config.full_key('certificateArn')} (an ACM certificate in the stack's region)"
        )
    if zone is not None and not _ZONE_ID.match(zone):
        raise SettingsError(f"{config.full_key('hostedZoneId')} must be a Route 53 zone id (Z...)")
    if certificate is not None and not _ACM_ARN.match(certificate):
        raise SettingsError(
            f"{config.full_key('certificateArn')} must be an ACM certificate ARN in the stack's "
            "region (API Gateway's regional domains need one there)"
        )
    return ApiDomain(name, zone, certificate)


def _path(config: pulumi.Config, key: str, default: str) -> str:
    path = _string(config, key) or default
    if not re.match(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$", path) or "//" in path:
        raise SettingsError(
            f"{config.full_key(key)} must be a path on frontendDomain starting with / "
            f"(such as {default}), without a query or fragment"
        )
    return path


#: Lambda's application log levels that Python's logging also knows (it reads WARN as WARNING).
#: Not ERROR: the webhook's 4xx-surge alarm counts its WARNING access lines.
LOG_LEVELS = ("DEBUG", "INFO", "WARN")


def _log_level(config: pulumi.Config) -> str:
    level = (config.get("logLevel") or "INFO").upper()
    level = "WARN" if level == "WARNING" else level
    if level not in LOG_LEVELS:
        raise SettingsError(
            f"{config.full_key('logLevel')} must be one of {', '.join(LOG_LEVELS)} (not quieter: "
            "the webhook's alarms count its WARN and ERROR lines)"
        )
    return level


def _reconcile_interval(config: pulumi.Config) -> int:
    minutes = _integer(config, "reconcileIntervalMinutes", default=60)
    if not 5 <= minutes <= 1440:
        raise SettingsError(
            f"{config.full_key('reconcileIntervalMinutes')} must be between 5 and 1440 minutes "
            "(Stripe retries a failed delivery for three days; once a day still catches them)"
        )
    return minutes


def config_keys() -> set[str]:
    """Every config key the engine handed the program (set in the test harness or by the CLI)."""
    return set(CONFIG.get()) | set(get_config_env())


#: Config namespaces besides the project's: the two providers', and Pulumi's own.
_OTHER_NAMESPACES = ("aws", "stripe", "pulumi")


def _refuse_unknown_keys(project: str) -> None:
    """A typo such as `monthlyAmmount`, or a misspelt namespace such as `sass-billing:`, would be
    silently ignored; name the closest known key."""
    for full_key in sorted(config_keys()):
        namespace, _, key = full_key.partition(":")
        if namespace in _OTHER_NAMESPACES or (namespace == project and key in PROJECT_KEYS):
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


def _check_placeholders(
    project: str, production: bool, frontend_domain: str, issuer: str, audience: list[str]
) -> None:
    """The shipped placeholders: refused on a production stack, a warning on any other."""
    problems = [
        f"{project}:{key} still holds a placeholder"
        for key, values in (("jwtIssuer", [issuer]), ("jwtAudience", audience))
        if any(marker in value for value in values for marker in _PLACEHOLDER_MARKERS)
    ]
    host = frontend_domain.split("://", 1)[1].split(":", 1)[0]
    if not frontend_domain.startswith("https://") or host in {"localhost", "127.0.0.1", "[::1]"}:
        problems.append(f"{project}:frontendDomain is not a public https origin")
    elif _is_example_domain(host):
        problems.append(f"{project}:frontendDomain still holds a placeholder (an example domain)")
    if not problems:
        return
    if production:
        raise SettingsError(
            "a production stack refuses placeholders: "
            + "; ".join(problems)
            + " (set your identity provider's issuer and client ids, and your frontend's origin)"
        )
    for problem in problems:
        pulumi.log.warn(f"{problem}: fine for a dev stack, refused on a production one")


def _is_example_domain(host: str) -> bool:
    """example.com, .org, .net and their subdomains: reserved for documentation (RFC 2606)."""
    return any(
        host == domain or host.endswith("." + domain)
        for domain in ("example.com", "example.org", "example.net")
    )


def _string(config: pulumi.Config, key: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise SettingsError(f"{config.full_key(key)} must be a string")
    return value


def _object(config: pulumi.Config, key: str) -> Any:
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


def _secret_string(config: pulumi.Config, key: str, *, required: bool) -> str | None:
    """A config value that must be stored encrypted; the plain value never leaves this module."""
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


def _check_key_mode(full_key: str, key: str, production: bool) -> None:
    if production and not _LIVE_KEY.match(key):
        raise SettingsError(
            f"{full_key} must be a live key (sk_live_/rk_live_) on a production stack"
        )
    if not production and not _TEST_KEY.match(key):
        raise SettingsError(
            f"{full_key} must be a test key (sk_test_/rk_test_) on a non-production stack"
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
    secrets: dict[str, pulumi.Output[str]] = {}
    for name, value in raw.items():
        if name in DOCUMENT_KEYS:
            raise SettingsError(
                f"{full_key}.{name} collides with a key the program writes to the secret document"
            )
        if not isinstance(value, (str, int, float, bool)):
            raise SettingsError(f"{full_key}.{name} must be a string, number or boolean")
        text = value if isinstance(value, str) else _scalar_text(value)
        secrets[str(name)] = pulumi.Output.secret(text)
    return secrets


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _required_string(project: str, config: pulumi.Config, key: str) -> str:
    value = _string(config, key)
    if not value:
        raise SettingsError(
            f"{project}:{key} is required: pulumi config set {project}:{key} <value>"
        )
    return value


def _typed(config: pulumi.Config, key: str, read: Callable[[str], Any], kind: str) -> Any:
    try:
        return read(key)
    except pulumi.ConfigTypeError:
        pass  # its message holds the value; ours never does
    raise SettingsError(f"{config.full_key(key)} must be {kind}")


def _boolean(config: pulumi.Config, key: str, *, default: bool) -> bool:
    value = _typed(config, key, config.get_bool, "true or false")
    return default if value is None else bool(value)


def _integer(config: pulumi.Config, key: str, *, default: int) -> int:
    value = _typed(config, key, config.get_int, "an integer")
    return default if value is None else int(value)


def _positive_integer(config: pulumi.Config, key: str, *, default: int) -> int:
    value = _integer(config, key, default=default)
    if value <= 0:
        raise SettingsError(f"{config.full_key(key)} must be a positive integer")
    return value
