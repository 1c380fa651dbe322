"""What the engagement produces and what the organisation decides: outputs move through their stages in
order, and decisions recorded per decision area give the rung each area is practised at and the share of
decisions made with service users, next to the rung people agreed and the rung the plan aims for."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.rules.ladder import decisions_made_with_service_users, ladder_positions, practised_rung
from domain.vocabulary import RUNGS, Rung, rung_index
from tests.domain.helpers import Story
from workflows import commands
from workflows import messages as m
from workflows.commands import CommandRefused


def decide(story: Story, rung: Rung, *took_part: str, area: str = "policy", on: date | None = None) -> Story:
    msg = m.RecordDecision(
        by="f1",
        area_id=area,
        decided_on=on or story.now.date(),
        rung=rung,
        took_part=took_part,
        summary="Repairs priorities for 2027.",
    )
    for event in commands.record_decision(story.state, msg, story.now):
        story.record(event)
    return story


def output(story: Story, stage: str, *took_part: str, kind: str = "policy", by: str = "f1") -> Story:
    msg = m.RecordOutput.model_validate(
        {"by": by, "output_id": "repairs-policy", "kind": kind, "stage": stage, "title": "Repairs policy",
         "took_part": took_part}
    )  # fmt: skip
    for event in commands.record_output(story.state, msg, story.now):
        story.record(event)
    return story


def position(story: Story, area: str = "policy"):  # type: ignore[no-untyped-def]
    return next(p for p in ladder_positions(story.state) if p.area_id == area)


def test_decisions_give_the_practised_rung_and_the_share_made_with_service_users() -> None:
    story = Story().start()
    assert position(story).practised is None and position(story).share_with_service_users is None
    decide(story, "consultation", "d1", "d2")
    decide(story, "co-production", "d1", "u1", "c1")
    decide(story, "informing", "d1")
    decide(story, "co-design", "d2", "u2")
    policy = position(story)
    assert policy.decisions == 4
    assert policy.current == "consultation"  # the rung agreed is a separate record
    assert policy.practised == "consultation"  # lower median: informing, consultation | co-design, ...
    assert policy.share_with_service_users == 0.5
    assert decisions_made_with_service_users(story.state) == (2, 4)
    assert [d.decision_id for d in story.state.decision_areas["policy"].decisions] == [
        "decision-1",
        "decision-2",
        "decision-3",
        "decision-4",
    ]


def test_a_decision_said_to_be_made_with_service_users_needs_one_of_them_there() -> None:
    story = Story().start()
    for rung in ("engagement", "co-design", "co-production"):
        with pytest.raises(DomainError, match="needs a service user or carer among those who took part"):
            decide(story, rung, "d1", "d2", "s1")  # type: ignore[arg-type]
    decide(story, "consultation", "d1", "s1")  # consulted: others decided
    assert position(story).share_with_service_users == 0.0


def test_a_decision_is_refused_for_an_unknown_area_or_person_a_future_day_or_a_non_facilitator() -> None:
    story = Story().start()
    with pytest.raises(DomainError, match="no decision area 'housing'"):
        decide(story, "consultation", "d1", area="housing")
    with pytest.raises(DomainError, match="person 'x9' is not part"):
        decide(story, "consultation", "d1", "x9")
    with pytest.raises(DomainError, match="has not come yet"):
        decide(story, "consultation", "d1", on=story.now.date() + timedelta(days=1))
    with pytest.raises(DomainError, match="named more than once"):
        decide(story, "consultation", "d1", "d1")
    msg = m.RecordDecision(
        by="u1",
        area_id="policy",
        decided_on=story.now.date(),
        rung="co-production",
        took_part=("u1",),
        summary="x",
    )
    with pytest.raises(CommandRefused, match="only a facilitator may record a decision"):
        commands.record_decision(story.state, msg, story.now)
    assert story.state.decisions_recorded == 0


def test_an_output_moves_through_its_stages_in_order_and_keeps_its_kind() -> None:
    story = Story().start()
    output(story, "drafted", "u1", "d1")
    output(story, "consulted_on", "u1", "u2", "u3", "c1")
    with pytest.raises(DomainError, match="already consulted on, so it cannot be drafted now"):
        output(story, "drafted", "u1")
    with pytest.raises(DomainError, match="is a policy, not a research findings"):
        output(story, "adopted", "d1", kind="research_findings")
    output(story, "adopted", "d1", "d2", "u1")
    reached = story.state.outputs["repairs-policy"]
    assert [s.stage for s in reached.stages] == ["drafted", "consulted_on", "adopted"]
    assert reached.stages[1].constituencies == ("carer", "service_user")
    assert reached.phase_id == story.state.current_phase()
    with pytest.raises(CommandRefused, match="only a facilitator may record an output"):
        output(story, "published", "u1", by="d1")


@given(st.lists(st.sampled_from(RUNGS), min_size=1, max_size=15))
def test_the_practised_rung_is_never_above_most_of_the_decisions(rungs: list[Rung]) -> None:
    story = Story().start()
    for rung in rungs:
        decide(story, rung, "d1", "u1")
    practised = practised_rung(story.state.decision_areas["policy"].decisions)
    assert practised is not None
    at_or_above = sum(1 for r in rungs if rung_index(r) >= rung_index(practised))
    at_or_below = sum(1 for r in rungs if rung_index(r) <= rung_index(practised))
    assert at_or_above * 2 >= len(rungs) and at_or_below * 2 >= len(rungs)
