"""The invariant every engagement keeps: folding its events from the log gives the workflow's state.

Thin assertions over the one implementation of the check, ``application.audit.consistency``.
"""

from __future__ import annotations

from application.audit.consistency import fold_differences, updates_logged_once
from eventlog import EventLog, RecordedEvent
from workflows.messages import EngagementStatus, UpdateResult


async def logged(log: EventLog, engagement_id: str) -> list[RecordedEvent]:
    return await log.read_stream(engagement_id)


def assert_log_matches_status(events: list[RecordedEvent], status: EngagementStatus) -> None:
    """fold(log) == the workflow's state, and the log's length is the workflow's stream version."""
    differences = fold_differences(events, status)
    assert not differences, f"the log and the workflow differ at {differences}"


def assert_each_update_logged_once(events: list[RecordedEvent], results: list[UpdateResult]) -> None:
    """Every accepted update's events are in the log exactly once, at the positions it reported."""
    problems = updates_logged_once(events, results)
    assert not problems, "\n".join(problems)
