"""Transitions for gates: opened (only when the pace policy allows), votes cast, decisions."""

from __future__ import annotations

from domain.engagement import EngagementState, GateState, VoteRecord
from domain.errors import GateError, PhaseOrderError, ReasonRequired, RuleViolation
from domain.events import GateDecided, GateOpened, VoteCast
from domain.rules.eligibility import authorisation_problems, gate_policy, roster_rows
from domain.rules.pace import pace_check
from domain.rules.quorum import tally
from domain.transitions.common import Updates, known_person, known_phase, still_consenting
from domain.vocabulary import evolve, record


def _open_gate(state: EngagementState, event: GateOpened | VoteCast | GateDecided) -> GateState:
    gate = state.gates.get(event.phase_id)
    if gate is None:
        raise GateError(event, f"gate '{event.phase_id}' has not been opened")
    if gate.status != "open":
        raise GateError(event, f"gate '{event.phase_id}' is not open (round {gate.round} was {gate.status})")
    if gate.round != event.round:
        raise GateError(event, f"gate '{event.phase_id}' is in round {gate.round}, not {event.round}")
    return gate


def on_gate_opened(state: EngagementState, event: GateOpened) -> Updates:
    phase, progress = known_phase(state, event, event.phase_id)
    known_person(state, event, event.requested_by)
    if progress.status != "running":
        raise PhaseOrderError(event, f"phase '{phase.id}' is not running (it is {progress.status})")
    previous = state.gates.get(phase.id)
    if previous is not None and previous.status in ("open", "passed"):
        raise GateError(event, f"gate '{phase.id}' is already {previous.status}")
    expected_round = previous.round + 1 if previous else 1
    if event.round != expected_round:
        raise GateError(event, f"gate '{phase.id}' opens for round {expected_round}, not {event.round}")
    if progress.hold is not None:
        raise RuleViolation(
            event, f"phase '{phase.id}' is held by the pace policy; record its release or an override first"
        )
    pace = pace_check(state, phase.id, event.occurred_at)
    if not pace.may_advance:
        raise RuleViolation(
            event, f"the pace policy does not allow it yet: waiting for {'; '.join(pace.waiting_for)}"
        )
    snapshot = [(e.person_id, e.constituency, e.roles, e.required_modules) for e in event.roster]
    if event.policy != gate_policy(state.require_plan(), phase.id) or snapshot != roster_rows(
        state, phase.id
    ):
        raise RuleViolation(
            event, "the gate's policy or roster does not match the plan; build it with gate_opened_event"
        )
    # model_construct: every part comes from the validated event, so skip re-validating a large roster.
    gate = GateState.model_construct(
        phase_id=phase.id,
        round=event.round,
        status="open",
        opened_at=event.occurred_at,
        requested_by=event.requested_by,
        policy=event.policy,
        roster={entry.person_id: entry for entry in event.roster},
    )
    return {"gates": {**state.gates, phase.id: gate}}


def on_vote_cast(state: EngagementState, event: VoteCast) -> Updates:
    gate = _open_gate(state, event)
    if event.person_id in state.people:
        still_consenting(state, event, event.person_id)
    entry = gate.roster.get(event.person_id)
    if entry is None:
        raise GateError(event, f"{event.person_id} is not on the roster of gate '{gate.phase_id}'")
    if event.person_id in gate.votes:
        raise GateError(event, f"{event.person_id} has already voted on gate '{gate.phase_id}'")
    if event.choice == "object" and gate.policy.reason_required and event.reason is None:
        raise ReasonRequired(event, f"an objection to gate '{gate.phase_id}' needs a reason")
    problems = authorisation_problems(
        state.people[event.person_id], entry.required_modules, event.occurred_at
    )
    vote = record(
        VoteRecord,
        {
            "person_id": event.person_id,
            "constituency": entry.constituency,
            "choice": event.choice,
            "cast_at": event.occurred_at,
            "counted": not problems,
            "not_counted_reason": "; ".join(problems) if problems else None,
        },
    )
    updated = evolve(gate, {"votes": {**gate.votes, event.person_id: vote}})
    return {"gates": {**state.gates, gate.phase_id: updated}}


def on_gate_decided(state: EngagementState, event: GateDecided) -> Updates:
    gate = _open_gate(state, event)
    if event.decided_by is not None:
        known_person(state, event, event.decided_by)
    if event.outcome == "passed":
        count = tally(state, gate.phase_id)
        if not count.met:
            raise RuleViolation(
                event, f"the gate's decision is not met: waiting for {'; '.join(count.waiting_for)}"
            )
    elif gate.policy.reason_required and event.reason is None:
        raise ReasonRequired(event, f"a gate {event.outcome} needs a reason on gate '{gate.phase_id}'")
    decided = evolve(
        gate, {"status": event.outcome, "decided_at": event.occurred_at, "decided_by": event.decided_by}
    )
    return {"gates": {**state.gates, gate.phase_id: decided}}
