"""The API on its own name (`apiDomainName`), e.g. api.dev.example.com, instead of execute-api.

With `hostedZoneId`, an ACM certificate in the stack's region is requested and validated by DNS
in that Route 53 zone, and an alias record points the name at the API. With `certificateArn`
(a certificate in the stack's region covering the name), that certificate is used; add
`hostedZoneId` too for the alias record, or point your DNS at the domain's regional name
(API Gateway's console shows it).
The domain is regional, dualstack (IPv4 and IPv6: A and AAAA aliases) with TLS 1.2; the
`$default` stage is mapped at its root.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class CustomDomainArgs:
    domain_name: str
    api_id: pulumi.Input[str]
    stage: pulumi.Input[str]
    hosted_zone_id: str | None
    certificate_arn: str | None
    tags: Mapping[str, str]


class CustomDomain(pulumi.ComponentResource):
    """Certificate (unless given), API Gateway domain name, API mapping and alias record."""

    url: pulumi.Output[str]
    """`https://{domain}`, known only once the mapping and the alias records exist: Stripe's
    webhook endpoint moves to it after the domain answers, never at the start of a deploy."""

    def __init__(
        self, name: str, args: CustomDomainArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:CustomDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certificate_arn = args.certificate_arn or self._validated_certificate(name, args, child)
        domain = aws.apigatewayv2.DomainName(
            f"{name}-domain",
            domain_name=args.domain_name,
            domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
                certificate_arn=certificate_arn,
                endpoint_type="REGIONAL",
                security_policy="TLS_1_2",
                # IPv4 is API Gateway's default; the AAAA alias below needs a dualstack name
                # (a domain name's IP type is its own, whatever the API it maps to).
                ip_address_type="dualstack",
            ),
            tags=dict(args.tags),
            opts=child,
        )
        mapping = aws.apigatewayv2.ApiMapping(
            f"{name}-mapping",
            api_id=args.api_id,
            domain_name=domain.id,
            stage=args.stage,
            opts=child,
        )
        ready: list[pulumi.Output[str]] = [mapping.id]
        if args.hosted_zone_id:
            ready += self._alias_records(name, args, domain, child)
        self.url = pulumi.Output.all(*ready).apply(lambda _: f"https://{args.domain_name}")
        self.register_outputs({"url": self.url})

    def _validated_certificate(
        self, name: str, args: CustomDomainArgs, child: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """An ACM certificate for the name, validated by DNS in the zone; its ARN once valid."""
        assert args.hosted_zone_id, "settings require a zone when no certificate is given"
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.domain_name,
            validation_method="DNS",
            tags=dict(args.tags),
            opts=child,
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        return aws.acm.CertificateValidation(
            f"{name}-certificate-ready",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        ).certificate_arn

    @staticmethod
    def _alias_records(
        name: str,
        args: CustomDomainArgs,
        domain: aws.apigatewayv2.DomainName,
        child: pulumi.ResourceOptions,
    ) -> list[pulumi.Output[str]]:
        """A and AAAA aliases of the name to the API's regional domain; their FQDNs."""
        configuration = domain.domain_name_configuration
        fqdns = []
        for record_type in ("A", "AAAA"):
            alias = aws.route53.Record(
                f"{name}-alias-{record_type.lower()}",
                zone_id=args.hosted_zone_id,
                name=args.domain_name,
                type=record_type,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=configuration.target_domain_name,
                        zone_id=configuration.hosted_zone_id,
                        evaluate_target_health=False,
                    )
                ],
                opts=child,
            )
            fqdns.append(alias.fqdn)
        return fqdns
