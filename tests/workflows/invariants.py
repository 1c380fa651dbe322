"""The invariant every engagement keeps: folding its events from the log gives the workflow's state."""

from __future__ import annotations

from collections import Counter

from domain.engagement import EngagementState
from domain.events import event_from_record
from domain.state import fold
from eventlog import EventLog, RecordedEvent
from workflows.messages import EngagementStatus, UpdateResult


async def logged(log: EventLog, engagement_id: str) -> list[RecordedEvent]:
    return await log.read_stream(engagement_id)


def fold_log(events: list[RecordedEvent]) -> EngagementState:
    return fold(event_from_record(e.type, e.schema_version, e.payload) for e in events)


def assert_log_matches_status(events: list[RecordedEvent], status: EngagementStatus) -> None:
    """fold(log) == the workflow's state, and the log's length is the workflow's stream version."""
    assert len(events) == status.stream_version
    assert fold_log(events).model_dump(mode="json") == status.state.model_dump(mode="json")


def assert_each_update_logged_once(events: list[RecordedEvent], results: list[UpdateResult]) -> None:
    """Every accepted update's events are in the log exactly once, at the positions it reported."""
    by_cause = Counter(e.causation_id for e in events)
    positions = {e.position: e for e in events}
    for result in results:
        assert by_cause[result.update_id] == len(result.events), result
        assert [positions[p].type for p in result.positions] == result.events
        assert all(positions[p].causation_id == result.update_id for p in result.positions)
    assert len({e.event_id for e in events}) == len(events)
