"""The Stripe webhook endpoint that delivers subscription events to the API."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_stripe as stripe

from billing.contract import contract

WEBHOOK_EVENTS = contract.WEBHOOK_EVENTS


@dataclass(frozen=True)
class StripeWebhookArgs:
    """Where and how Stripe delivers events."""

    url: pulumi.Input[str]
    """The public https URL of POST /stripe/webhook."""
    api_version: str
    """Events are rendered in this API version: the one the handlers are written for."""
    secret_generation: int
    """Bumping it replaces the endpoint, which is the only way to get a new signing secret."""
    description: str


class StripeWebhook(pulumi.ComponentResource):
    """A webhook endpoint whose signing secret stays a Pulumi secret.

    Stripe reveals an endpoint's secret only when it is created. To rotate it, the generation
    number is part of the endpoint's logical name: a new generation is a new resource, created
    before the old one is deleted, and its secret flows into the secret version by itself.
    """

    endpoint_id: pulumi.Output[str]
    signing_secret: pulumi.Output[str]

    def __init__(
        self, name: str, args: StripeWebhookArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("billing:index:StripeWebhook", name, None, opts)
        endpoint = stripe.WebhookEndpoint(
            f"{name}-endpoint-g{args.secret_generation}",
            url=args.url,
            enabled_events=list(WEBHOOK_EVENTS),
            api_version=args.api_version,
            description=args.description,
            metadata={"secretGeneration": str(args.secret_generation)},
            # Stripe fixes an endpoint's API version at creation, so a new pinned version needs a
            # new endpoint (created first; its new secret flows into the secret version).
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["apiVersion"]),
        )
        self.endpoint_id = endpoint.id
        # The provider already marks `secret` as a secret output; wrapping keeps that explicit.
        self.signing_secret = pulumi.Output.secret(endpoint.secret)
        self.register_outputs({"endpointId": self.endpoint_id})
