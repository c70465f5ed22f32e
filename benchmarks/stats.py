"""Median and spread of repeated samples."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def describe_ms(samples: Sequence[float]) -> str:
    """'median [min-max] ms' for samples in seconds."""
    return f"{median(samples) * 1000:.1f} ms [{min(samples) * 1000:.1f}-{max(samples) * 1000:.1f}]"
