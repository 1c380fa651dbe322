"""Transitions for what the engagement produces (outputs and their stages) and the organisation's
decisions in its decision areas."""

from __future__ import annotations

from domain.engagement import DecisionTaken, EngagementState, OutputStageReached, OutputState
from domain.errors import RuleViolation, UnknownReference
from domain.events import DecisionRecorded, Event, OutputRecorded
from domain.events.outputs import OutputStage
from domain.transitions.common import Updates, known_people, known_person, known_phase
from domain.vocabulary import evolve, rung_index

STAGES: tuple[OutputStage, ...] = ("drafted", "consulted_on", "adopted", "published")
LIVED_EXPERIENCE = ("service_user", "carer")
# From this rung up, a decision is made with service users, so one of them must have taken part.
WITH_SERVICE_USERS_FROM = rung_index("engagement")


def _recorded_by_a_facilitator(state: EngagementState, event: Event, person_id: str, what: str) -> None:
    person = known_person(state, event, person_id)
    if person.constituency != "facilitator":
        raise RuleViolation(event, f"only a facilitator may record {what}, and {person_id} is not one")


def _distinct(event: Event, person_ids: tuple[str, ...]) -> None:
    twice = sorted({p for p in person_ids if person_ids.count(p) > 1})
    if twice:
        raise RuleViolation(event, f"{', '.join(twice)} is named more than once among those who took part")


def on_output_recorded(state: EngagementState, event: OutputRecorded) -> Updates:
    _recorded_by_a_facilitator(state, event, event.recorded_by, "an output")
    known_people(state, event, event.took_part)
    _distinct(event, event.took_part)
    if event.phase_id is not None:
        known_phase(state, event, event.phase_id)
    output = state.outputs.get(event.output_id)
    if output is not None:
        if output.kind != event.kind:
            raise RuleViolation(
                event,
                f"output '{event.output_id}' is a {output.kind.replace('_', ' ')}, not a {event.kind.replace('_', ' ')}",
            )
        last = output.stages[-1].stage
        if STAGES.index(event.stage) <= STAGES.index(last):
            raise RuleViolation(
                event,
                f"output '{event.output_id}' is already {last.replace('_', ' ')}, so it cannot be "
                f"{event.stage.replace('_', ' ')} now",
            )
    reached = OutputStageReached(
        stage=event.stage,
        at=event.occurred_at,
        took_part=event.took_part,
        constituencies=tuple(sorted({state.people[p].constituency for p in event.took_part})),
    )
    updated = (
        OutputState(output_id=event.output_id, kind=event.kind, phase_id=event.phase_id, stages=(reached,))
        if output is None
        else evolve(output, {"stages": (*output.stages, reached)})
    )
    return {"outputs": {**state.outputs, event.output_id: updated}}


def on_decision_recorded(state: EngagementState, event: DecisionRecorded) -> Updates:
    _recorded_by_a_facilitator(state, event, event.recorded_by, "a decision")
    area = state.decision_areas.get(event.area_id)
    if area is None:
        raise UnknownReference(event, f"there is no decision area '{event.area_id}' in the plan")
    known_people(state, event, event.took_part)
    _distinct(event, event.took_part)
    if event.decided_on > event.occurred_at.date():
        raise RuleViolation(event, f"the decision is dated {event.decided_on}, which has not come yet")
    if any(d.decision_id == event.decision_id for a in state.decision_areas.values() for d in a.decisions):
        raise RuleViolation(event, f"decision '{event.decision_id}' was recorded already")
    with_them = any(state.people[p].constituency in LIVED_EXPERIENCE for p in event.took_part)
    if rung_index(event.rung) >= WITH_SERVICE_USERS_FROM and not with_them:
        raise RuleViolation(
            event,
            f"a decision made at '{event.rung}' needs a service user or carer among those who took part",
        )
    taken = DecisionTaken(
        decision_id=event.decision_id,
        decided_on=event.decided_on,
        rung=event.rung,
        took_part=event.took_part,
        with_service_users=with_them,
    )
    moved = evolve(area, {"decisions": (*area.decisions, taken)})
    return {
        "decision_areas": {**state.decision_areas, area.area_id: moved},
        "decisions_recorded": state.decisions_recorded + 1,
    }
