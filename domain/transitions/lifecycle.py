"""Transitions for the engagement's life: started, plan amended, paused, resumed, followed up, completed."""

from __future__ import annotations

from datetime import timedelta

from domain.engagement import (
    AreaState,
    EngagementState,
    FollowUpReview,
    IndicatorState,
    PersonState,
    PhaseState,
)
from domain.errors import EngagementNotActive, NotStarted, PhaseOrderError, RuleViolation, UnknownReference
from domain.events import (
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    EngagementStarted,
    Event,
    FollowUpReviewed,
    FollowUpStarted,
    PauseRequested,
    PlanAmended,
)
from domain.plan import plan_diff
from domain.rules.changes import amendment_problems, needs_cosigners, weakenings
from domain.transitions.changes import complete_change, lapse
from domain.transitions.common import Updates, allowed, known_people, known_person, still_consenting
from domain.vocabulary import day, evolve


def on_engagement_started(state: EngagementState, event: EngagementStarted) -> Updates:
    if state.status != "not_started":
        raise NotStarted(event, f"engagement '{state.engagement_id}' has already started; it starts once")
    plan = event.plan
    if event.started_by not in plan.people_by_id:
        raise RuleViolation(event, f"started_by '{event.started_by}' is not one of the plan's people")
    at = event.occurred_at
    return {
        "engagement_id": event.engagement_id,
        "status": "active",
        "plan": plan,
        "plan_sha256": event.plan_sha256,
        "started_at": at,
        "people": {
            p.id: PersonState(
                person_id=p.id,
                constituency=p.constituency,
                roles=p.roles,
                cohort=p.cohort,
                joined_at=at,
                from_plan=True,
            )
            for p in plan.people
        },
        "phases": {phase.id: PhaseState(phase_id=phase.id) for phase in plan.phases},
        "indicators": {
            i.key: IndicatorState(key=i.key, baseline=i.baseline) for i in plan.evaluation.indicators
        },
        "decision_areas": {a.id: AreaState(area_id=a.id, rung=a.current) for a in plan.decision_areas},
    }


def on_plan_amended(state: EngagementState, event: PlanAmended) -> Updates:
    old, new = state.require_plan(), event.plan
    known_person(state, event, event.amended_by)
    if event.changes != plan_diff(old, new):
        raise RuleViolation(
            event, "changes are not the difference between the plans; compute them with plan_diff"
        )
    problems = amendment_problems(state, new)
    if problems:
        raise RuleViolation(
            event, "the amendment would rewrite what already happened: " + "; ".join(problems)
        )
    changes = state.changes
    if event.change_id is not None:  # a co-signed amendment: its proposal said who and why
        proposal = state.changes.get(event.change_id)
        if proposal is None or proposal.plan_sha256 != event.plan_sha256:
            raise RuleViolation(event, f"change '{event.change_id}' did not propose this plan")
        changes = complete_change(state, event, event.change_id, event.cosigned_by)
    else:
        if event.reason is None:
            raise RuleViolation(event, "an amendment needs a reason")
        allowed(state, event, "amend", event.amended_by)
        weakened = weakenings(state, new) if needs_cosigners(old.changes) else []
        if weakened:
            raise RuleViolation(
                event,
                f"the amendment weakens the engagement ({'; '.join(weakened)}), so it needs co-signers: "
                "propose it and ask them to co-sign",
            )

    at = event.occurred_at
    changes = lapse(changes, at, lambda change: change.kind == "amendment")
    people = dict(state.people)
    for p in new.people:
        current = people.get(p.id)
        if current is None:
            people[p.id] = PersonState(
                person_id=p.id,
                constituency=p.constituency,
                roles=p.roles,
                cohort=p.cohort,
                joined_at=at,
                from_plan=True,
            )
        else:
            people[p.id] = evolve(
                current, {"constituency": p.constituency, "roles": p.roles, "cohort": p.cohort}
            )
    indicators = {}
    for indicator in new.evaluation.indicators:
        known = state.indicators.get(indicator.key)
        if known is None:
            indicators[indicator.key] = IndicatorState(key=indicator.key, baseline=indicator.baseline)
        elif known.baseline_recorded_at is None:
            indicators[indicator.key] = evolve(known, {"baseline": indicator.baseline})
        else:
            indicators[indicator.key] = known
    return {
        "plan": new,
        "plan_sha256": event.plan_sha256,
        "changes": changes,
        "amendments": state.amendments + 1,
        "people": people,
        "phases": {
            phase.id: state.phases.get(phase.id) or PhaseState(phase_id=phase.id) for phase in new.phases
        },
        "indicators": indicators,
        "decision_areas": {
            a.id: state.decision_areas.get(a.id) or AreaState(area_id=a.id, rung=a.current)
            for a in new.decision_areas
        },
    }


