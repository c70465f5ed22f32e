"""Facts the program and the functions share, written once (standard library only).

The functions import it from the layer; the program loads this very file
(`infra/billing/contract.py`). So the webhook endpoint subscribes to exactly the events the
handlers apply, each function's environment names exactly the variables `shared.config` reads,
the secret document holds exactly the keys the functions read, and the catalog document is
written and read through one pair of typed structures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The Stripe API version the handlers are written for: every `StripeClient` pins it and the
#: webhook endpoint renders events in it. It is the version the pinned stripe-python is built
#: for (a test fails when the two drift apart).
STRIPE_API_VERSION = "2026-10-28.endive"


class Env:
    """Environment variable names of the functions (`shared.config.RuntimeConfig` reads them)."""

    SECRET_ARN = "SECRET_ARN"
    SECRETS_CACHE_TTL_SECONDS = "SECRETS_CACHE_TTL_SECONDS"
    USERS_TABLE = "USERS_TABLE"
    EVENTS_TABLE = "EVENTS_TABLE"
    USERS_CUSTOMER_INDEX = "USERS_CUSTOMER_INDEX"
    STACK_ID = "STACK_ID"
    """The stack's identity, `{environment}-{projectName}`, stamped on its Stripe objects."""
    FRONTEND_DOMAIN = "FRONTEND_DOMAIN"
    CHECKOUT_SUCCESS_PATH = "CHECKOUT_SUCCESS_PATH"
    CHECKOUT_CANCEL_PATH = "CHECKOUT_CANCEL_PATH"
    PORTAL_RETURN_PATH = "PORTAL_RETURN_PATH"
    ALLOW_PROMOTION_CODES = "ALLOW_PROMOTION_CODES"
    AUTOMATIC_TAX = "AUTOMATIC_TAX"
    LOG_LEVEL = "LOG_LEVEL"
    ORGANIZATION_CLAIM = "ORGANIZATION_CLAIM"
    """Teams: the JWT claim naming the caller's organisation (unset: B2C, the user pays)."""
    ORGANIZATION_ADMIN_CLAIM = "ORGANIZATION_ADMIN_CLAIM"
    ORGANIZATION_ADMIN_VALUES = "ORGANIZATION_ADMIN_VALUES"
    """Comma-separated roles that may manage an organisation's billing."""
    SEAT_PRORATION_BEHAVIOR = "SEAT_PRORATION_BEHAVIOR"
    MEMBERS_TABLE = "MEMBERS_TABLE"
    STRIPE_API_BASE = "STRIPE_API_BASE"
    """scheme://host:port of a local Stripe emulator; unset in AWS."""
    STRIPE_METER_EVENTS_BASE = "STRIPE_METER_EVENTS_BASE"
    """scheme://host:port for stripe-python's `meter_events` base address (the v2 meter event
    stream) on a local emulator; unset in AWS (meter-events.stripe.com)."""
    LAMBDA_INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
    """Set by Lambda itself (`snap-start` while it initialises a SnapStart snapshot)."""


class SecretKey:
    """Keys of the secret document (README "Secrets")."""

    STRIPE_SECRET_KEY = "stripe_secret_key"
    STRIPE_PUBLISHABLE_KEY = "stripe_publishable_key"
    STRIPE_WEBHOOK_SECRET = "stripe_webhook_secret"
    STRIPE_MONTHLY_PRICE_ID = "stripe_monthly_price_id"
    STRIPE_ANNUAL_PRICE_ID = "stripe_annual_price_id"
    STRIPE_CATALOG = "stripe_catalog"
    STRIPE_PORTAL_CONFIGURATION_ID = "stripe_portal_configuration_id"

    #: Every key the program writes itself: an app secret that reuses one is a settings error.
    RESERVED = (
        STRIPE_SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY,
        STRIPE_WEBHOOK_SECRET,
        STRIPE_MONTHLY_PRICE_ID,
        STRIPE_ANNUAL_PRICE_ID,
        STRIPE_CATALOG,
        STRIPE_PORTAL_CONFIGURATION_ID,
    )


class Event:
    """The Stripe event types the webhook applies (`shared.processing.DISPATCH` keys them)."""

    CHECKOUT_COMPLETED = "checkout.session.completed"
    SUBSCRIPTION_CREATED = "customer.subscription.created"
    SUBSCRIPTION_UPDATED = "customer.subscription.updated"
    SUBSCRIPTION_PAUSED = "customer.subscription.paused"
    SUBSCRIPTION_RESUMED = "customer.subscription.resumed"
    SUBSCRIPTION_DELETED = "customer.subscription.deleted"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    CUSTOMER_UPDATED = "customer.updated"
    ENTITLEMENTS_UPDATED = "entitlements.active_entitlement_summary.updated"


