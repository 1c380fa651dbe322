"""Whole engagements: each example plan runs through its year and its follow-up, and names never leave the
plan snapshot."""

import json

import pytest

from domain.events import FollowUpStarted, event_to_record, personal_data_paths
from domain.rules.indicators import indicator_progress
from domain.rules.ladder import ladder_positions
from domain.rules.recognition import recognition_owed
from domain.state import fold
from tests.domain.plans import EXAMPLE_FILES, example_plan
from tests.domain.scenario import scripted_history


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_an_example_engagement_runs_its_whole_year(name: str) -> None:
    plan = example_plan(name)
    events = scripted_history(plan, seed=3)
    state = fold(events)
    assert state.status == "completed"
    assert all(phase.status == "completed" for phase in state.phases.values())
    assert state.cohort == "wider"
    assert all(gate.status == "passed" for gate in state.gates.values())
    [follow_up] = [e for e in events if isinstance(e, FollowUpStarted)]
    assert (follow_up.occurred_at.date() - plan.starts_on).days <= 366  # the year's work, then the follow-up
    assert plan.follow_up is not None and events[-1].occurred_at == follow_up.until
    assert {"six-months-on", "a-year-on"} <= {r.milestone_id for r in state.follow_up_reviews}
    assert any(p.steps_climbed > 0 for p in ladder_positions(state))
    assert all(p.baseline is not None for p in indicator_progress(state))
    assert sum(line.fee_paid_pence for line in recognition_owed(state)) > 0


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_names_appear_only_where_personal_data_is_marked(name: str) -> None:
    plan = example_plan(name)
    names = [person.display_name for person in plan.people]
    marked = personal_data_paths()
    for event in scripted_history(plan, seed=5):
        kind, _, payload = event_to_record(event)
        if "plan.people[].display_name" in marked[kind] and payload.get("plan"):  # not an override
            payload = {
                **payload,
                "plan": {**payload["plan"], "people": [p["id"] for p in payload["plan"]["people"]]},
            }
        text = json.dumps(payload)
        assert not [n for n in names if n in text], f"{kind} carries a name outside a marked field"
