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


def rung_change_refusal(
    state: EngagementState, area_id: str, to_rung: Rung, agreed_by: tuple[str, ...]
) -> str | None:
    """Why a move of ``area_id`` to ``to_rung`` agreed by ``agreed_by`` cannot be recorded, under a plan
    with a change policy (None: it can). Those who hold the decision today must be party to sharing it
    (someone holding one of the area's ``holders`` roles), and a move into 'doing with' (co-design,
    co-production) is agreed with a service user or carer, not announced to them."""
    area = state.require_plan().areas_by_id[area_id]
    people = [state.people[p] for p in agreed_by if p in state.people]
    if area.holders and not any(set(person.roles) & set(area.holders) for person in people):
        return (
            f"moving '{area_id}' needs someone who holds it now ({', '.join(area.holders)}) among those who "
            "agree it"
        )
    if rung_group(to_rung) == "doing with" and not any(
        p.constituency in ("service_user", "carer") for p in people
    ):
        return f"moving '{area_id}' to {to_rung} needs a service user or carer among those who agree it"
    return None
