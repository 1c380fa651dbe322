"""What the engagement does by itself, as time passes and inputs arrive: pure functions, no Temporal.

After every change the workflow asks ``next_step`` for the one event that should follow, applies it,
and asks again until the answer is None. The steps, for each running phase in plan order:

1. a gate that passed completes its phase (earlier phases first);
2. an open gate whose decision is met passes; under consent an objection holds it; under a vote, a
   gate that can no longer reach its approvals is rejected. The reason lists what was missing;
3. a phase without an open gate: when the pace policy allows, its gate opens (a hold is released
   first); when only comfort is missing, the phase is held by the pace policy, and that is recorded.
   A gate that was held or rejected opens again for a new round after one check-in period;
4. the next phase starts when the pace policy's concurrency allows; after the last, the engagement
   completes, or, when the plan keeps a follow-up period, follows up (its milestones fall due and the
   new decision makers are reviewed at each) and completes when that period is over.

``due_events`` turns what has fallen due into events (check-in rounds with their reminders, milestones,
escalations, authorisations expiring), and ``next_wake`` says when to look again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.engagement import EngagementState
from domain.events import (
    AuthorisationExpired,
    EngagementCompleted,
    Event,
    FollowUpStarted,
    GateDecided,
    GateEscalated,
    MilestoneDue,
    PaceHoldRecorded,
    PaceHoldReleased,
    PhaseCompleted,
    PhaseStarted,
    ReminderSent,
)
from domain.rules.eligibility import gate_opened_event, may_still_vote
from domain.rules.follow_up import follow_up_review
from domain.rules.pace import comfort_waiting_for, pace_check
from domain.rules.quorum import QuorumResult, tally
from domain.rules.schedule import falls_due


def reopen_at(state: EngagementState, phase_id: str) -> datetime | None:
    """When a held or rejected gate may open for its next round (None: not held or rejected)."""
    gate = state.gates.get(phase_id)
    if gate is None or gate.status not in ("held", "rejected") or gate.decided_at is None:
        return None
    return gate.decided_at + timedelta(days=state.require_plan().pace.check_in_every_days)


def next_step(state: EngagementState, now: datetime, lead: str) -> Event | None:
    """The one event that should follow now, or None when nothing should happen by itself."""
    if state.status == "following_up":
        if state.follow_up_until is not None and now >= state.follow_up_until:
            return EngagementCompleted(occurred_at=now, completed_by=lead)
        return None
    if state.status != "active":
        return None
    plan = state.require_plan()
    for phase_id in state.running_phases():
        gate = state.gates.get(phase_id)
        progress = state.phases[phase_id]
        if gate is not None and gate.status == "passed":
            earlier = plan.phases[: plan.phase_index[phase_id]]
            if all(state.phases[p.id].status == "completed" for p in earlier):
                return PhaseCompleted(occurred_at=now, phase_id=phase_id)
            continue
        if gate is not None and gate.status == "open":
            decided = _decide(state, phase_id, now)
            if decided is not None:
                return decided
            continue
        ready = reopen_at(state, phase_id)
        if ready is not None and now < ready:
            continue
        check = pace_check(state, phase_id, now)
        if check.may_advance:
            if progress.hold is not None:
                return PaceHoldReleased(occurred_at=now, phase_id=phase_id)
            return gate_opened_event(state, phase_id, lead, now)
        only_comfort = len(check.waiting_for) == 1 and comfort_waiting_for(state, now) is not None
        if only_comfort and progress.hold is None and not check.comfort_overridden:
            return PaceHoldRecorded(
                occurred_at=now,
                phase_id=phase_id,
                waiting_for=check.waiting_for,
                comfort_average=check.comfort.average,
            )
    running = state.running_phases()
    if len(running) < plan.pace.max_concurrent_phases:
        pending = [p.id for p in plan.phases if state.phases[p.id].status == "pending"]
        if pending:
            return PhaseStarted(occurred_at=now, phase_id=pending[0])
    if not running and all(p.status == "completed" for p in state.phases.values()):
        if plan.follow_up is not None:
            return FollowUpStarted(occurred_at=now, until=now + timedelta(days=plan.follow_up.days))
        return EngagementCompleted(occurred_at=now, completed_by=lead)
    return None


def _decide(state: EngagementState, phase_id: str, now: datetime) -> Event | None:
    """The decision an open gate has reached by itself, or None while it may still be met.

    A round is decided once it is met; under consent, once someone objects (held); and once it can no
    longer be met by the people on its roster who have not voted yet: under a vote it is rejected,
    under consent it is held (for example, everyone abstained). Either way it opens again for a new
    round after one check-in period, so a round never stays open for good with nobody left to vote.
    Someone whose training has lapsed still counts as a possible vote: they may renew it while the
    round is open (and the gate is escalated if it stays pending too long)."""
    gate = state.gates[phase_id]
    count = tally(state, phase_id)
    if count.met:
        return GateDecided(occurred_at=now, phase_id=phase_id, round=gate.round, outcome="passed")
    reason = "; ".join(count.waiting_for)
    if count.blocked:
        return GateDecided(
            occurred_at=now, phase_id=phase_id, round=gate.round, outcome="held", reason=reason
        )
    if not _still_reachable(state, phase_id, count):
        outcome = "rejected" if gate.policy.method == "vote" else "held"
        return GateDecided(
            occurred_at=now,
            phase_id=phase_id,
            round=gate.round,
            outcome=outcome,
            reason=f"the gate can no longer reach its approvals: {reason}",
        )
    return None


def _still_reachable(state: EngagementState, phase_id: str, count: QuorumResult) -> bool:
    """Whether the approvals the gate lacks could still come from the roster's people yet to vote."""
    gate = state.gates[phase_id]
    voters = [  # who may still vote: not those who withdrew their consent
        person
        for person in gate.roster
        if person not in gate.votes and state.people[person].consent_withdrawn_at is None
    ]
    policy = gate.policy
    needed = (policy.approvals_required or 1) if policy.method == "vote" else 1
    if count.approvals + len(voters) < needed:
        return False
    for constituency in count.per_constituency:
        could = sum(1 for person in voters if state.people[person].constituency == constituency.constituency)
        if constituency.approvals + could < constituency.required:
            return False
    return True