#: The Stripe events the webhook applies and the endpoint subscribes to. Stripe sends both
#: `invoice.paid` and `invoice.payment_succeeded` for one payment: only `invoice.paid` is
#: handled (it also covers invoices paid out of band), so a payment costs one Stripe read.
#: Adding one updates the endpoint in place: its signing secret does not change.
WEBHOOK_EVENTS: tuple[str, ...] = (
    Event.CHECKOUT_COMPLETED,
    Event.SUBSCRIPTION_CREATED,
    Event.SUBSCRIPTION_UPDATED,
    Event.SUBSCRIPTION_PAUSED,
    Event.SUBSCRIPTION_RESUMED,
    Event.SUBSCRIPTION_DELETED,
    Event.INVOICE_PAID,
    Event.INVOICE_PAYMENT_FAILED,
    Event.CUSTOMER_UPDATED,
    Event.ENTITLEMENTS_UPDATED,
)


@dataclass(frozen=True)
class RouteKey:
    """One route of the HTTP API, as API Gateway keys it."""

    method: str
    path: str
    requires_jwt: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


WEBHOOK_PATH = "/stripe/webhook"
#: The subscription function's routes: a contract with the frontend (openapi.yaml).
SUBSCRIPTION_ROUTES: tuple[RouteKey, ...] = (
    RouteKey("POST", "/subscription/checkout", requires_jwt=True),
    RouteKey("POST", "/subscription/portal", requires_jwt=True),
    # Public: a pricing page calls it before anyone signs in.
    RouteKey("GET", "/subscription/prices", requires_jwt=False),
    RouteKey("GET", "/subscription", requires_jwt=True),
    RouteKey("POST", "/subscription/sync", requires_jwt=True),
    RouteKey("GET", "/subscription/usage", requires_jwt=True),
)
#: Teams' routes, declared only on a stack with `organizationClaim` (openapi.yaml).
ORGANIZATION_ROUTES: tuple[RouteKey, ...] = (
    RouteKey("PUT", "/subscription/seats", requires_jwt=True),
    RouteKey("GET", "/subscription/members", requires_jwt=True),
    RouteKey("POST", "/subscription/members", requires_jwt=True),
    RouteKey("DELETE", "/subscription/members/{userId}", requires_jwt=True),
)
WEBHOOK_ROUTES: tuple[RouteKey, ...] = (RouteKey("POST", WEBHOOK_PATH, requires_jwt=False),)

#: Where Checkout and the portal send people back to, on the frontend, unless configured.
REDIRECT_PATH_DEFAULTS = {
    "checkoutSuccessPath": "/billing/success",
    "checkoutCancelPath": "/billing/cancel",
    "portalReturnPath": "/account",
}


class Table:
    """Key and index names of the two tables."""

    USER_ID = "userId"
    CUSTOMER_ID = "stripeCustomerId"
    CUSTOMER_INDEX = "stripeCustomerId-index"
    EVENT_ID = "eventId"
    ORGANIZATION_ID = "organizationId"
    """The members table's partition key (`org:{claim}`); its sort key is USER_ID."""


#: The metadata key that stamps every customer, Checkout Session and subscription with the stack
#: that made it: stacks may share one Stripe account, whose webhook endpoints and event list are
#: account-wide.
STACK_METADATA_KEY = "stack"
#: The metadata key naming the user a Stripe object belongs to (an organisation's account id,
#: `org:{claim}`, for a team's).
USER_METADATA_KEY = "userId"
#: The metadata key naming the organisation a team's customer belongs to.
ORGANIZATION_METADATA_KEY = "organizationId"
#: The prefix of an organisation's billing account id (`org:{claim value}`).
ORGANIZATION_PREFIX = "org:"

#: Log `outcome` of a second entitled subscription for one customer (an alarm counts it).
DUPLICATE_SUBSCRIPTION_OUTCOME = "duplicate_subscription"
#: Log `outcome` of an event about another stack's objects or another customer.
OTHER_STACK_OUTCOME = "other_stack"

#: Catalog intervals as the document names them → Stripe's `recurring.interval`.
INTERVALS = {"monthly": "month", "annual": "year"}
#: How a meter aggregates its events over a period (Stripe's `default_aggregation.formula`).
METER_AGGREGATIONS = ("sum", "count", "last")
#: The payload keys every meter reads (its customer mapping and its value).
METER_CUSTOMER_KEY = "stripe_customer_id"
METER_VALUE_KEY = "value"


class UsageField:
    """Fields of a usage message on the stack's queue (README "Usage billing")."""

    USER_ID = "userId"
    METER = "meter"
    """The meter's config id (`api-calls`), not Stripe's `mtr_` id."""
    VALUE = "value"
    IDEMPOTENCY_KEY = "idempotencyKey"
    """Becomes the meter event's `identifier`: Stripe applies one identifier once in 24 hours."""
    TIMESTAMP = "timestamp"
    """Optional, epoch seconds; else when the message was sent to the queue."""

    REQUIRED = (USER_ID, METER, VALUE, IDEMPOTENCY_KEY)
    ALL = (*REQUIRED, TIMESTAMP)


