"""The billing stack's policy pack: `pulumi preview --policy-pack policy`."""

from pulumi_policy import PolicyPack
from rules import RESOURCE_POLICIES, STACK_POLICIES

PolicyPack(name="saas-billing-guardrails", policies=[*RESOURCE_POLICIES, *STACK_POLICIES])
