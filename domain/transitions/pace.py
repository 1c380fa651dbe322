"""Transitions for pace: check-ins, pace holds and their release or override, reminders."""

from __future__ import annotations

from domain.engagement import CheckIn, EngagementState, PaceHold, ReminderLog
from domain.errors import GateError, PhaseOrderError, RuleViolation, UnknownReference
from domain.events import CheckInRecorded, PaceHoldRecorded, PaceHoldReleased, PaceOverridden, ReminderSent
from domain.rules.changes import needs_cosigners
from domain.rules.pace import pace_check
from domain.transitions.changes import complete_change, lapse
from domain.transitions.common import (
    Updates,
    known_module,
    known_people,
    known_person,
    known_phase,
    still_consenting,
)
from domain.vocabulary import day, evolve, record


def on_check_in_recorded(state: EngagementState, event: CheckInRecorded) -> Updates:
    still_consenting(state, event, event.person_id)
    scale = state.require_plan().pace.comfort_scale
    if not scale.low <= event.comfort <= scale.high:
        raise RuleViolation(event, f"comfort {event.comfort} is outside the scale {scale.low}..{scale.high}")
    check_in = record(CheckIn, {"at": event.occurred_at, "comfort": event.comfort})
    return {
        "check_ins": {**state.check_ins, event.person_id: check_in},
        "check_in_count": state.check_in_count + 1,
    }


def on_pace_hold_recorded(state: EngagementState, event: PaceHoldRecorded) -> Updates:
    phase, progress = known_phase(state, event, event.phase_id)
    if progress.status != "running":
        raise PhaseOrderError(event, f"phase '{phase.id}' is not running")
    if progress.hold is not None:
        raise RuleViolation(event, f"phase '{phase.id}' is already held since {day(progress.hold.since)}")
    gate = state.gates.get(phase.id)
    if gate is not None and gate.status in ("open", "passed"):
        raise GateError(event, f"gate '{phase.id}' is {gate.status}; a pace hold comes before a gate opens")
    if pace_check(state, phase.id, event.occurred_at).may_advance:
        raise RuleViolation(
            event, f"the pace policy lets phase '{phase.id}' advance; there is nothing to hold"
        )
    hold = PaceHold(
        since=event.occurred_at, waiting_for=event.waiting_for, comfort_average=event.comfort_average
    )
    held = evolve(progress, {"hold": hold, "holds_recorded": progress.holds_recorded + 1})
    return {"phases": {**state.phases, phase.id: held}}


def on_pace_hold_released(state: EngagementState, event: PaceHoldReleased) -> Updates:
    phase, progress = known_phase(state, event, event.phase_id)
    if progress.hold is None:
        raise RuleViolation(event, f"phase '{phase.id}' is not held")
    overrides = lapse(
        state.changes,
        event.occurred_at,
        lambda change: change.kind == "pace_override" and change.phase_id == phase.id,
    )
    return {"phases": {**state.phases, phase.id: evolve(progress, {"hold": None})}, "changes": overrides}


def on_pace_overridden(state: EngagementState, event: PaceOverridden) -> Updates:
    phase, progress = known_phase(state, event, event.phase_id)
    person = known_person(state, event, event.overridden_by)
    if person.constituency != "facilitator":
        raise RuleViolation(
            event, f"only a facilitator may override a pace hold, and {person.person_id} is not one"
        )
    if progress.hold is None:
        raise RuleViolation(event, f"phase '{phase.id}' is not held, so there is nothing to override")
    updates: Updates = {}
    if event.change_id is not None:  # co-signed: it lets the gate's next round open, and no more
        proposal = state.changes.get(event.change_id)
        if proposal is None or proposal.kind != "pace_override" or proposal.phase_id != phase.id:
            raise RuleViolation(event, f"change '{event.change_id}' did not propose this override")
        gate = state.gates.get(phase.id)
        next_round = gate.round + 1 if gate else 1
        if event.round != next_round:
            raise RuleViolation(event, f"the override is for round {next_round} of gate '{phase.id}'")
        updates["changes"] = complete_change(state, event, event.change_id, event.cosigned_by)
    elif needs_cosigners(state.require_plan().changes):
        raise RuleViolation(
            event,
            f"this plan asks for co-signers to override a pace hold: propose the override of '{phase.id}'",
        )
    elif event.reason is None:
        raise RuleViolation(event, "an override of a pace hold needs a reason")
    overridden = evolve(
        progress,
        {
            "hold": None,
            "overridden_at": event.occurred_at,
            "overridden_by": event.overridden_by,
            "overridden_round": event.round,
        },
    )
    return {**updates, "phases": {**state.phases, phase.id: overridden}}


def on_reminder_sent(state: EngagementState, event: ReminderSent) -> Updates:
    known_people(state, event, event.person_ids)
    plan = state.require_plan()
    reference = event.reference
    if event.kind == "milestone" and reference not in plan.milestones_by_id:
        raise UnknownReference(event, f"there is no milestone '{reference}' in the plan")
    updates: Updates = {}
    if event.kind in ("gate_vote", "gate_waiting"):
        gate = state.gates.get(reference or "")
        if gate is None or gate.status != "open":
            raise GateError(event, f"gate '{reference}' is not open, so nobody can be reminded to vote")
        if event.kind == "gate_waiting":
            updates["gates"] = {
                **state.gates,
                gate.phase_id: evolve(gate, {"reminded_at": event.occurred_at}),
            }
    if event.kind == "training_renewal":
        module = reference or ""
        known_module(state, event, module)
        people = dict(state.people)
        for person_id in event.person_ids:
            periods = people[person_id].authorisations.get(module)
            if periods:
                latest = evolve(periods[-1], {"renewal_reminded_at": event.occurred_at})
                authorisations = {**people[person_id].authorisations, module: (*periods[:-1], latest)}
                people[person_id] = evolve(people[person_id], {"authorisations": authorisations})
        updates["people"] = people
    previous = state.reminders.get(event.kind)
    log = ReminderLog(count=(previous.count if previous else 0) + 1, last_at=event.occurred_at)
    return {**updates, "reminders": {**state.reminders, event.kind: log}}
