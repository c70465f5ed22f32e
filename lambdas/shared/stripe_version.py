"""The Stripe API version the handlers are written for.

One constant, read by the Lambdas (every `StripeClient` pins it) and by the Pulumi program
(the webhook endpoint's `api_version`), so events arrive in exactly the shape the code
parses. It is the version stripe-python (pinned in lambdas/requirements.txt) is built for;
a test fails when the two drift apart.
"""

STRIPE_API_VERSION = "2026-10-28.endive"
