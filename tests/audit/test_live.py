"""The log compared with the live workflow: an untouched engagement agrees; an event slipped into the
log, or one removed from it, is reported against the Temporal history, by position."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from temporalio.client import Client

from application.audit import live
from application.audit.history import decode
from domain.events import CheckInRecorded, event_to_record
from eventlog import EventLog, NewEvent
from tests.session_keys import SESSION_KEYS
from tests.workflows.conftest import start_engagement, wait_until_started
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn

from .conftest import tamper

ROOT = Path(__file__).resolve().parents[2]


async def _compare(temporal: Client, log: EventLog, engagement_id: str) -> live.LiveComparison:
    status = await temporal.get_workflow_handle(engagement_id).query(W.status)
    return await live.compare(temporal, engagement_id, decode(await log.read_stream(engagement_id)), status)


async def test_the_log_and_the_workflow_agree_until_someone_changes_the_log(
    client: Client,
    writer_log: EventLog,
    database_url: str,
) -> None:
    handle = await start_engagement(client, "live-1")
    await wait_until_started(handle)
    for n in range(3):
        msg = RecordCheckIn(person_id=["t01", "t02", "t03"][n], comfort=4)
        await handle.execute_update(W.record_check_in, msg, id=f"check-in-{n}")

    agreed = await _compare(client, writer_log, "live-1")
    assert agreed.ok, agreed.problems
    assert agreed.updates == 3 and agreed.appends >= 4  # the start, then one append per check-in

    # someone with the writer's rights appends an event the workflow never recorded
    last = (await writer_log.read_stream("live-1"))[-1]
    forged = CheckInRecorded(occurred_at=last.occurred_at, person_id="t01", comfort=1)
    kind, version, payload = event_to_record(forged)
    result = await writer_log.append("live-1", [NewEvent(kind, payload, schema_version=version,
                                                         occurred_at=forged.occurred_at, actor="t01")])  # fmt: skip
    extra = result.positions[0]
    found = await _compare(client, writer_log, "live-1")
    assert not found.ok
    assert found.problems[0] == (
        f"the event at position {extra} (check_in_recorded) is in the log but the workflow never appended it"
    )
    assert any("differs from the workflow's live status" in p for p in found.problems)

    # the CLI says the same, through Temporal, and exits 1
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    environment.update(
        COPRODUCE_DATABASE_URL=database_url,
        COPRODUCE_TEMPORAL_ADDRESS=client.service_client.config.target_host,
        COPRODUCE_STATE_DIR=str(ROOT / ".pytest-state-unused"),
    )
    done = await asyncio.to_thread(  # the worker in this process must keep answering meanwhile
        subprocess.run,
        [sys.executable, "-m", "coproduce", "audit", "verify", "live-1"],
        env=environment, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "log: OK" in done.stdout  # the chain itself is intact: the forged event was appended properly
    assert f"workflow: FAILED: the event at position {extra}" in done.stdout

    # an insider deletes an event the workflow did append (and the forged one, to cover their tracks)
    removed = (await writer_log.read_stream("live-1"))[2].position
    tamper(database_url, "DELETE FROM eventlog.events WHERE position IN (%s, %s)", (removed, extra))
    found = await _compare(client, writer_log, "live-1")
    assert not found.ok
    assert found.problems[0].startswith(f"the workflow appended position {removed} (history event ")
    assert found.problems[0].endswith("but the log has no such event of this engagement")
