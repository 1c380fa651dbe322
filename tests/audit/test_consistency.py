"""The one check that the log agrees with the workflow: on a whole year of a real engagement it agrees
every week (with the log's personal text still sealed), and each kind of disagreement is named."""

from __future__ import annotations

import uuid
from collections import defaultdict

from application.audit.consistency import described, fold_differences, fold_log, updates_logged_once
from eventlog import RecordedEvent
from workflows.messages import UpdateResult

from .conftest import Year


def _results(records: list[RecordedEvent]) -> list[UpdateResult]:
    """What the workflow told the people for each input, rebuilt from the log."""
    caused: dict[str, list[RecordedEvent]] = defaultdict(list)
    for record in records:
        caused[str(record.causation_id)].append(record)
    return [
        UpdateResult(
            update_id=cause,
            events=[e.type for e in events],
            positions=[e.position for e in events],
            stream_version=events[-1].stream_version,
            summary="",
        )
        for cause, events in caused.items()
    ]


def test_the_sealed_log_folds_to_what_the_workflow_said_every_week(year: Year) -> None:
    records = [item.record for item in year.history]  # as the log stores them: personal text sealed
    assert any("sealed:v1:" in str(r.payload) for r in records)
    for status in year.weekly:
        assert fold_differences(records[: status.stream_version], status) == [], status.as_of
    assert fold_differences(records, year.final) == []
    assert fold_differences(year.history, year.final) == []  # decoded events, text opened, alike
    assert fold_log(records) == fold_log(year.history)


def test_a_missing_event_is_named_by_the_stream_version_and_the_paths_that_differ(year: Year) -> None:
    records = [item.record for item in year.history]
    differences = fold_differences(records[:-1], year.final)
    assert differences[0] == (
        f"stream_version (the log holds {len(records) - 1} events, the workflow's stream version is "
        f"{len(records)})"
    )
    assert "events_applied" in differences[1:]
    assert described(differences, limit=1) == f"{differences[0]} and {len(differences) - 1} more"


def test_each_input_logged_once_at_its_positions_passes_and_every_slip_is_a_sentence(year: Year) -> None:
    records = [item.record for item in year.history]
    results = _results(records)
    assert updates_logged_once(records, results) == []

    first = results[1]
    told_more = first.model_copy(update={"events": [*first.events, "vote_cast"]})
    problems = updates_logged_once(records, [told_more])
    assert problems[0] == (
        f"update {first.update_id} reported {len(first.events) + 1} events, the log holds "
        f"{len(first.events)} caused by it"
    )
    assert problems[1].startswith(f"update {first.update_id} reported {told_more.events} at positions")

    elsewhere = first.model_copy(update={"positions": [records[0].position], "events": [records[0].type]})
    assert any("whose events another input caused" in p for p in updates_logged_once(records, [elsewhere]))

    twice = records[-1].replace(event_id=records[0].event_id)
    assert updates_logged_once([*records[:-1], twice], []) == [
        f"event ids appear more than once in the log: {records[0].event_id}"
    ]
    assert updates_logged_once([*records[:-1], twice.replace(event_id=uuid.uuid4())], []) == []
