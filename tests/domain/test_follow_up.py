"""The follow-up period: after the last phase the engagement stays open for the plan's `follow_up.days`,
its follow-up milestones fall due and are measured, the new decision makers are reviewed at each, and
nothing but facts is recorded until it completes."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import pytest

from domain.errors import DomainError
from domain.events import (
    EngagementCompleted,
    Event,
    FollowUpReviewed,
    FollowUpStarted,
    MeasurementRecorded,
    MilestoneDue,
    PhaseStarted,
)
from domain.plan import Plan, plan_from_yaml
from domain.state import fold
from tests.domain.plans import SMALL_PLAN_YAML
from tests.domain.scenario import scripted_history

FOLLOWED_UP_YAML = (
    SMALL_PLAN_YAML.replace(
        "    - {id: mid, title: Midpoint, indicators: [attendance, waits], at_end_of_phase: pilot}\n",
        "    - {id: mid, title: Midpoint, indicators: [attendance, waits], at_end_of_phase: pilot}\n"
        "    - {id: two-months, title: Two months on, indicators: [attendance], after_completion_days: 60}\n"
        "    - {id: lasting, title: Four months on, indicators: [attendance, waits], after_completion_days: 120}\n",
    )
    + "follow_up: {days: 150}\n"
)


def followed_up_plan() -> Plan:
    return plan_from_yaml(FOLLOWED_UP_YAML, "followed-up.yaml")


@cache
def follow_up_history(seed: int = 0) -> tuple[Event, ...]:
    return tuple(scripted_history(followed_up_plan(), seed, days=700))


def test_the_engagement_follows_up_for_the_plans_days_and_then_completes() -> None:
    events = follow_up_history()
    [started] = [e for e in events if isinstance(e, FollowUpStarted)]
    last_phase_done = max(e.occurred_at for e in events if e.type == "phase_completed")
    assert started.occurred_at == last_phase_done and started.until == started.occurred_at + timedelta(
        days=150
    )
    assert isinstance(events[-1], EngagementCompleted) and events[-1].occurred_at == started.until
    state = fold(events)
    assert state.status == "completed" and state.follow_up_started_at == started.occurred_at


def test_follow_up_milestones_fall_due_are_reviewed_and_measured() -> None:
    events = follow_up_history()
    [started] = [e for e in events if isinstance(e, FollowUpStarted)]
    due = {e.milestone_id: e.occurred_at for e in events if isinstance(e, MilestoneDue)}
    assert due["two-months"] == started.occurred_at + timedelta(days=60)
    assert due["lasting"] == started.occurred_at + timedelta(days=120)
    reviews = [e for e in events if isinstance(e, FollowUpReviewed)]
    assert [r.milestone_id for r in reviews] == ["two-months", "lasting"]
    trained = {"u1", "u2", "u3", "c1"} & set(reviews[0].new_decision_makers)
    assert trained, "service users and carers trained during the engagement are reviewed"
    assert set(reviews[0].still_authorised) <= set(reviews[0].new_decision_makers)
    measured = {
        e.milestone_id
        for e in events
        if isinstance(e, MeasurementRecorded) and e.occurred_at > started.occurred_at
    }
    assert {"two-months", "lasting"} <= measured


def test_only_facts_are_recorded_during_the_follow_up() -> None:
    events = list(follow_up_history())
    started_at = next(i for i, e in enumerate(events) if isinstance(e, FollowUpStarted))
    state = fold(events[: started_at + 1])
    assert state.status == "following_up"
    later = events[started_at].occurred_at + timedelta(days=1)
    with pytest.raises(DomainError, match=r"in its follow-up period .*only measurements, check-ins"):
        fold([PhaseStarted(occurred_at=later, phase_id="pilot")], state=state)
    with pytest.raises(DomainError, match="the follow-up period runs until"):
        fold([EngagementCompleted(occurred_at=later, completed_by="f1")], state=state)


def test_a_plan_with_a_follow_up_cannot_skip_it() -> None:
    events = list(follow_up_history())
    started_at = next(i for i, e in enumerate(events) if isinstance(e, FollowUpStarted))
    before = fold(events[:started_at])
    completed = EngagementCompleted(occurred_at=events[started_at].occurred_at, completed_by="f1")
    with pytest.raises(
        DomainError, match="keeps a follow-up period, which starts when the last phase completes"
    ):
        fold([completed], state=before)
