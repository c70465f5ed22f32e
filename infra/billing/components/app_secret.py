"""The Secrets Manager secret holding every key the Lambdas read at runtime."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AppSecretArgs:
    """The secret's name, protection and content."""

    secret_name: str
    """Physical name, `{environment}-{project}_secrets`."""
    document: Mapping[str, pulumi.Input[Any]]
    """Key → value; values are outputs (price ids, the signing secret), config secrets, or the
    catalog (a JSON object whose ids are outputs)."""
    recovery_window_days: int
    """Days a deleted secret can be restored, during which its name cannot be reused."""
    kms_key_arn: str | None
    """Customer-managed KMS key; None uses the account's aws/secretsmanager key."""
    tags: Mapping[str, str]


class AppSecret(pulumi.ComponentResource):
    """One secret and its current version, whose JSON is a Pulumi secret end to end.

    The document is built with `Output.json_dumps`, so no value is unwrapped into a plain
    string on the way; changing any value (a rotated key, a new endpoint secret, a new price)
    only writes a new version and never touches the functions, which hold just the ARN.
    """

    arn: pulumi.Output[str]
    version_id: pulumi.Output[str]
    version: aws.secretsmanager.SecretVersion

    def __init__(
        self, name: str, args: AppSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:AppSecret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=args.secret_name,
            description="Stripe keys, price ids and webhook signing secret for the billing Lambdas",
            recovery_window_in_days=args.recovery_window_days,
            kms_key_id=args.kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        self.version = aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(dict(args.document)).apply(pulumi.Output.secret),
            opts=child,
        )
        self.arn = secret.arn
        self.version_id = self.version.version_id
        self.register_outputs({"arn": self.arn})
