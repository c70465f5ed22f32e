"""Products, prices, coupons and promotion codes: the catalog a stack or a test stocks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tools.local.stripe_emulator.errors import invalid
from tools.local.stripe_emulator.objects import fixture, list_page, merged_metadata, new_id, public
from tools.local.stripe_emulator.router import Call, route
from tools.local.stripe_emulator.state import StripeState


def _newest(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=lambda o: (o["created"], o["id"]), reverse=True)


def _update(
    obj: dict[str, Any], params: Mapping[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    """Set the named fields given, merge metadata, and stamp `updated` where the kind has it."""
    for name in names:
        if name in params:
            obj[name] = params[name]
    if "metadata" in params:
        obj["metadata"] = merged_metadata(obj.get("metadata"), params["metadata"])
    if "updated" in obj:
        obj["updated"] = int(time.time())
    return public(obj)


# -- products -----------------------------------------------------------------------------


def add_product(
    state: StripeState, name: str, product_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    now = int(time.time())
    product = fixture("product")
    product.update(id=product_id or new_id("prod"), name=name, created=now, updated=now, **fields)
    state.objects[product["id"]] = product
    return product


@route("POST", "/v1/products", "ProductCreateParams")
def create_product(call: Call) -> dict[str, Any]:
    p = call.params
    if "id" in p and p["id"] in call.state.objects:
        raise invalid("Product already exists.", "id", "resource_already_exists")
    product = add_product(
        call.state,
        p["name"],
        p.get("id"),
        active=p.get("active", True),
        description=p.get("description"),
        metadata=dict(p.get("metadata") or {}),
        tax_code=p.get("tax_code"),
        unit_label=p.get("unit_label"),
    )
    return public(product)


@route("GET", "/v1/products", "ProductListParams")
def list_products(call: Call) -> dict[str, Any]:
    found = [
        p
        for p in call.state.of_kind("product")
        if "active" not in call.params or p["active"] is call.params["active"]
    ]
    return list_page(_newest(found), call.params, "/v1/products")


@route("GET", "/v1/products/{id}", "ProductRetrieveParams")
def retrieve_product(call: Call) -> dict[str, Any]:
    return public(call.state.get("product", call.id()))


@route("POST", "/v1/products/{id}", "ProductUpdateParams")
def update_product(call: Call) -> dict[str, Any]:
    product = call.state.get("product", call.id())
    return _update(product, call.params, ("name", "active", "description", "default_price"))


# -- prices -------------------------------------------------------------------------------


def add_price(
    state: StripeState,
    product: str,
    currency: str,
    unit_amount: int | None,
    interval: str | None,
    price_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A price as Stripe stores it: recurring when it has an interval."""
    price = fixture("price")
    recurring = None
    if interval:
        recurring = {
            "interval": interval,
            "interval_count": fields.pop("interval_count", 1),
            "meter": fields.pop("meter", None),
            "trial_period_days": None,
            "usage_type": fields.pop("usage_type", "licensed"),
        }
    decimal = fields.pop("unit_amount_decimal", None)
    price.update(
        id=price_id or new_id("price"),
        created=int(time.time()),
        product=product,
        currency=currency,
        unit_amount=unit_amount,
        unit_amount_decimal=decimal if decimal is not None else str(unit_amount),
        recurring=recurring,
        type="recurring" if recurring else "one_time",
        **fields,
    )
    state.objects[price["id"]] = price
    return price


def _product_of(call: Call) -> str:
    p = call.params
    if "product" in p:
        call.state.get("product", p["product"], "product")
        return str(p["product"])
    if "product_data" in p:
        return str(add_product(call.state, p["product_data"]["name"])["id"])
    raise invalid("Missing required param: product.", "product", "parameter_missing")


@route("POST", "/v1/prices", "PriceCreateParams")
def create_price(call: Call) -> dict[str, Any]:
    p = call.params
    recurring = p.get("recurring") or {}
    if recurring.get("usage_type") == "metered" and not recurring.get("meter"):
        raise invalid(
            "Metered prices must be backed by a meter: pass recurring[meter].",
            "recurring[meter]",
            "parameter_missing",
        )
    if "unit_amount" not in p and "unit_amount_decimal" not in p and "custom_unit_amount" not in p:
        raise invalid("Missing required param: unit_amount.", "unit_amount", "parameter_missing")
    if p.get("lookup_key"):
        _take_lookup_key(call.state, p["lookup_key"], bool(p.get("transfer_lookup_key")))
    price = add_price(
        call.state,
        _product_of(call),
        p["currency"],
        p.get("unit_amount"),
        recurring.get("interval"),
        lookup_key=p.get("lookup_key"),
        nickname=p.get("nickname"),
        metadata=dict(p.get("metadata") or {}),
        tax_behavior=p.get("tax_behavior", "unspecified"),
        active=p.get("active", True),
        interval_count=recurring.get("interval_count", 1),
        usage_type=recurring.get("usage_type", "licensed"),
        meter=recurring.get("meter"),
        unit_amount_decimal=p.get("unit_amount_decimal"),
    )
    return public(price)


def _take_lookup_key(state: StripeState, lookup_key: str, transfer: bool) -> None:
    """Stripe: a lookup key names one price; another needs `transfer_lookup_key`."""
    for other in state.of_kind("price"):
        if other.get("lookup_key") == lookup_key:
            if not transfer:
                raise invalid(
                    f"A price (`{other['id']}`) already uses that lookup key.",
                    "lookup_key",
                    "lookup_key_already_exists",
                )
            other["lookup_key"] = None


