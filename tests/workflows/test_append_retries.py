"""An append retried after it committed (a worker dying between the commit and its report) writes
each event exactly once: the event ids made in the workflow make the retry find its own events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.eventlog_activities import EventLogActivities
from application.privacy.register import PeopleRegister
from eventlog import EventLog
from workers.keys import master_key, writer_signer
from workers.settings import Settings
from workflows.contracts import APPEND_EVENTS, AppendEvents, AppendReply
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn, RecordSession

from .conftest import TASK_QUEUE, start_engagement
from .invariants import assert_each_update_logged_once, assert_log_matches_status, logged


class DiesAfterCommit(EventLogActivities):
    """The real activity, except that every first attempt fails after the events are committed."""

    def __init__(self, log: EventLog) -> None:
        super().__init__(log, PeopleRegister(log.pool, master_key(Settings())), writer_signer(Settings()))
        self.attempts: list[int] = []

    @activity.defn(name=APPEND_EVENTS)
    async def append_events(self, request: AppendEvents) -> AppendReply:
        reply = await EventLogActivities.append_events(self, request)
        self.attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            raise RuntimeError("the worker died after the commit, before reporting it")
        return reply


@pytest.fixture
async def flaky(
    env: WorkflowEnvironment, writer_log: EventLog
) -> AsyncIterator[tuple[Client, DiesAfterCommit]]:
    activities = DiesAfterCommit(writer_log)
    async with Worker(
        env.client, task_queue=TASK_QUEUE, workflows=[W], activities=[activities.append_events]
    ):
        yield env.client, activities


async def test_each_event_is_stored_once_when_appends_are_retried(
    flaky: tuple[Client, DiesAfterCommit], writer_log: EventLog
) -> None:
    client, activities = flaky
    handle = await start_engagement(client)
    results = [
        await handle.execute_update(W.record_check_in, RecordCheckIn(person_id="t01", comfort=4), id="c-1"),
        await handle.execute_update(
            W.record_session,
            RecordSession(by="f01", activity_type="assessment", attendee_ids=("d01",), duration_minutes=45),
            id="s-1",
        ),
    ]
    assert activities.attempts.count(1) >= 3 and activities.attempts.count(2) >= 3  # start + 2 updates
    events = await logged(writer_log, "eng-1")
    assert_each_update_logged_once(events, results)
    assert_log_matches_status(events, await handle.query(W.status))
    assert [e.position for e in events] == list(range(1, len(events) + 1))
