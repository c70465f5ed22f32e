"""The subscription API's use cases, as plain functions of the caller and the request.

A caller whose status is entitled (`shared.entitlement`, past_due included) gets 409 at
checkout: plans change through the billing portal. Prices, trials and features come from the
catalog in the secret document (`shared.catalog`), so no route asks Stripe for them.

One customer, one subscription: a new Checkout Session expires the customer's older open
subscription sessions (what Stripe recommends), so two browser tabs cannot both be paid. Every
customer, session and subscription made here carries the stack's identity in its metadata
(`shared.customer_state.stack_metadata`), since stacks may share one Stripe account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared import accounts, catalog, customer_state, entitlements, secrets, users
from shared.config import runtime_config
from shared.contract import ORGANIZATION_METADATA_KEY, SecretKey
from shared.entitlement import ENTITLED_STATUSES
from shared.http import Caller, HttpError
from shared.log import get_logger
from shared.stripe_client import call_stripe
from shared.subscription_state import MalformedObjectError
from subscription import teams

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

logger = get_logger("subscription")


def _redirect(path: str) -> str:
    """A URL on the frontend, at a path the stack configured (checkoutSuccessPath, ...)."""
    return runtime_config().frontend_domain + path


def create_checkout(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """A Checkout Session for a price of this stack's catalog, on the caller's one customer.

    The plan's trial applies only to a customer who never had a subscription (one trial per
    customer, ever). A customer Stripe already knows is checked with one list call: an
    entitled subscription there is a 409 even before its webhook has reached the record.
    """
    price_id = body.get("priceId")
    if not isinstance(price_id, str) or not price_id:
        raise HttpError(400, "priceId must be one of this service's prices")
    price = catalog.find_price(price_id)
    if price is None:
        raise HttpError(400, "priceId must be one of this service's prices")
    account = accounts.account_of(caller)
    accounts.require_admin(account)
    seats = _seats_to_buy(price, body.get("seats"))
    record = users.store().get_user(account.id) or {}
    if record.get("subscriptionStatus") in ENTITLED_STATUSES:
        raise _already_subscribed()
    customer_id = record.get("stripeCustomerId")
    had_subscription = False
    if customer_id:
        statuses = {str(s.get("status")) for s in customer_subscriptions(customer_id)}
        if ENTITLED_STATUSES.intersection(statuses):
            raise _already_subscribed()
        had_subscription = bool(statuses)
    else:
        customer_id = _create_customer(account)
    config = runtime_config()
    metadata = customer_state.stack_metadata(account.id)
    params: SessionCreateParams = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": _line_items(price_id, price, seats),
        "client_reference_id": account.id,
        "metadata": dict(metadata),
        "subscription_data": {"metadata": dict(metadata)},
        "success_url": _redirect(config.checkout_success_path)
        + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": _redirect(config.checkout_cancel_path),
    }
    if price.trial_days and not had_subscription:
        params["subscription_data"]["trial_period_days"] = price.trial_days
    if config.allow_promotion_codes:
        params["allow_promotion_codes"] = True
    if config.automatic_tax:
        # Stripe Tax needs the customer's address: collect it and save it on the customer.
        params["automatic_tax"] = {"enabled": True}
        params["billing_address_collection"] = "required"
        params["customer_update"] = {"address": "auto", "name": "auto"}
    session = call_stripe(lambda client: client.v1.checkout.sessions.create(params=params))
    expire_older_sessions(customer_id, session.id, session.created)
    return {"sessionId": session.id, "url": session.url}


def expire_older_sessions(customer_id: str, newest_id: str, newest_created: int) -> None:
    """Expire the customer's open subscription sessions older than the newest one.

    Only older ones: two tabs racing each expire the other's older session, so exactly the
    newest (by `created`, then id) survives, never none. A session completed meanwhile cannot
    be expired (Stripe answers 400); that payment then ends as a duplicate subscription, which
    the webhook reports (`outcome: duplicate_subscription`) for an operator to refund.
    """
    import stripe

    page = call_stripe(
        lambda client: client.v1.checkout.sessions.list(
            params={"customer": customer_id, "status": "open", "limit": 100}
        )
    )
    for session in page.data:
        if session.mode != "subscription" or session.id == newest_id:
            continue
        if customer_state.of_other_stack(session.metadata):  # never another stack's session
            continue
        if (session.created, session.id) > (newest_created, newest_id):
            continue
        try:
            _expire_session(session.id)
        except stripe.InvalidRequestError as error:
            logger.warning("checkout session %s not expired: %s", session.id, error.code)


def _expire_session(session_id: str) -> None:
    call_stripe(lambda client: client.v1.checkout.sessions.expire(session_id))


def _already_subscribed() -> HttpError:
    return HttpError(409, "Already subscribed: use the billing portal to change plans")


def customer_subscriptions(customer_id: str) -> list[dict[str, Any]]:
    """This stack's subscriptions of the customer, newest first (one list call, at most 100)."""
    return customer_state.read_subscriptions(customer_id)[0]


