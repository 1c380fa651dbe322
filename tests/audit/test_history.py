"""The auditor's reconstruction matches what happened: the state on any date, and the decision timeline."""

from __future__ import annotations

import csv
import io

from application.audit.history import CSV_COLUMNS, state_as_of, timeline, timeline_csv
from application.simulation import demo_responses
from domain.plan import plan_rescheduled
from tests.workflows.conftest import example_plan

from .conftest import Year


def test_the_state_as_of_every_week_is_what_the_workflow_said_that_week(year: Year) -> None:
    assert len(year.weekly) > 30 and year.final.status == "completed"
    for status in year.weekly:
        folded = state_as_of(year.history, status.as_of)
        assert folded.model_dump(mode="json") == status.state.model_dump(mode="json"), status.as_of
        assert folded.events_applied == status.stream_version


def test_the_timeline_up_to_a_date_holds_exactly_what_had_happened_by_then(year: Year) -> None:
    for status in year.weekly[::5]:
        entries = list(timeline(year.history, status.as_of))
        assert [e.stream_version for e in entries] == list(range(1, status.stream_version + 1))
        assert all(e.occurred_at <= status.as_of for e in entries)
    everything = list(timeline(year.history))
    assert len(everything) == len(year.history)
    assert [e.position for e in everything] == [item.record.position for item in year.history]
    assert all(e.recorded_at >= everything[0].recorded_at for e in everything)


def test_every_vote_shows_person_constituency_authorisation_and_reason(year: Year) -> None:
    entries = list(timeline(year.history))
    votes = [e for e in entries if e.event == "vote_cast"]
    assert votes
    final_gates = year.final.state.gates
    for vote in votes:
        assert vote.person_id and vote.constituency and vote.authorised is not None
        latest = final_gates[vote.phase_id]
        if vote.person_id in latest.votes and latest.votes[vote.person_id].cast_at == vote.occurred_at:
            recorded = latest.votes[vote.person_id]
            assert (vote.constituency, vote.authorised) == (recorded.constituency, recorded.counted)
    objections = demo_responses(plan_rescheduled(example_plan(), year.weekly[0].as_of.date())).objections
    for phase_id, reason in objections.items():
        against = [v for v in votes if v.phase_id == phase_id and v.choice == "object"]
        assert against and all(v.reason == reason for v in against)


def test_gate_outcomes_holds_and_ladder_moves_are_in_the_timeline(year: Year) -> None:
    entries = list(timeline(year.history))
    outcomes = {(e.phase_id, e.detail["round"]): e.choice for e in entries if e.event == "gate_decided"}
    assert "held" in outcomes.values() or "rejected" in outcomes.values()
    for phase_id, gate in year.final.state.gates.items():
        assert outcomes[(phase_id, gate.round)] == gate.status  # the last round's outcome, as folded
    decided = [e for e in entries if e.event == "gate_decided"]
    assert all("counted_votes" in e.detail for e in decided)
    holds = [e for e in entries if e.event == "pace_hold_recorded"]
    assert holds and all(e.reason for e in holds)  # the demo's uneasy phase was held for comfort
    moves = [e for e in entries if e.event == "rung_changed"]
    folded_moves = sum(len(area.changes) for area in year.final.state.decision_areas.values())
    assert len(moves) == folded_moves
    assert all(e.detail["from"] != e.detail["to"] for e in moves)


def test_the_csv_has_a_row_per_event_with_both_times(year: Year) -> None:
    rows = list(csv.DictReader(io.StringIO(timeline_csv(timeline(year.history)))))
    assert len(rows) == len(year.history)
    assert tuple(rows[0]) == CSV_COLUMNS
    assert all(row["occurred_at"] and row["recorded_at"] for row in rows)
