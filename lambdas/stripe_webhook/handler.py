"""Stripe webhook Lambda: verify the signature on the raw body, then apply the event.

400 for anything not correctly signed (nothing is written), 200 once the event is applied,
ignored (unknown type, malformed object, unknown user) or already processed, 500 on a
processing failure so that Stripe retries it. Every answer logs one access line with its status
(`shared.log.log_response`): the webhook's alarms count those lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.http import HttpError, header, raw_body, response
from shared.log import begin_request, bind, get_logger, log_response
from shared.processing import process_event
from shared.snapstart import prepare_snapshot, warm_clients
from stripe_webhook.verification import InvalidWebhookError, verify_event

logger = get_logger("stripe_webhook.handler")
#: The route key API Gateway gives this function; its access lines name it.
ROUTE = "POST /stripe/webhook"
prepare_snapshot(warm_clients("secretsmanager", "dynamodb", stripe=True))


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    begin_request(context)
    answer, user_id = _answer(event)
    with bind(userId=user_id):  # the access line names the user the event concerned
        log_response(logger, ROUTE, answer["statusCode"])
    return answer


def _answer(event: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    try:
        stripe_event = verify_event(raw_body(event), header(event, "stripe-signature"))
    except HttpError as error:  # a body that is not what API Gateway says it is
        logger.warning("webhook rejected: %s", error.message)
        return response(400, {"error": "Invalid signature or payload"}), None
    except InvalidWebhookError as error:
        logger.warning("webhook rejected: %s", error)
        return response(400, {"error": "Invalid signature or payload"}), None
    except Exception as error:
        logger.error("webhook verification failed: %s", type(error).__name__)
        return response(500, {"error": "Internal error"}), None
    try:
        result = process_event(stripe_event)
    except Exception as error:
        logger.error(
            "processing failed: %s",
            type(error).__name__,
            extra={"eventId": stripe_event["id"], "eventType": stripe_event["type"]},
        )
        return response(500, {"error": "Internal error"}), None
    return response(200, {"received": True, "outcome": result.outcome}), result.user_id
