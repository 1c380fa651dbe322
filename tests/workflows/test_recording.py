"""The status query does not wait for an append in flight (the append is an activity): it says so,
``recording``, and shows what is durable; once the append commits, the status has its events."""

from __future__ import annotations

import asyncio

import psycopg
from temporalio.client import Client

from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn

from .conftest import start_engagement, wait_until_started


async def test_a_status_asked_while_an_append_waits_says_it_is_recording(
    client: Client, database_url: str
) -> None:
    handle = await start_engagement(client)
    await wait_until_started(handle)
    before = await handle.query(W.status)
    assert not before.recording
    with psycopg.connect(database_url) as held:  # appends wait inside their transaction: a busy log
        held.execute("SELECT 1 FROM eventlog.append_lock FOR UPDATE")
        update = asyncio.create_task(
            handle.execute_update(W.record_check_in, RecordCheckIn(person_id="t01", comfort=4), id="c-1")
        )
        for _ in range(200):
            during = await handle.query(W.status)
            if during.recording:
                break
            await asyncio.sleep(0.05)
        assert during.recording and during.stream_version == before.stream_version
        held.rollback()
    result = await update
    after = await handle.query(W.status)
    assert not after.recording and after.stream_version == result.stream_version > before.stream_version
