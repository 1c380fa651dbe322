"""Transitions for the small gate of weakening changes: proposed, co-signed, declined.

A proposal is checked as the change itself would be (an amendment must not rewrite what happened; an
override needs a held phase and a facilitator), and kept as a `PendingChange` until the change is
recorded (`plan_amended` or `pace_overridden` naming it, see `lifecycle` and `pace`), declined, or lapsed
(another amendment landed first, or the hold was released by itself).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.engagement import EngagementState, PendingChange
from domain.errors import RuleViolation, UnknownReference
from domain.events import ChangeCosigned, ChangeDeclined, ChangeProposed, Event
from domain.plan import plan_diff
from domain.rules.changes import amendment_problems, cosign_refusal, cosigning_waits_for, needs_cosigners
from domain.transitions.common import Updates, allowed, known_person, known_phase
from domain.vocabulary import evolve


def known_change(
    state: EngagementState, event: ChangeCosigned | ChangeDeclined, change_id: str
) -> PendingChange:
    change = state.changes.get(change_id)
    if change is None:
        raise UnknownReference(event, f"there is no proposed change '{change_id}' in this engagement")
    return change


def on_change_proposed(state: EngagementState, event: ChangeProposed) -> Updates:
    proposer = known_person(state, event, event.proposed_by)
    plan = state.require_plan()
    if not needs_cosigners(plan.changes):
        raise RuleViolation(event, "this plan asks for no co-signers, so a change takes effect at once")
    if event.change_id in state.changes:
        raise RuleViolation(event, f"change '{event.change_id}' was proposed already")
    if event.kind == "amendment":
        allowed(state, event, "amend", event.proposed_by)
        if event.plan is None or event.changes != plan_diff(plan, event.plan):
            raise RuleViolation(event, "changes are not the difference between the plans")
        if event.base_plan_sha256 != state.plan_sha256:
            raise RuleViolation(event, "the proposal does not amend the current plan")
        problems = amendment_problems(state, event.plan)
        if problems:
            raise RuleViolation(
                event, "the amendment would rewrite what already happened: " + "; ".join(problems)
            )
    else:
        phase, progress = known_phase(state, event, event.phase_id or "")
        if proposer.constituency != "facilitator":
            raise RuleViolation(
                event, f"only a facilitator may override a pace hold, and {proposer.person_id} is not one"
            )
        if progress.hold is None:
            raise RuleViolation(event, f"phase '{phase.id}' is not held, so there is nothing to override")
        waiting = [c for c in state.changes.values() if c.status == "waiting" and c.phase_id == phase.id]
        if waiting:
            raise RuleViolation(
                event,
                f"an override of phase '{phase.id}' is already waiting for co-signers ({waiting[0].change_id})",
            )
    change = PendingChange(
        change_id=event.change_id,
        kind=event.kind,
        proposed_by=event.proposed_by,
        proposed_at=event.occurred_at,
        needs=event.needs,
        weakens=event.weakens,
        phase_id=event.phase_id,
        plan=event.plan,
        plan_sha256=event.plan_sha256,
        base_plan_sha256=event.base_plan_sha256,
    )
    return {"changes": {**state.changes, change.change_id: change}}


def on_change_cosigned(state: EngagementState, event: ChangeCosigned) -> Updates:
    change = known_change(state, event, event.change_id)
    refusal = cosign_refusal(state, change, event.person_id)
    if refusal is not None:
        raise RuleViolation(event, refusal)
    constituency = state.people[event.person_id].constituency
    signed = evolve(change, {"cosigned": {**change.cosigned, event.person_id: constituency}})
    return {"changes": {**state.changes, change.change_id: signed}}


def on_change_declined(state: EngagementState, event: ChangeDeclined) -> Updates:
    change = known_change(state, event, event.change_id)
    person = known_person(state, event, event.person_id)
    if change.status != "waiting":
        raise RuleViolation(event, f"change '{change.change_id}' is {change.status} already")
    if event.person_id != change.proposed_by and person.constituency not in change.needs:
        raise RuleViolation(
            event, f"only the proposer or someone asked to co-sign may decline change '{change.change_id}'"
        )
    declined = evolve(change, {"status": "declined", "ended_at": event.occurred_at})
    return {"changes": {**state.changes, change.change_id: declined}}


def complete_change(
    state: EngagementState, event: Event, change_id: str, cosigned_by: tuple[str, ...]
) -> dict[str, PendingChange]:
    """The changes after ``change_id`` took effect; refuses when it is not waiting, not fully co-signed,
    or the event names other co-signers than those recorded."""
    change = state.changes.get(change_id)
    if change is None or change.status != "waiting":
        raise RuleViolation(event, f"change '{change_id}' is not waiting to take effect")
    waiting = cosigning_waits_for(change)
    if waiting:
        raise RuleViolation(event, f"change '{change_id}' still waits for {', '.join(waiting)}")
    if tuple(sorted(change.cosigned)) != tuple(sorted(cosigned_by)):
        raise RuleViolation(event, f"the co-signers named are not those of change '{change_id}'")
    done = evolve(change, {"status": "done", "ended_at": event.occurred_at})
    return {**state.changes, change_id: done}


def lapse(
    changes: dict[str, PendingChange], at: datetime, which: Callable[[PendingChange], bool]
) -> dict[str, PendingChange]:
    """``changes`` with every waiting change ``which`` picks marked lapsed: what it would change has
    moved on (another amendment landed, or the hold it would lift was released by itself)."""
    return {
        change_id: evolve(change, {"status": "lapsed", "ended_at": at})
        if change.status == "waiting" and which(change)
        else change
        for change_id, change in changes.items()
    }
