"""Where each decision area sits on the ladder of co-production: where it started, the rung people agreed
it is on now, where it aims, and the rung its recorded decisions were actually made at (with the share
of them made with service users)."""

from __future__ import annotations

from typing import Literal

from domain.engagement import DecisionTaken, EngagementState
from domain.vocabulary import RUNGS, DomainModel, Rung, rung_group, rung_index


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
    # Computed from the organisation's decisions recorded in the area (none yet: None).
    decisions: int = 0
    practised: Rung | None = None
    share_with_service_users: float | None = None


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
                decisions=len(known.decisions),
                practised=practised_rung(known.decisions),
                share_with_service_users=share_made_with_service_users(known.decisions),
            )
        )
    return tuple(positions)


def practised_rung(decisions: tuple[DecisionTaken, ...]) -> Rung | None:
    """The rung an area's decisions were actually made at: the lower median of their rungs, so one
    showcase decision does not lift an area whose other decisions were made without service users."""
    if not decisions:
        return None
    ordered = sorted(rung_index(d.rung) for d in decisions)
    return RUNGS[ordered[(len(ordered) - 1) // 2]]


def share_made_with_service_users(decisions: tuple[DecisionTaken, ...]) -> float | None:
    """The share of decisions made with service users: co-designed or co-produced, with a service user
    or carer taking part (None: no decisions recorded)."""
    if not decisions:
        return None
    made_with = sum(1 for d in decisions if d.with_service_users and rung_group(d.rung) == "doing with")
    return made_with / len(decisions)


def decisions_made_with_service_users(state: EngagementState) -> tuple[int, int]:
    """Across every decision area: decisions made with service users, and decisions recorded."""
    decisions = [d for area in state.decision_areas.values() for d in area.decisions]
    made_with = sum(1 for d in decisions if d.with_service_users and rung_group(d.rung) == "doing with")
    return made_with, len(decisions)
