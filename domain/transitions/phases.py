"""Transitions for phases: started, completed, sessions held, escalations."""

from __future__ import annotations

from datetime import timedelta

from domain.engagement import EngagementState
from domain.errors import PhaseOrderError, RuleViolation
from domain.events import GateEscalated, PhaseCompleted, PhaseStarted, SessionHeld
from domain.transitions.common import Updates, known_people, known_person, known_phase
from domain.vocabulary import day, evolve


def on_phase_started(state: EngagementState, event: PhaseStarted) -> Updates:
    plan = state.require_plan()
    phase, progress = known_phase(state, event, event.phase_id)
    if progress.status != "pending":
        raise PhaseOrderError(event, f"phase '{phase.id}' has already started")
    index = plan.phase_index[phase.id]
    if index > 0 and state.phases[plan.phases[index - 1].id].status == "pending":
        raise PhaseOrderError(event, f"phase '{plan.phases[index - 1].id}' comes first and has not started")
    running = state.running_phases()
    if len(running) >= plan.pace.max_concurrent_phases:
        raise RuleViolation(
            event,
            f"the pace policy allows {plan.pace.max_concurrent_phases} phase(s) at once and "
            f"{', '.join(running)} {'is' if len(running) == 1 else 'are'} running",
        )
    started = evolve(progress, {"status": "running", "started_at": event.occurred_at})
    return {"phases": {**state.phases, phase.id: started}}


def on_phase_completed(state: EngagementState, event: PhaseCompleted) -> Updates:
    plan = state.require_plan()
    phase, progress = known_phase(state, event, event.phase_id)
    if progress.status != "running":
        raise PhaseOrderError(event, f"phase '{phase.id}' is not running (it is {progress.status})")
    gate = state.gates.get(phase.id)
    if gate is None or gate.status != "passed":
        raise PhaseOrderError(event, f"the gate of phase '{phase.id}' has not passed")
    earlier = [
        p.id for p in plan.phases[: plan.phase_index[phase.id]] if state.phases[p.id].status != "completed"
    ]
    if earlier:
        raise PhaseOrderError(event, f"earlier phases must complete first: {', '.join(earlier)}")
    completed = evolve(progress, {"status": "completed", "completed_at": event.occurred_at, "hold": None})
    return {"phases": {**state.phases, phase.id: completed}}


def on_session_held(state: EngagementState, event: SessionHeld) -> Updates:
    phase, progress = known_phase(state, event, event.phase_id)
    if progress.status != "running":
        raise PhaseOrderError(event, f"phase '{phase.id}' is not running (it is {progress.status})")
    if event.activity_id is not None:
        planned = next((a for a in phase.activities if a.id == event.activity_id), None)
        if planned is None:
            raise RuleViolation(event, f"phase '{phase.id}' plans no activity '{event.activity_id}'")
        if planned.type != event.activity_type:
            raise RuleViolation(
                event, f"activity '{planned.id}' is {planned.type}, not {event.activity_type}"
            )
    known_person(state, event, event.recorded_by)
    known_people(state, event, event.attendee_ids)
    held = evolve(progress, {"sessions_held": progress.sessions_held + 1})
    return {"phases": {**state.phases, phase.id: held}}


def on_gate_escalated(state: EngagementState, event: GateEscalated) -> Updates:
    phase, progress = known_phase(state, event, event.phase_id)
    if progress.status != "running" or progress.started_at is None:
        raise PhaseOrderError(event, f"phase '{phase.id}' is not running")
    gate = state.gates.get(phase.id)
    if gate is not None and gate.status == "passed":
        raise RuleViolation(event, f"the gate of phase '{phase.id}' has passed; there is nothing to escalate")
    if progress.escalated_at is not None:
        raise RuleViolation(
            event, f"phase '{phase.id}' was escalated already on {day(progress.escalated_at)}"
        )
    due = progress.started_at + timedelta(days=phase.escalate_after_days)
    if event.occurred_at < due:
        raise RuleViolation(event, f"phase '{phase.id}' is not due for escalation until {day(due)}")
    escalated = evolve(progress, {"escalated_at": event.occurred_at})
    return {"phases": {**state.phases, phase.id: escalated}}
