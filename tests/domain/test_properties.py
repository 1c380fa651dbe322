"""Property tests over generated, valid engagement histories.

Histories come from the scripted scenario (tests/domain/scenario.py), its every choice drawn by
hypothesis on the small plan (so failures shrink), and from seeded whole years of the example plans.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.engagement import EngagementState
from domain.events import Event, event_from_json, event_from_record, event_to_record
from domain.state import EMPTY_STATE, apply, fold
from domain.upcasters import upcast_payload
from tests.domain.plans import EXAMPLE_FILES, example_plan, small_plan
from tests.domain.scenario import Script, scripted_history

SMALL = small_plan()
EXAMPLES = {name: example_plan(name) for name in EXAMPLE_FILES}

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
YEARS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class DrawChooser:
    """Every choice of the script is a hypothesis draw."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))


def drawn_history(data: st.DataObject) -> list[Event]:
    days = data.draw(st.integers(1, 45), label="days")
    return Script(plan=SMALL, chooser=DrawChooser(data)).run(days)


def year_history(seed: int, name: str) -> list[Event]:
    return scripted_history(EXAMPLES[name], seed)


def reread(events: list[Event]) -> list[Event]:
    """Every event through its stored form (a JSON text record) and back."""
    records = [event_to_record(event) for event in events]
    return [event_from_json(kind, version, json.dumps(payload)) for kind, version, payload in records]


def prefix_until(events: list[Event], index: int) -> list[Event]:
    """The events up to and including the last one at the same time as `events[index]`."""
    moment = events[index].occurred_at
    end = max(i for i, event in enumerate(events) if event.occurred_at <= moment)
    return events[: end + 1]


@PROPERTY
@given(st.data())
def test_fold_is_deterministic(data: st.DataObject) -> None:
    events = drawn_history(data)
    first, second = fold(events), fold(list(events))
    assert first == second
    assert first.model_dump_json() == second.model_dump_json()
    assert first.events_applied == len(events)


@PROPERTY
@given(st.data())
def test_folding_a_prefix_equals_fold_as_of_that_events_time(data: st.DataObject) -> None:
    events = drawn_history(data)
    index = data.draw(st.integers(0, len(events) - 1), label="index")
    prefix = prefix_until(events, index)
    assert fold(prefix) == fold(events, as_of=events[index].occurred_at)


@PROPERTY
@given(st.data())
def test_serialising_and_rereading_every_event_gives_the_same_state(data: st.DataObject) -> None:
    events = drawn_history(data)
    again = reread(events)
    assert again == events
    assert fold(again) == fold(events)


@PROPERTY
@given(st.data())
def test_upcasting_an_already_current_event_changes_nothing(data: st.DataObject) -> None:
    for event in drawn_history(data):
        kind, version, payload = event_to_record(event)
        assert upcast_payload(kind, version, payload, version) == payload
        assert event_from_record(kind, version, payload) == event


@PROPERTY
@given(st.data())
def test_the_state_survives_json_as_a_status_query_would_send_it(data: st.DataObject) -> None:
    events = drawn_history(data)
    index = data.draw(st.integers(0, len(events) - 1), label="index")
    for state in (fold(events), fold(events, as_of=events[index].occurred_at)):
        assert EngagementState.model_validate_json(state.model_dump_json()) == state


@PROPERTY
@given(st.data())
def test_apply_never_changes_the_state_it_is_given(data: st.DataObject) -> None:
    events = drawn_history(data)
    state = EMPTY_STATE
    for event in events:
        before = state.model_dump_json()
        following = apply(state, event)
        assert state.model_dump_json() == before
        state = following


@YEARS
@given(seed=st.integers(0, 2**16), name=st.sampled_from(EXAMPLE_FILES), cut=st.floats(0, 1))
def test_whole_years_of_the_example_plans_replay_the_same_way(seed: int, name: str, cut: float) -> None:
    events = year_history(seed, name)
    assert events[-1].type == "engagement_completed"
    final = fold(events)
    assert fold(reread(events)) == final
    assert EngagementState.model_validate_json(final.model_dump_json()) == final
    index = int(cut * (len(events) - 1))
    assert fold(prefix_until(events, index)) == fold(events, as_of=events[index].occurred_at)
