"""Archive what pulumi-stripe only forgets: replaced or destroyed prices and portal configurations.

pulumi-stripe 0.0.28 wraps lukasaron/terraform-provider-stripe, whose delete of a price or a
billing portal configuration only drops it from state (the call that set `active=false` was
removed upstream; Stripe's API can delete neither). Left alone, a replaced price stays buyable
and a destroyed stack leaves its portal configuration usable. So the program archives them
itself, from a `before_delete` resource hook: the engine runs it just before it deletes the
resource (after the replacement exists, since prices are created before the old one goes), and
a failure leaves the resource in state so the next `up` tries again.

Delete hooks need the program: `pulumi destroy` must run with `--run-program` (`make destroy`
passes it; without it the engine refuses: `hook "..." was not registered`). The engine runs a
delete's hooks from the resource's recorded state (pulumi/pulumi `DeleteStep.Apply` reads
`old.ResourceHooks`) and records the program's hooks on every step, so a stack deployed before
these hooks existed gets them from its first `up`, and a price replaced in that same `up` is
not archived (the README says to upgrade with the catalog unchanged first). Hooks never run in
a preview (`on_dry_run` is left false). Archiving is idempotent: an object already archived, or
gone, is not an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from billing.contract import contract

STRIPE_API_VERSION = contract.STRIPE_API_VERSION

if TYPE_CHECKING:
    import stripe

#: Stripe id prefixes each hook acts on: a hook bound to the wrong resource does nothing.
PRICE_PREFIX = "price_"
PORTAL_CONFIGURATION_PREFIX = "bpc_"
METER_PREFIX = "mtr_"


def stripe_admin_client(api_key: str) -> stripe.StripeClient:
    """The program's own client (stripe:apiKey), pointed at STRIPE_API_BASE when set."""
    import stripe

    base = os.environ.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        api_key,
        stripe_version=STRIPE_API_VERSION,
        max_network_retries=2,
        base_addresses={"api": base.rstrip("/")} if base else None,
    )


def archive_price(client: stripe.StripeClient, price_id: str) -> bool:
    """Set `active=false` on a price; False when there was nothing to archive."""
    return _deactivate(price_id, PRICE_PREFIX, lambda: client.v1.prices.update(
        price_id, {"active": False}
    ))  # fmt: skip


def deactivate_portal_configuration(client: stripe.StripeClient, configuration_id: str) -> bool:
    """Set `active=false` on a portal configuration; False when there was nothing to do."""
    return _deactivate(configuration_id, PORTAL_CONFIGURATION_PREFIX, lambda: (
        client.v1.billing_portal.configurations.update(configuration_id, {"active": False})
    ))  # fmt: skip


def deactivate_meter(client: stripe.StripeClient, meter_id: str) -> bool:
    """Deactivate a meter (Stripe cannot delete one); False when it already was inactive."""
    import stripe

    try:
        return _deactivate(meter_id, METER_PREFIX, lambda: (
            client.v1.billing.meters.deactivate(meter_id)
        ))  # fmt: skip
    except stripe.InvalidRequestError:
        if client.v1.billing.meters.retrieve(meter_id).status == "inactive":
            return False
        raise


def _deactivate(object_id: str, prefix: str, update: Callable[[], object]) -> bool:
    import stripe

    if not object_id.startswith(prefix):
        return False
    try:
        update()
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing":
            pulumi.log.info(f"{object_id} no longer exists in Stripe; nothing to archive")
            return False
        raise
    pulumi.log.info(f"archived {object_id} in Stripe (active=false)")
    return True


@dataclass(frozen=True)
class ArchivingHooks:
    """The named hooks to bind as `before_delete` on prices and on the portal configuration."""

    price: pulumi.ResourceHook
    portal_configuration: pulumi.ResourceHook
    meter: pulumi.ResourceHook


def archive_price_hook(api_key: str) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The `before_delete` callback for prices: archive the price being deleted."""

    def hook(args: pulumi.ResourceHookArgs) -> None:
        archive_price(stripe_admin_client(api_key), args.id)

    return hook


def deactivate_meter_hook(api_key: str) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The `before_delete` callback for meters: deactivate the one deleted."""

    def hook(args: pulumi.ResourceHookArgs) -> None:
        deactivate_meter(stripe_admin_client(api_key), args.id)

    return hook


def deactivate_portal_hook(api_key: str) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The `before_delete` callback for portal configurations: deactivate the one deleted."""

    def hook(args: pulumi.ResourceHookArgs) -> None:
        deactivate_portal_configuration(stripe_admin_client(api_key), args.id)

    return hook


def archiving_hooks(name: str, api_key: str) -> ArchivingHooks:
    """Register both hooks with the engine under stable names (delete hooks must be named)."""
    return ArchivingHooks(
        price=pulumi.ResourceHook(f"{name}-archive-price", archive_price_hook(api_key)),
        portal_configuration=pulumi.ResourceHook(
            f"{name}-deactivate-portal-configuration", deactivate_portal_hook(api_key)
        ),
        meter=pulumi.ResourceHook(f"{name}-deactivate-meter", deactivate_meter_hook(api_key)),
    )