@route("GET", "/v1/prices", "PriceListParams")
def list_prices(call: Call) -> dict[str, Any]:
    p = call.params
    keys = set(p.get("lookup_keys") or [])
    found = [
        price
        for price in call.state.of_kind("price")
        if (not keys or price.get("lookup_key") in keys)
        and ("active" not in p or price["active"] is p["active"])
        and ("product" not in p or price["product"] == p["product"])
    ]
    return list_page(_newest(found), p, "/v1/prices")


@route("GET", "/v1/prices/{id}", "PriceRetrieveParams")
def retrieve_price(call: Call) -> dict[str, Any]:
    return public(call.state.get("price", call.id()))


@route("POST", "/v1/prices/{id}", "PriceUpdateParams")
def update_price(call: Call) -> dict[str, Any]:
    """Stripe changes a price's amount never; `tax_behavior` once, from `unspecified`."""
    price = call.state.get("price", call.id())
    behaviour = call.params.get("tax_behavior")
    if behaviour and price["tax_behavior"] not in ("unspecified", behaviour):
        raise invalid(
            "Tax behavior cannot be changed once it is set to exclusive or inclusive.",
            "tax_behavior",
        )
    if call.params.get("lookup_key"):
        _take_lookup_key(
            call.state, call.params["lookup_key"], bool(call.params.get("transfer_lookup_key"))
        )
    return _update(price, call.params, ("active", "nickname", "lookup_key", "tax_behavior"))


# -- coupons and promotion codes ----------------------------------------------------------


@route("POST", "/v1/coupons", "CouponCreateParams")
def create_coupon(call: Call) -> dict[str, Any]:
    p = call.params
    if ("percent_off" in p) == ("amount_off" in p):
        raise invalid("You must pass exactly one of percent_off or amount_off.", "percent_off")
    if "amount_off" in p and "currency" not in p:
        raise invalid(
            "You must pass currency when passing amount_off.", "currency", "parameter_missing"
        )
    if p.get("duration") == "repeating" and "duration_in_months" not in p:
        raise invalid(
            "duration_in_months is required when duration is repeating.",
            "duration_in_months",
            "parameter_missing",
        )
    coupon = fixture("coupon")
    coupon.update(
        id=p.get("id") or new_id("co"),
        created=int(time.time()),
        percent_off=p.get("percent_off"),
        amount_off=p.get("amount_off"),
        currency=p.get("currency"),
        duration=p.get("duration", "once"),
        duration_in_months=p.get("duration_in_months"),
        name=p.get("name"),
        max_redemptions=p.get("max_redemptions"),
        redeem_by=p.get("redeem_by"),
        metadata=dict(p.get("metadata") or {}),
    )
    if isinstance(coupon["percent_off"], str):
        coupon["percent_off"] = float(coupon["percent_off"])
    call.state.objects[coupon["id"]] = coupon
    return public(coupon)


@route("GET", "/v1/coupons/{id}", "CouponRetrieveParams")
def retrieve_coupon(call: Call) -> dict[str, Any]:
    return public(call.state.get("coupon", call.id()))


@route("GET", "/v1/coupons", "CouponListParams")
def list_coupons(call: Call) -> dict[str, Any]:
    return list_page(_newest(call.state.of_kind("coupon")), call.params, "/v1/coupons")


@route("POST", "/v1/promotion_codes", "PromotionCodeCreateParams")
def create_promotion_code(call: Call) -> dict[str, Any]:
    p = call.params
    coupon_id = p["promotion"]["coupon"]
    call.state.get("coupon", coupon_id, "promotion[coupon]")
    code = p.get("code") or new_id("PROMO").upper()
    if any(
        c["code"].lower() == code.lower() and c["active"]
        for c in call.state.of_kind("promotion_code")
    ):
        raise invalid("An active promotion code with `code` already exists.", "code")
    promotion = fixture("promotion_code")
    promotion.update(
        id=new_id("promo"),
        created=int(time.time()),
        code=code,
        active=p.get("active", True),
        customer=p.get("customer"),
        expires_at=p.get("expires_at"),
        max_redemptions=p.get("max_redemptions"),
        metadata=dict(p.get("metadata") or {}),
        promotion={"coupon": coupon_id, "type": "coupon"},
    )
    call.state.objects[promotion["id"]] = promotion
    return public(promotion)


@route("GET", "/v1/promotion_codes", "PromotionCodeListParams")
def list_promotion_codes(call: Call) -> dict[str, Any]:
    p = call.params
    found = [
        c
        for c in call.state.of_kind("promotion_code")
        if ("code" not in p or c["code"] == p["code"])
        and ("active" not in p or c["active"] is p["active"])
    ]
    return list_page(_newest(found), p, "/v1/promotion_codes")


@route("GET", "/v1/promotion_codes/{id}", "PromotionCodeRetrieveParams")
def retrieve_promotion_code(call: Call) -> dict[str, Any]:
    return public(call.state.get("promotion_code", call.id()))


def redeemable(state: StripeState, code: str, customer: str | None, now: int) -> dict[str, Any]:
    """The active promotion code a customer typed, or the reason Checkout shows for refusing."""
    for promotion in state.of_kind("promotion_code"):
        if promotion["code"].lower() != code.strip().lower() or not promotion["active"]:
            continue
        coupon = state.objects[promotion["promotion"]["coupon"]]
        expired = promotion["expires_at"] is not None and promotion["expires_at"] <= now
        used_up = (
            promotion["max_redemptions"] is not None
            and promotion["times_redeemed"] >= promotion["max_redemptions"]
        )
        if (
            expired
            or used_up
            or not coupon["valid"]
            or promotion["customer"] not in (None, customer)
        ):
            break
        return promotion
    raise invalid("This code is invalid.", "promotion_code", "promotion_code_invalid")
