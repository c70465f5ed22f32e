"""DynamoDB tables: users (with a Stripe customer index), processed Stripe events, and (teams)
an organisation's members."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from billing.contract import contract

#: The users table's index from `stripeCustomerId` to `userId` (keys only: the webhook needs
#: just the user id, then writes by key).
CUSTOMER_INDEX_NAME = contract.Table.CUSTOMER_INDEX
#: The TTL attribute of the processed-events table (epoch seconds). The webhook sets it 4 days
#: ahead (lambdas/shared/users.py), beyond Stripe's 3-day retry window.
EVENT_EXPIRY_ATTRIBUTE = "expiresAt"


@dataclass(frozen=True)
class BillingTablesArgs:
    """Names and protection of both tables."""

    users_table_name: str
    events_table_name: str
    kms_key_arn: str | None
    """Customer-managed KMS key; None encrypts with the AWS-managed DynamoDB key."""
    deletion_protection: bool
    tags: Mapping[str, str]
    members_table_name: str | None = None
    """Teams: an organisation's members, keyed (organizationId, userId); None declares none."""


class BillingTables(pulumi.ComponentResource):
    """On-demand tables with point-in-time recovery and encryption at rest."""

    users_table_name: pulumi.Output[str]
    users_table_arn: pulumi.Output[str]
    customer_index_arn: pulumi.Output[str]
    events_table_name: pulumi.Output[str]
    events_table_arn: pulumi.Output[str]
    members_table_name: pulumi.Output[str] | None
    members_table_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: BillingTablesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:BillingTables", name, None, opts)
        common = {
            "billing_mode": "PAY_PER_REQUEST",
            "point_in_time_recovery": aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            "server_side_encryption": aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            "deletion_protection_enabled": args.deletion_protection,
            "tags": dict(args.tags),
            "opts": pulumi.ResourceOptions(parent=self),
        }
        users = aws.dynamodb.Table(
            f"{name}-users",
            name=args.users_table_name,
            hash_key=contract.Table.USER_ID,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=contract.Table.USER_ID, type="S"),
                aws.dynamodb.TableAttributeArgs(name=contract.Table.CUSTOMER_ID, type="S"),
            ],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=CUSTOMER_INDEX_NAME,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=contract.Table.CUSTOMER_ID, key_type="HASH"
                        )
                    ],
                    projection_type="KEYS_ONLY",
                )
            ],
            **common,
        )
        events = aws.dynamodb.Table(
            f"{name}-stripe-events",
            name=args.events_table_name,
            hash_key=contract.Table.EVENT_ID,
            attributes=[aws.dynamodb.TableAttributeArgs(name=contract.Table.EVENT_ID, type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=EVENT_EXPIRY_ATTRIBUTE, enabled=True),
            **common,
        )
        self.users_table_name = users.name
        self.users_table_arn = users.arn
        self.customer_index_arn = users.arn.apply(lambda arn: f"{arn}/index/{CUSTOMER_INDEX_NAME}")
        self.events_table_name = events.name
        self.events_table_arn = events.arn
        self.members_table_name = self.members_table_arn = None
        if args.members_table_name is not None:
            members = _members_table(f"{name}-members", args.members_table_name, common)
            self.members_table_name, self.members_table_arn = members.name, members.arn
        self.register_outputs(
            {"usersTableName": self.users_table_name, "eventsTableName": self.events_table_name}
        )


def _members_table(name: str, table_name: str, common: Mapping[str, Any]) -> aws.dynamodb.Table:
    """An organisation's members: one item per (organizationId, userId) holding a seat."""
    return aws.dynamodb.Table(
        name,
        name=table_name,
        hash_key=contract.Table.ORGANIZATION_ID,
        range_key=contract.Table.USER_ID,
        attributes=[
            aws.dynamodb.TableAttributeArgs(name=contract.Table.ORGANIZATION_ID, type="S"),
            aws.dynamodb.TableAttributeArgs(name=contract.Table.USER_ID, type="S"),
        ],
        **common,
    )
