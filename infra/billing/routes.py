"""The API's routes: a contract with the frontend (README "Runtime behaviour")."""

from __future__ import annotations

from billing.http_api import Route

WEBHOOK_PATH = "/stripe/webhook"

SUBSCRIPTION_ROUTES = (
    Route("POST", "/subscription/checkout", requires_jwt=True),
    Route("POST", "/subscription/portal", requires_jwt=True),
    # Public: a pricing page calls it before anyone signs in.
    Route("GET", "/subscription/prices", requires_jwt=False),
    Route("GET", "/subscription", requires_jwt=True),
    Route("POST", "/subscription/sync", requires_jwt=True),
)
WEBHOOK_ROUTES = (Route("POST", WEBHOOK_PATH, requires_jwt=False),)
