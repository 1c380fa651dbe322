"""Where each decision area sits on the ladder of co-production, where it started and where it aims."""

from __future__ import annotations

from typing import Literal

from domain.engagement import EngagementState
from domain.vocabulary import DomainModel, Rung, rung_group, rung_index


class LadderPosition(DomainModel):
    area_id: str
    title: str
    started_on: Rung
    current: Rung
    target: Rung
    group: Literal["doing to", "doing for", "doing with"]
    steps_climbed: int
    steps_to_target: int
    reached: bool


def ladder_positions(state: EngagementState) -> tuple[LadderPosition, ...]:
    """Every decision area of the plan, in plan order."""
    plan = state.require_plan()
    positions = []
    for area in plan.decision_areas:
        known = state.decision_areas[area.id]
        started_on = known.changes[0].from_rung if known.changes else known.rung
        positions.append(
            LadderPosition(
                area_id=area.id,
                title=area.title,
                started_on=started_on,
                current=known.rung,
                target=area.target,
                group=rung_group(known.rung),
                steps_climbed=rung_index(known.rung) - rung_index(started_on),
                steps_to_target=max(0, rung_index(area.target) - rung_index(known.rung)),
                reached=rung_index(known.rung) >= rung_index(area.target),
            )
        )
    return tuple(positions)
