"""Real Stripe test mode for `make serve`: find or create the stack's catalog in the account.

The program declares each price with a stack-scoped lookup key; here the same keys are looked
up in the test account (`prices.list(lookup_keys=...)`) and created when missing (a product per
plan, then its price; a meter, found by its event name, before the metered prices on it), and
a portal configuration offering them is found by its metadata or created. The ids the mocks
invented in the secret document are then replaced by the account's
real ones. Only `sk_test_`/`rk_test_` keys are accepted: local mode never touches live data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tools.mock_engine import Recording

if TYPE_CHECKING:
    import stripe

TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")


class LiveKeyError(ValueError):
    """A live key was offered to local mode."""


def check_key(key: str) -> None:
    if key.startswith(LIVE_KEY_PREFIXES):
        raise LiveKeyError("STRIPE_API_KEY is a live key: local mode only runs on test keys")
    if not key.startswith(TEST_KEY_PREFIXES):
        raise LiveKeyError("STRIPE_API_KEY must be a Stripe test key (sk_test_...)")


def ensure_catalog(
    client: stripe.StripeClient, recording: Recording, document: Mapping[str, Any], local_tag: str
) -> dict[str, Any]:
    """The document with the mock's product, price and portal ids replaced by the account's."""
    products = {p.id: p for p in recording.of_type("stripe:index/product:Product")}
    real_products: dict[str, str] = {}
    replacements: dict[str, str] = _meters(client, recording)
    for price in recording.of_type("stripe:index/price:Price"):
        inputs = price.inputs
        found = client.v1.prices.list(params={"lookup_keys": [inputs["lookupKey"]], "limit": 1})
        if found.data:
            replacements[price.id] = found.data[0].id
            replacements.setdefault(inputs["product"], str(found.data[0].product))
            continue
        product_id = real_products.get(inputs["product"])
        if product_id is None:
            declared = products[inputs["product"]].inputs
            product_id = client.v1.products.create(
                params={"name": declared["name"], "metadata": {"stack": local_tag}}
            ).id
            real_products[inputs["product"]] = product_id
            replacements[inputs["product"]] = product_id
        params: Any = {
            "product": product_id,
            "currency": inputs["currency"],
            "recurring": {"interval": inputs["recurring"]["interval"]},
            "lookup_key": inputs["lookupKey"],
            "nickname": inputs.get("nickname", ""),
        }
        if inputs["recurring"].get("usageType") == "metered":
            params["unit_amount_decimal"] = str(inputs["unitAmountDecimal"])
            params["recurring"].update(
                usage_type="metered", meter=replacements[inputs["recurring"]["meter"]]
            )
        else:
            params["unit_amount"] = inputs["unitAmount"]
        replacements[price.id] = client.v1.prices.create(params=params).id
    text = json.dumps(dict(document))
    for mock_id, real_id in replacements.items():
        text = text.replace(json.dumps(mock_id), json.dumps(real_id))
    resolved: dict[str, Any] = json.loads(text)
    resolved["stripe_portal_configuration_id"] = _portal_configuration(client, resolved, local_tag)
    return resolved


def _meters(client: stripe.StripeClient, recording: Recording) -> dict[str, str]:
    """Mock meter id → the account's active meter with the same event name (made if missing)."""
    active = {
        meter.event_name: meter.id
        for meter in client.v1.billing.meters.list(params={"status": "active", "limit": 100}).data
    }
    found = {}
    for meter in recording.of_type("stripe:index/meter:Meter"):
        inputs = meter.inputs
        real = active.get(inputs["eventName"])
        if real is None:
            params: Any = {
                "display_name": inputs["displayName"],
                "event_name": inputs["eventName"],
                "default_aggregation": {"formula": inputs["defaultAggregation"]["formula"]},
                "customer_mapping": {
                    "type": "by_id",
                    "event_payload_key": inputs["customerMapping"]["eventPayloadKey"],
                },
                "value_settings": {"event_payload_key": inputs["valueSettings"]["eventPayloadKey"]},
            }
            real = client.v1.billing.meters.create(params=params).id
        found[meter.id] = real
    return found


def _portal_configuration(
    client: stripe.StripeClient, document: Mapping[str, Any], local_tag: str
) -> str:
    for configuration in client.v1.billing_portal.configurations.list(
        params={"active": True, "limit": 100}
    ).data:
        metadata: Any = configuration.metadata.to_dict() if configuration.metadata else {}
        if metadata.get("stack") == local_tag:
            return str(configuration.id)
    products: list[Any] = [
        {"product": plan["productId"], "prices": [p["id"] for p in plan["prices"].values()]}
        for plan in document["stripe_catalog"]["plans"]
        if plan["prices"]  # a plan billed on usage alone has nothing to switch to
    ]
    return str(
        client.v1.billing_portal.configurations.create(
            params={
                "business_profile": {"headline": "Manage your plan (local)"},
                "features": {
                    "invoice_history": {"enabled": True},
                    "payment_method_update": {"enabled": True},
                    "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
                    "subscription_update": {
                        "enabled": True,
                        "default_allowed_updates": ["price"],
                        "products": products,
                    },
                },
                "metadata": {"stack": local_tag},
            }
        ).id
    )
