"""The HTTP API: who may call it (JWT issuer and audience, the frontend's origin), how fast,
where Checkout and the portal send people back, and its own domain name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from billing.config import readers
from billing.config.errors import SettingsError
from billing.contract import contract

#: Values the shipped stack files hold until a user puts in their own identity provider.
_PLACEHOLDER_MARKERS = ("EXAMPLE", "example-")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{5,31}$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


@dataclass(frozen=True)
class ApiDomain:
    """`apiDomainName` with the zone that validates and aliases it, and/or its certificate."""

    name: str
    hosted_zone_id: str | None
    certificate_arn: str | None


@dataclass(frozen=True)
class ApiSettings:
    frontend_domain: str
    """The frontend's origin: the only CORS origin, the base of every redirect."""
    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    throttle_rate_limit: int
    throttle_burst_limit: int
    redirect_paths: Mapping[str, str] = field(
        default_factory=lambda: dict(contract.REDIRECT_PATH_DEFAULTS)
    )
    """checkoutSuccessPath, checkoutCancelPath, portalReturnPath: paths on frontendDomain."""
    domain: ApiDomain | None = None
    """The API's own domain name, when configured."""


def parse_api(config: pulumi.Config, production: bool) -> ApiSettings:
    """Who calls the API and from where; a production stack refuses the shipped placeholders."""
    frontend_domain = _frontend_domain(config)
    jwt_issuer = readers.required_string(config, "jwtIssuer")
    if not jwt_issuer.startswith("https://"):
        raise SettingsError(f"{config.full_key('jwtIssuer')} must be an https URL")
    audience = _audience(config)
    _check_placeholders(config, production, frontend_domain, jwt_issuer, audience)
    return ApiSettings(
        frontend_domain=frontend_domain,
        jwt_issuer=jwt_issuer,
        jwt_audience=tuple(audience),
        throttle_rate_limit=readers.positive_integer(config, "throttleRateLimit", default=50),
        throttle_burst_limit=readers.positive_integer(config, "throttleBurstLimit", default=100),
        redirect_paths={
            key: _path(config, key, default)
            for key, default in contract.REDIRECT_PATH_DEFAULTS.items()
        },
        domain=_api_domain(config),
    )


def _frontend_domain(config: pulumi.Config) -> str:
    frontend_domain = readers.required_string(config, "frontendDomain").rstrip("/")
    if not re.match(r"^https?://[^/\s]+$", frontend_domain):
        raise SettingsError(
            f"{config.full_key('frontendDomain')} must be an origin such as https://app.example.com"
        )
    return frontend_domain


def _audience(config: pulumi.Config) -> list[str]:
    audience = readers.structured(config, "jwtAudience")
    if (
        not isinstance(audience, list)
        or not audience
        or not all(isinstance(item, str) and item for item in audience)
    ):
        raise SettingsError(f"{config.full_key('jwtAudience')} must be a non-empty list of strings")
    return audience


def _is_example_domain(host: str) -> bool:
    """example.com, .org, .net and their subdomains: reserved for documentation (RFC 2606)."""
    return any(
        host == domain or host.endswith("." + domain)
        for domain in ("example.com", "example.org", "example.net")
    )


def _check_placeholders(
    config: pulumi.Config,
    production: bool,
    frontend_domain: str,
    issuer: str,
    audience: list[str],
) -> None:
    """The shipped placeholders: refused on a production stack, a warning on any other."""
    problems = [
        f"{config.full_key(key)} still holds a placeholder"
        for key, values in (("jwtIssuer", [issuer]), ("jwtAudience", audience))
        if any(marker in value for value in values for marker in _PLACEHOLDER_MARKERS)
    ]
    host = frontend_domain.split("://", 1)[1].split(":", 1)[0]
    frontend = config.full_key("frontendDomain")
    if not frontend_domain.startswith("https://") or host in {"localhost", "127.0.0.1", "[::1]"}:
        problems.append(f"{frontend} is not a public https origin")
    elif _is_example_domain(host):
        problems.append(f"{frontend} still holds a placeholder (an example domain)")
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


def _path(config: pulumi.Config, key: str, default: str) -> str:
    path = readers.string(config, key) or default
    if not _PATH.match(path) or "//" in path:
        raise SettingsError(
            f"{config.full_key(key)} must be a path on frontendDomain starting with / "
            f"(such as {default}), without a query or fragment"
        )
    return path


def _api_domain(config: pulumi.Config) -> ApiDomain | None:
    """`apiDomainName` needs `hostedZoneId` or `certificateArn`; either alone is a mistake."""
    name = (readers.string(config, "apiDomainName") or "").lower().rstrip(".") or None
    zone = readers.string(config, "hostedZoneId") or None
    certificate = readers.string(config, "certificateArn") or None
    if name is None:
        if zone or certificate:
            given = "hostedZoneId" if zone else "certificateArn"
            raise SettingsError(
                f"{config.full_key(given)} is set but {config.full_key('apiDomainName')} is not: "
                "set the API's domain name too, or remove it"
            )
        return None
    _check_domain(config, name, zone, certificate)
    return ApiDomain(name, zone, certificate)


def _check_domain(
    config: pulumi.Config, name: str, zone: str | None, certificate: str | None
) -> None:
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
