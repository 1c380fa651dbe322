"""Progress of each indicator from its baseline toward its target, respecting its direction.

`progress` is 0 at the baseline and 1 at the target, whichever way the indicator runs: for a `down`
indicator (waiting times, complaints) a value below the baseline is progress. It is below 0 when things
got worse and above 1 past the target. The baseline is the recorded one if any, else the plan's estimate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from domain.engagement import EngagementState
from domain.vocabulary import Direction, DomainModel

IndicatorStatus = Literal["no baseline", "not measured", "worse than baseline", "improving", "target reached"]


class IndicatorProgress(DomainModel):
    key: str
    unit: str
    direction: Direction
    baseline: float | None
    target: float
    latest: float | None
    latest_at: datetime | None
    measurements: int
    progress: float | None
    reached: bool
    status: IndicatorStatus


def target_reached(direction: Direction, value: float, target: float) -> bool:
    return value >= target if direction == "up" else value <= target


def progress_fraction(direction: Direction, baseline: float, target: float, value: float) -> float:
    """How far `value` has moved from `baseline` to `target`: 0 at the baseline, 1 at the target."""
    span = target - baseline
    if span == 0 or (span > 0) != (direction == "up"):
        # A baseline already at or beyond the target: all or nothing.
        return 1.0 if target_reached(direction, value, target) else 0.0
    return (value - baseline) / span


def indicator_progress(state: EngagementState) -> tuple[IndicatorProgress, ...]:
    """Every indicator of the plan, in plan order."""
    plan = state.require_plan()
    results = []
    for indicator in plan.evaluation.indicators:
        known = state.indicators[indicator.key]
        latest = known.measurements[-1] if known.measurements else None
        baseline = known.baseline
        progress = None
        reached = False
        status: IndicatorStatus
        if baseline is None:
            status = "no baseline"
        elif latest is None:
            status = "not measured"
        else:
            progress = progress_fraction(indicator.direction, baseline, indicator.target, latest.value)
            reached = target_reached(indicator.direction, latest.value, indicator.target)
            status = "target reached" if reached else "worse than baseline" if progress < 0 else "improving"
        results.append(
            IndicatorProgress(
                key=indicator.key,
                unit=indicator.unit,
                direction=indicator.direction,
                baseline=baseline,
                target=indicator.target,
                latest=latest.value if latest else None,
                latest_at=latest.at if latest else None,
                measurements=len(known.measurements),
                progress=progress,
                reached=reached,
                status=status,
            )
        )
    return tuple(results)