def _line_items(
    price_id: str, price: catalog.PriceInCatalog, seats: int
) -> list[SessionCreateParamsLineItem]:
    """The flat price (per seat, or one), then the plan's metered prices for that interval
    without a quantity (Stripe bills them from the meters, in arrears)."""
    items: list[SessionCreateParamsLineItem] = []
    if not price.metered:
        items.append({"price": price_id, "quantity": seats})
    items += [{"price": metered} for metered in price.metered_prices]
    return items


def _seats_to_buy(price: catalog.PriceInCatalog, seats: Any) -> int:
    """A per-seat plan's seats (1-10,000; 1 when not given); any other plan sells one."""
    if seats is None:
        return 1
    if not price.per_seat or price.metered:
        raise HttpError(400, "seats is only for a per-seat plan")
    return teams.seats_from(seats)


def sync(caller: Caller) -> dict[str, Any]:
    """Read the caller's subscriptions from Stripe, store the deciding one, answer the record.

    A success page calls it on return from Checkout, so nobody waits for the webhook. The
    write is stamped with the read (`users.Stamp`): an event older than the read never
    overwrites it, a state written while it read is settled by reading again, and a newer
    event still applies.
    """
    account = accounts.account_of(caller)
    record = users.store().get_user(account.id) or {}
    customer_id = record.get("stripeCustomerId")
    if not customer_id:
        return subscription_state(caller)
    try:
        customer_state.refresh(account.id, str(customer_id))
    except MalformedObjectError as error:
        logger.warning("sync: subscription ignored: %s", error)
        return subscription_state(caller)
    if any(plan.features for plan in catalog.catalog().plans):  # else none can be ours
        entitlements.refresh(account.id, str(customer_id))
    return subscription_state(caller)


def _create_customer(account: accounts.Account) -> str:
    """Create the caller's Stripe customer once, even when two requests race.

    The idempotency key makes Stripe return the same customer to both requests (for 24 h);
    the conditional write keeps whichever id was stored first. Stripe's idempotency keys are
    account-wide, so the key names the stack too: alice of another stack sharing the account
    gets a customer of her own (with one key, Stripe would answer `idempotency_error`).
    """
    metadata = customer_state.stack_metadata(account.id)
    if account.organization_id is not None:  # one customer per organisation, named in Stripe
        metadata[ORGANIZATION_METADATA_KEY] = account.organization_id
    params: CustomerCreateParams = {"metadata": metadata}
    if account.email:
        params["email"] = account.email
    key = f"customer-{customer_state.stack_id()}-{account.id}"
    customer = call_stripe(
        lambda client: client.v1.customers.create(params=params, options={"idempotency_key": key})
    )
    return users.store().save_customer(account.id, account.email, customer.id)


def create_portal_session(caller: Caller) -> dict[str, Any]:
    """A Billing Portal session for the caller's own customer, with this stack's configuration."""
    account = accounts.account_of(caller)
    accounts.require_admin(account)
    record = users.store().get_user(account.id) or {}
    customer_id = record.get("stripeCustomerId")
    if not customer_id:
        raise HttpError(400, "No billing account yet: subscribe first")
    configuration = secrets.require_secret(SecretKey.STRIPE_PORTAL_CONFIGURATION_ID)
    session = call_stripe(
        lambda client: client.v1.billing_portal.sessions.create(
            params={
                "customer": customer_id,
                "configuration": configuration,
                "return_url": _redirect(runtime_config().portal_return_path),
            }
        )
    )
    return {"url": session.url}


def subscription_state(caller: Caller) -> dict[str, Any]:
    """The caller's account's state (one DynamoDB read, nothing else). A member of an
    organisation gets its seats and whether it holds one (one BatchGetItem, whatever the
    organisation's size); a per-seat plan's features only while holding a seat."""
    account = accounts.account_of(caller)
    if not account.is_organization:
        return {**public_state(users.store().get_user(account.id) or {}), "organizationId": None}
    record, has_seat = teams.account_and_seat(account)
    state = public_state(record)
    if record.get("seats") is not None and not has_seat:
        state["features"] = []  # a per-seat plan entitles only the members holding a seat
    return {
        **state,
        "organizationId": account.organization_id,
        "seats": teams.seat_counts(record),
        "hasSeat": has_seat,
    }


def public_state(record: dict[str, Any]) -> dict[str, Any]:
    """What `GET /subscription` answers for a stored record."""
    subscribed = bool(record.get("isSubscribed", False))
    return {
        "isSubscribed": subscribed,
        "plan": record.get("plan"),
        "planId": record.get("planId"),
        "priceId": record.get("priceId"),
        "features": _features(record) if subscribed else [],
        "subscriptionStatus": record.get("subscriptionStatus"),
        "currentPeriodEnd": record.get("currentPeriodEnd"),
        "cancelAtPeriodEnd": bool(record.get("cancelAtPeriodEnd", False)),
        "cancelAt": record.get("cancelAt"),
    }


def _features(record: Mapping[str, Any]) -> list[str]:
    """The account's active Stripe entitlements once Stripe has told them (webhook, sync or
    reconciliation); before that, the catalog plan's features (what the entitlements will be)."""
    stored = record.get(entitlements.ENTITLEMENTS)
    return list(stored) if stored is not None else list(record.get("features") or [])


def prices() -> dict[str, Any]:
    """The catalog for a pricing page, from the secret document alone (no Stripe, no JWT)."""
    return catalog.public_prices()