def due_events(state: EngagementState, now: datetime) -> list[Event]:
    """Events for everything that has fallen due by ``now`` (empty when nothing has)."""
    if state.status not in ("active", "paused", "following_up"):
        return []
    events: list[Event] = []
    for item in falls_due(state):
        if item.due_at > now:
            break
        if item.kind == "check_in":
            if state.status == "active":
                events.extend(_check_in_round(state, now))
        elif item.kind == "milestone" and item.reference:
            events.append(MilestoneDue(occurred_at=now, milestone_id=item.reference))
            if state.status == "following_up" and _after_completion(state, item.reference):
                events.append(follow_up_review(state, item.reference, now))
        elif item.kind == "gate_escalation" and item.reference and state.status == "active":
            events.append(GateEscalated(occurred_at=now, phase_id=item.reference))
        elif item.kind == "gate_reminder" and item.reference and state.status == "active":
            voters = may_still_vote(state, item.reference, now)
            events.append(
                ReminderSent(
                    occurred_at=now, kind="gate_waiting", reference=item.reference, person_ids=voters
                )
            )
        elif item.kind == "training_renewal" and item.reference:
            person_id, module_id = item.reference.split("/", 1)
            events.append(
                ReminderSent(
                    occurred_at=now, kind="training_renewal", reference=module_id, person_ids=(person_id,)
                )
            )
        elif item.kind == "authorisation_expiry" and item.reference:
            person_id, module_id = item.reference.split("/", 1)
            events.append(AuthorisationExpired(occurred_at=now, person_id=person_id, module_id=module_id))
        if events:
            return events  # one item at a time: the next may depend on this one
    return events


def _after_completion(state: EngagementState, milestone_id: str) -> bool:
    milestone = state.require_plan().milestones_by_id.get(milestone_id)
    return milestone is not None and milestone.after_completion_days is not None


def _check_in_round(state: EngagementState, now: datetime) -> list[Event]:
    """A check-in round: remind everyone taking part, and whoever still has to vote or measure."""
    taking_part = tuple(
        sorted(
            p
            for p, person in state.people.items()
            if state.takes_part(person) and person.consent_withdrawn_at is None
        )
    )
    events: list[Event] = [ReminderSent(occurred_at=now, kind="check_in", person_ids=taking_part)]
    for phase_id in state.running_phases():
        voters = may_still_vote(state, phase_id, now)
        if voters:
            events.append(
                ReminderSent(occurred_at=now, kind="gate_vote", reference=phase_id, person_ids=voters)
            )
    for milestone_id, due_at in sorted(state.milestones_due.items()):
        if not _measured_since(state, milestone_id, due_at):
            events.append(ReminderSent(occurred_at=now, kind="milestone", reference=milestone_id))
    return events


def _measured_since(state: EngagementState, milestone_id: str, due_at: datetime) -> bool:
    """Whether every indicator of the milestone has a measurement for it (or any since it fell due)."""
    milestone = state.require_plan().milestones_by_id.get(milestone_id)
    if milestone is None:
        return True
    for key in milestone.indicators:
        indicator = state.indicators.get(key)
        if indicator is None or not any(
            point.milestone_id == milestone_id or point.at >= due_at for point in indicator.measurements
        ):
            return False
    return True


def next_wake(state: EngagementState, now: datetime) -> datetime | None:
    """The next moment something may happen by itself (None: only an input can change anything)."""
    if state.status in ("not_started", "completed"):
        return None
    moments = [item.due_at for item in falls_due(state) if item.due_at > now]
    if state.status == "following_up" and state.follow_up_until is not None and state.follow_up_until > now:
        moments.append(state.follow_up_until)
    for phase_id in state.running_phases():
        ready = reopen_at(state, phase_id)
        if ready is not None and ready > now:
            moments.append(ready)
    return min(moments) if moments else None
