"""Replay the handled events Stripe could not deliver, so a lost webhook never leaves a user wrong.

Each run lists the handled event types with `delivery_success=false` created since the last
successful run (a watermark, inclusive; the first run looks back three days, Stripe's retry
window) and up
to the run's start, newest first as Stripe pages them, and applies each one through the
webhook's own processing (`shared.processing`: dedupe, ordering, malformed objects). Before the
function's time runs out it stops cleanly and keeps its place (the window and the last event
applied); the next run resumes there, then moves the watermark to that window's end.

The progress lives in the processed-events table under `RECONCILE_KEY` (no TTL attribute, so
it never expires). A failure (Stripe or DynamoDB down) saves the place before the event that
failed and re-raises, so the run counts as failed (and alarms) and the next one retries it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import aws
from shared.config import runtime_config
from shared.log import get_logger
from shared.processing import HANDLED_EVENT_TYPES, process_event
from shared.stripe_client import call_stripe

if TYPE_CHECKING:
    from stripe.params import EventListParams

logger = get_logger("reconcile")

RECONCILE_KEY = "reconcile#progress"
FIRST_LOOKBACK_SECONDS = 3 * 24 * 3600
#: Stop when less than this is left: one page from Stripe and its writes fit well inside.
STOP_MARGIN_MS = 20_000
PAGE_SIZE = 100


@dataclass(frozen=True)
class Progress:
    """Where reconciliation stands: everything up to `watermark` is done."""

    watermark: int
    window_end: int | None = None
    """The end of an unfinished run's window, if one stopped early."""
    after_event: str | None = None
    """The last event that run applied (Stripe pages from it, towards older events)."""


@dataclass(frozen=True)
class RunResult:
    complete: bool
    outcomes: dict[str, int]
    progress: Progress


def _table() -> str:
    return runtime_config().events_table


def load_progress(now: int) -> Progress:
    item = (
        aws.client("dynamodb")
        .get_item(TableName=_table(), Key={"eventId": {"S": RECONCILE_KEY}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        return Progress(watermark=now - FIRST_LOOKBACK_SECONDS)
    return Progress(
        watermark=int(item["watermark"]["N"]),
        window_end=int(item["windowEnd"]["N"]) if "windowEnd" in item else None,
        after_event=item["afterEvent"]["S"] if "afterEvent" in item else None,
    )


def save_progress(progress: Progress) -> None:
    item: dict[str, Any] = {
        "eventId": {"S": RECONCILE_KEY},
        "watermark": {"N": str(progress.watermark)},
    }
    if progress.window_end is not None:
        item["windowEnd"] = {"N": str(progress.window_end)}
    if progress.after_event is not None:
        item["afterEvent"] = {"S": progress.after_event}
    aws.client("dynamodb").put_item(TableName=_table(), Item=item)


def _page(progress: Progress, window_end: int, after_event: str | None) -> Any:
    params: EventListParams = {
        "types": list(HANDLED_EVENT_TYPES),
        "delivery_success": False,
        # Inclusive at the watermark: Stripe's `created` has one-second resolution, so an event
        # of the last run's boundary second may have been created after that run listed it.
        # Replaying one already applied costs a duplicate check, never a second write.
        "created": {"gte": progress.watermark, "lte": window_end},
        "limit": PAGE_SIZE,
    }
    if after_event:
        params["starting_after"] = after_event
    return call_stripe(lambda client: client.v1.events.list(params=params))


def reconcile(now: int, remaining_ms: Callable[[], int]) -> RunResult:
    """One run: resume an unfinished window or start a new one, until done or out of time."""
    progress = load_progress(now)
    window_end = progress.window_end or now
    after_event = progress.after_event
    outcomes: Counter[str] = Counter()
    while True:
        page = _page(progress, window_end, after_event)
        for event in page.data:
            if remaining_ms() < STOP_MARGIN_MS:
                paused = Progress(progress.watermark, window_end, after_event)
                save_progress(paused)
                logger.info("reconciliation paused after %s: %s", after_event, dict(outcomes))
                return RunResult(False, dict(outcomes), paused)
            try:
                outcomes[process_event(event.to_dict()).outcome] += 1
            except Exception:
                save_progress(Progress(progress.watermark, window_end, after_event))
                raise
            after_event = event.id
        if not page.has_more:
            break
    done = Progress(watermark=window_end)
    save_progress(done)
    logger.info("reconciliation complete up to %d: %s", window_end, dict(outcomes))
    return RunResult(True, dict(outcomes), done)
