"""A slow append on a starved worker, while inputs keep arriving: no input is run twice.

The divergence seen under load (issue 14) starts where a workflow task is lost after its append
committed. Each engagement's events are appended by an activity; while it was a *local* activity it
ran inside the workflow task, so its commit belonged to that task. A slow append (PostgreSQL busy,
many engagements appending at once) keeps the task open: the SDK heartbeats it at 80 % of the task
timeout, which saves it only while the worker can still answer in time. A worker starved of CPU
under load cannot, the server times the task out, and the retried task runs the input again, with a
new time, against a log that already holds its events ("adopting events a lost workflow task
appended" in the worker's log). Every later input then depends on that recovery being right.

Here, on the real stack (the dev server, a ``coproduce worker`` process, PostgreSQL), the test
makes one input of each engagement wait inside its append (it holds the log's serialising lock)
for longer than the task timeout, sends more inputs meanwhile, and freezes the worker (SIGSTOP) past
the task timeout, as a starved worker is; the appends commit while it is frozen. Then: no append
was run twice by a lost task, every accepted input is in the log exactly once, the log folds to each
workflow's state, and every history replays on today's code.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from temporalio.worker import Replayer

from tests.faults.harness import (
    AppendLock,
    Driver,
    Stack,
    assert_accepted,
    check_engagements,
    wait_until_any_logged,
)
from workers.codec import data_converter
from workflows import messages as m
from workflows.engagement import EngagementWorkflow as W

ENGAGEMENTS = 3
TASK_TIMEOUT = 10.0  # seconds: Temporal's default workflow task timeout, which production uses
STARVED = TASK_TIMEOUT + 4  # how long the worker is frozen: past the task timeout
AT = 5  # the sixth input of the script, a gate's vote: it passes the gate and starts the next phase
LOST_TASK = "adopting events a lost workflow task appended"  # the worker's warning when it happens


def _more_inputs(driver: Driver) -> list[tuple[object, m.Message, str]]:
    """Inputs that arrive while the vote's append waits (accepted whatever the phase)."""
    return [
        (W.record_check_in, m.RecordCheckIn(person_id="u2", comfort=4), f"{driver.engagement_id}/more-1"),
        (
            W.record_contribution,
            m.RecordContribution(by="f1", person_id="u1", minutes=45),
            f"{driver.engagement_id}/more-2",
        ),
    ]


def _lost_tasks(log_text: str) -> list[str]:
    """The worker's log lines that say a lost workflow task had appended events."""
    lines = []
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == LOST_TASK:
            lines.append(f"{record.get('engagement_id')} versions {record.get('versions')}")
    return lines


@pytest.mark.timeout(300)
async def test_a_slow_append_on_a_starved_worker_runs_no_input_twice(stack: Stack) -> None:
    started = time.monotonic()
    drivers = [Driver(stack, f"slow-{n}") for n in range(ENGAGEMENTS)]
    for driver in drivers:
        await stack.start_engagement(driver.engagement_id)
    await asyncio.gather(*(driver.run(0, AT) for driver in drivers))

    (worker,) = stack.workers.running
    lock = AppendLock(stack.database_url)
    lock.hold()  # every append now waits inside its transaction: PostgreSQL is "busy"
    try:
        votes = [asyncio.create_task(driver.step(AT)) for driver in drivers]
        await lock.wait_for_waiters(1)  # the first append; the others queue behind it (group commit)
        more = [
            asyncio.create_task(driver.send(update, msg, update_id))
            for driver in drivers
            for update, msg, update_id in _more_inputs(driver)
        ]
        await asyncio.sleep(1.0)
        stack.workers.freeze(worker)  # starved: no heartbeat, no answer
        try:
            lock.release()  # the waiting appends commit while the worker is frozen
            # the held append commits while the worker is frozen (the queued ones wait for it to thaw)
            await wait_until_any_logged(stack.database_url, [f"{d.engagement_id}/{AT + 1}" for d in drivers])
            await asyncio.sleep(STARVED)
        finally:
            stack.workers.thaw(worker)
    finally:
        lock.release()
    stack.faults["slow append, worker starved past the task timeout"] += 1
    stack.in_flight += len(votes) + len(more)
    for sent in await asyncio.gather(*votes, *more):
        assert_accepted(sent)
    await asyncio.gather(*(driver.run(AT + 1) for driver in drivers))

    lost = _lost_tasks(worker.log_file.read_text(errors="replace"))
    assert not lost, (
        f"a lost workflow task had already appended its input's events, so the input ran again: {lost}"
    )
    await check_engagements(stack, drivers, "slow append on a starved worker", started)
    client = await stack.client()
    replayer = Replayer(workflows=[W], data_converter=data_converter())
    for driver in drivers:
        history = await client.get_workflow_handle(driver.engagement_id).fetch_history()
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, f"{driver.engagement_id}: {replayed.replay_failure}"