def on_pause_requested(state: EngagementState, event: PauseRequested) -> Updates:
    still_consenting(state, event, event.requested_by)
    allowed(state, event, "request_pause", event.requested_by)
    if state.status == "paused":
        raise EngagementNotActive(event, f"the engagement is already paused (since {day(state.paused_at)})")
    return {"pause_requested_at": event.occurred_at, "pause_requested_by": event.requested_by}


def on_engagement_paused(state: EngagementState, event: EngagementPaused) -> Updates:
    known_person(state, event, event.paused_by)
    allowed(state, event, "pause", event.paused_by)
    if state.status == "paused":
        raise EngagementNotActive(event, f"the engagement is already paused (since {day(state.paused_at)})")
    return {
        "status": "paused",
        "paused_at": event.occurred_at,
        "pause_requested_at": None,
        "pause_requested_by": None,
    }


def on_engagement_resumed(state: EngagementState, event: EngagementResumed) -> Updates:
    known_person(state, event, event.resumed_by)
    allowed(state, event, "pause", event.resumed_by)
    if state.status != "paused":
        raise EngagementNotActive(event, "the engagement is not paused, so it cannot be resumed")
    return {"status": "active", "paused_at": None}


def _all_phases_completed(state: EngagementState, event: Event) -> None:
    open_phases = [phase_id for phase_id, phase in state.phases.items() if phase.status != "completed"]
    if open_phases:
        raise PhaseOrderError(event, f"phases not completed yet: {', '.join(open_phases)}")


def on_follow_up_started(state: EngagementState, event: FollowUpStarted) -> Updates:
    follow_up = state.require_plan().follow_up
    if follow_up is None:
        raise RuleViolation(event, "the plan keeps no follow-up period")
    if state.status != "active":
        raise EngagementNotActive(event, f"the engagement is {state.status.replace('_', ' ')}, not active")
    _all_phases_completed(state, event)
    if event.until != event.occurred_at + timedelta(days=follow_up.days):
        raise RuleViolation(event, f"the follow-up lasts {follow_up.days} days, so it ends on another day")
    return {
        "status": "following_up",
        "follow_up_started_at": event.occurred_at,
        "follow_up_until": event.until,
    }


def on_follow_up_reviewed(state: EngagementState, event: FollowUpReviewed) -> Updates:
    if state.status != "following_up":
        raise EngagementNotActive(event, "the engagement is not in its follow-up period")
    milestone = state.require_plan().milestones_by_id.get(event.milestone_id)
    if milestone is None or milestone.after_completion_days is None:
        raise UnknownReference(event, f"there is no follow-up milestone '{event.milestone_id}' in the plan")
    known_people(state, event, event.new_decision_makers)
    if not set(event.still_authorised) | set(event.still_active) <= set(event.new_decision_makers):
        raise RuleViolation(event, "only new decision makers are reviewed")
    review = FollowUpReview(
        milestone_id=event.milestone_id,
        at=event.occurred_at,
        new_decision_makers=event.new_decision_makers,
        still_authorised=event.still_authorised,
        still_active=event.still_active,
    )
    return {"follow_up_reviews": (*state.follow_up_reviews, review)}


def on_engagement_completed(state: EngagementState, event: EngagementCompleted) -> Updates:
    known_person(state, event, event.completed_by)
    _all_phases_completed(state, event)
    if state.status == "following_up":
        if state.follow_up_until is not None and event.occurred_at < state.follow_up_until:
            raise RuleViolation(event, f"the follow-up period runs until {day(state.follow_up_until)}")
    elif state.require_plan().follow_up is not None:
        raise RuleViolation(
            event, "the plan keeps a follow-up period, which starts when the last phase completes"
        )
    return {"status": "completed", "completed_at": event.occurred_at}
