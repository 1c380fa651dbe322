"""Scale-out without containers: the Temporal dev server, one PostgreSQL, three `coproduce worker`
processes and 200 engagements; one worker is killed (SIGKILL) while updates are in flight (sent, not yet
answered) and the other two carry on: every update returns its result, and nothing is lost or
duplicated. How many workflow tasks each worker completed is read from the engagements' histories (each
task names the worker's identity) and printed, with the updates in flight at the kill and the workflow
tasks that timed out with the dead worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from eventlog import EventLog, verify_database
from tests.session_keys import SESSION_KEYS
from tests.workflows.conftest import example_plan
from tests.workflows.invariants import assert_each_update_logged_once, assert_log_matches_status
from workers.codec import data_converter
from workers.temporal_binaries import temporal_cli
from workflows import search
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import EngagementInput, RecordCheckIn, StartEngagement, UpdateResult

ROOT = Path(__file__).resolve().parents[2]
ENGAGEMENTS = int(os.environ.get("SCALE_ENGAGEMENTS", "200"))
CHECK_INS = 5  # per engagement, after its start
QUEUE = "scale-out"
PEOPLE = ("t01", "t02", "t03", "d01", "d02")


def start_worker(address: str, database_url: str, state: Path, name: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    env.update(
        COPRODUCE_TEMPORAL_ADDRESS=address, COPRODUCE_DATABASE_URL=database_url, COPRODUCE_TASK_QUEUE=QUEUE,
        COPRODUCE_STATE_DIR=str(state), COPRODUCE_LOG_FORMAT="json", COPRODUCE_LOG_LEVEL=os.environ.get("SCALE_LOG_LEVEL", "WARNING"),
    )  # fmt: skip
    log = open(state / f"{name}.log", "wb")  # noqa: SIM115 - the process owns it until it ends
    return subprocess.Popen(
        [sys.executable, "-m", "coproduce", "worker"], env=env, cwd=ROOT, stdout=log, stderr=log
    )


async def send(handle: WorkflowHandle, msg: RecordCheckIn, update_id: str) -> UpdateResult:
    """Send an update; when the call fails or times out (its worker died), send it again with the same id,
    which answers with the first result once there is one."""
    for attempt in range(20):
        try:
            return await handle.execute_update(W.record_check_in, msg, id=update_id, result_type=UpdateResult)
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError(f"update {update_id} never completed")


@pytest.mark.timeout(420)
async def test_three_workers_share_200_engagements_and_survive_losing_one(
    database_url: str, tmp_path: Path
) -> None:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=data_converter(),
        search_attributes=list(search.ALL_KEYS),
    ) as env:
        address = env.client.service_client.config.target_host
        client = await Client.connect(address, data_converter=data_converter())
        workers = [start_worker(address, database_url, tmp_path, f"worker-{n}") for n in range(3)]
        try:
            plan = example_plan()
            handles = [
                await client.start_workflow(
                    W.run,
                    EngagementInput(
                        start=StartEngagement(engagement_id=f"scale-{n:03d}", plan=plan, started_by="f01")
                    ),
                    id=f"scale-{n:03d}",
                    task_queue=QUEUE,
                )
                for n in range(ENGAGEMENTS)
            ]

            in_flight: set[str] = set()  # update ids sent and not yet answered
            answered: list[str] = []

            async def drive(handle: WorkflowHandle) -> list[UpdateResult]:
                results = []
                for i in range(CHECK_INS):
                    msg = RecordCheckIn(person_id=PEOPLE[i % len(PEOPLE)], comfort=3 + i % 3)
                    update_id = f"{handle.id}-check-in-{i}"
                    in_flight.add(update_id)
                    results.append(await send(handle, msg, update_id))
                    in_flight.discard(update_id)
                    answered.append(update_id)
                return results

            driving = asyncio.gather(*(drive(h) for h in handles))
            # Once a fifth of the updates were answered, every engagement has run on some worker and holds
            # its state there, and many updates are in flight: kill one worker then, without waiting.
            while len(answered) < ENGAGEMENTS * CHECK_INS // 5 and not driving.done():
                await asyncio.sleep(0.01)
            if driving.done():
                await driving  # an update failed (raises), or all returned (then the next assert fails)
            killed = workers[0]
            killed.send_signal(signal.SIGKILL)
            pending_at_kill = set(in_flight)
            killed.wait(timeout=30)
            assert pending_at_kill, "no update was in flight when the worker was killed"
            sent = await driving  # every update returns its result, those in flight at the kill too
            every_update = {f"{h.id}-check-in-{i}" for h in handles for i in range(CHECK_INS)}
            assert not in_flight and len(answered) == len(every_update) and set(answered) == every_update
            assert all(w.poll() is None for w in workers[1:]), "a surviving worker died"

            by_worker: Counter[str] = Counter()
            timed_out = 0  # workflow tasks that went to the dead worker and were given to another
            log = await EventLog.open(database_url)
            try:
                for handle, results in zip(handles, sent, strict=True):
                    assert [r.update_id for r in results] == [
                        f"{handle.id}-check-in-{i}" for i in range(CHECK_INS)
                    ]
                    assert all("check_in_recorded" in r.events for r in results), results
                    status = await handle.query(W.status)
                    events = await log.read_stream(handle.id)
                    assert_log_matches_status(events, status)
                    assert_each_update_logged_once(events, results)
                    assert status.state.check_in_count == CHECK_INS
                    history = await handle.fetch_history()
                    for event in history.events:
                        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                            by_worker[event.workflow_task_completed_event_attributes.identity] += 1
                        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                            timed_out += 1
            finally:
                await log.close()
            # Work the dead worker held (tasks it had taken or that were queued for it) went to the others.
            assert timed_out > 0, "no workflow task was lost with the killed worker: it had nothing in flight"
            report = await verify_database(database_url)
            assert report.ok, report.summary()
            assert report.size >= ENGAGEMENTS * (2 + CHECK_INS)  # started + first phase, then the check-ins

            pids = {str(w.pid): f"worker-{n}" for n, w in enumerate(workers)}
            named = {pids.get(identity.split("@")[0], identity): n for identity, n in by_worker.items()}
            print(f"\nworkflow tasks completed per worker: {dict(sorted(named.items()))}; "
                  f"{len(pending_at_kill)} updates in flight when worker-0 was killed, {timed_out} workflow "
                  f"tasks timed out with it; {report.size} events, {ENGAGEMENTS * CHECK_INS} updates, "
                  "every one answered, 0 lost, 0 duplicated")  # fmt: skip
            assert set(named) == {"worker-0", "worker-1", "worker-2"}, named
            assert all(n > 0 for n in named.values())
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