@dataclass(frozen=True)
class CatalogMeter:
    """One Stripe meter of the stack."""

    id: str
    """The config id (`api-calls`): what usage messages and plans name."""
    name: str
    meter_id: Any
    """Stripe's `mtr_...` (an Output of the provider's in the program)."""
    event_name: str
    aggregation: str

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "meterId": self.meter_id,
            "eventName": self.event_name,
            "aggregation": self.aggregation,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CatalogMeter:
        return cls(
            id=str(document["id"]),
            name=str(document.get("name") or document["id"]),
            meter_id=document.get("meterId"),
            event_name=str(document["eventName"]),
            aggregation=str(document.get("aggregation") or "sum"),
        )


@dataclass(frozen=True)
class CatalogUsagePrice:
    """One metered price: billed per unit of a meter's aggregate, in arrears."""

    id: Any
    unit_amount_decimal: str
    """In the currency's smallest unit, as a decimal string (`"0.05"`)."""

    def to_document(self) -> dict[str, Any]:
        return {"id": self.id, "unitAmountDecimal": self.unit_amount_decimal}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CatalogUsagePrice:
        return cls(document["id"], str(document["unitAmountDecimal"]))


@dataclass(frozen=True)
class CatalogPrice:
    """One recurring price of a plan."""

    id: Any
    """`price_...` (an Output of the provider's in the program)."""
    amount: int
    """In the currency's smallest unit."""
    interval: str
    """Stripe's `month` or `year`."""

    def to_document(self) -> dict[str, Any]:
        return {"id": self.id, "amount": self.amount, "interval": self.interval}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CatalogPrice:
        return cls(document["id"], int(document["amount"]), str(document["interval"]))


@dataclass(frozen=True)
class CatalogPlan:
    """One plan as the pricing page, Checkout and the webhook see it."""

    id: str
    name: str
    product_id: Any
    prices: dict[str, CatalogPrice]
    """`monthly` / `annual` → price."""
    description: str | None = None
    trial_days: int | None = None
    features: tuple[str, ...] = ()
    usage: dict[str, dict[str, CatalogUsagePrice]] = field(default_factory=dict)
    """Meter id → interval → metered price (written only when the plan has usage)."""
    per_seat: bool = False

    def to_document(self) -> dict[str, Any]:
        document = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "productId": self.product_id,
            "trialDays": self.trial_days,
            "features": list(self.features),
            "prices": {interval: price.to_document() for interval, price in self.prices.items()},
        }
        if self.usage:
            document["usage"] = {
                meter: {interval: price.to_document() for interval, price in prices.items()}
                for meter, prices in self.usage.items()
            }
        if self.per_seat:  # written only when true: a B2C stack's document is unchanged
            document["perSeat"] = True
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CatalogPlan:
        trial = document.get("trialDays")
        return cls(
            id=str(document["id"]),
            name=str(document.get("name") or document["id"]),
            product_id=document.get("productId"),
            prices={
                interval: CatalogPrice.from_document(price)
                for interval, price in (document.get("prices") or {}).items()
                if isinstance(price, dict)
            },
            description=document.get("description"),
            trial_days=trial if isinstance(trial, int) and trial > 0 else None,
            features=tuple(str(feature) for feature in document.get("features") or []),
            usage={
                str(meter): {
                    interval: CatalogUsagePrice.from_document(price)
                    for interval, price in prices.items()
                    if isinstance(price, dict)
                }
                for meter, prices in (document.get("usage") or {}).items()
                if isinstance(prices, dict)
            },
            per_seat=document.get("perSeat") is True,
        )


@dataclass(frozen=True)
class Catalog:
    """The secret document's `stripe_catalog`: written by the program, read by the functions."""

    currency: str
    plans: tuple[CatalogPlan, ...] = field(default_factory=tuple)
    meters: tuple[CatalogMeter, ...] = field(default_factory=tuple)
    """Written only when the stack has meters, so a stack without them keeps its document."""

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "currency": self.currency,
            "plans": [plan.to_document() for plan in self.plans],
        }
        if self.meters:
            document["meters"] = [meter.to_document() for meter in self.meters]
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Catalog:
        plans, meters = document.get("plans"), document.get("meters")
        return cls(
            currency=str(document.get("currency") or ""),
            plans=tuple(
                CatalogPlan.from_document(plan)
                for plan in (plans if isinstance(plans, list) else [])
                if isinstance(plan, dict)
            ),
            meters=tuple(
                CatalogMeter.from_document(meter)
                for meter in (meters if isinstance(meters, list) else [])
                if isinstance(meter, dict)
            ),
        )

    def meter(self, meter_id: str) -> CatalogMeter | None:
        """The meter with this config id, or None."""
        return next((meter for meter in self.meters if meter.id == meter_id), None)
