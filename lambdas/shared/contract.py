"""Facts the program and the functions share, written once (standard library only).

The program loads this file by path (`infra/billing/contract.py`), the functions import it from
the layer, so the webhook endpoint subscribes to exactly the events the handlers apply.
"""

from __future__ import annotations

#: The Stripe events the webhook applies and the endpoint subscribes to. Stripe sends both
#: `invoice.paid` and `invoice.payment_succeeded` for one payment: only `invoice.paid` is
#: handled (it also covers invoices paid out of band), so a payment costs one Stripe read.
#: Adding one updates the endpoint in place: its signing secret does not change.
WEBHOOK_EVENTS: tuple[str, ...] = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.updated",
)

#: The metadata key that stamps every customer, Checkout Session and subscription with the stack
#: that made it (`{environment}-{projectName}`): stacks may share one Stripe account, whose
#: webhook endpoints and event list are account-wide.
STACK_METADATA_KEY = "stack"
#: The metadata key naming the user a Stripe object belongs to.
USER_METADATA_KEY = "userId"

#: Environment variable holding the stack identity (`{environment}-{projectName}`).
STACK_ID_VARIABLE = "STACK_ID"

#: Log `outcome` of a second entitled subscription for one customer (an alarm counts it).
DUPLICATE_SUBSCRIPTION_OUTCOME = "duplicate_subscription"
#: Log `outcome` of an event about another stack's objects or another customer.
OTHER_STACK_OUTCOME = "other_stack"
