"""The Temporal dev server stopped and started again on the same database file mid-run, cleanly and as
a crash: clients and workers reconnect by themselves, and every input is recorded exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from functools import partial

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from workflows import messages as m
from workflows.engagement import EngagementWorkflow as W

from .harness import (
    AppendLock,
    Driver,
    Stack,
    assert_accepted,
    check_engagements,
    drive_under_faults,
    figures_if_wedged,
    restart_temporal,
    seeded,
    wait_until_logged,
)


@pytest.mark.timeout(300)
async def test_the_dev_server_restarted_mid_run(stack: Stack) -> None:
    started = time.monotonic()
    rng = seeded(stack)
    drivers = [Driver(stack, f"temporal-{n}") for n in range(4)]
    for driver in drivers:
        await stack.start_engagement(driver.engagement_id)
    faults = [
        partial(restart_temporal, sig=signal.SIGTERM, outage=rng.uniform(1, 3)),
        partial(restart_temporal, sig=signal.SIGKILL, outage=rng.uniform(1, 3)),
    ]
    name = "Temporal dev server stopped and restarted"
    async with figures_if_wedged(stack, drivers, name, started):
        await drive_under_faults(stack, drivers, faults, rng)
    await check_engagements(stack, drivers, name, started)


@pytest.mark.timeout(300)
async def test_an_input_lost_with_the_server_after_its_append_committed(stack: Stack) -> None:
    """The dev server crashes while an input's append waits inside its transaction; its sender gives
    up; the append commits. The restarted server has forgotten the input (it was admitted, never
    accepted), but the log holds its events. The next input, and the lost one sent again, must still
    be recorded, each once, and the log and the workflow must agree."""
    started = time.monotonic()
    driver = Driver(stack, "lost-1")
    await stack.start_engagement(driver.engagement_id)
    await driver.run(0, 3)
    lost = (W.record_check_in, m.RecordCheckIn(person_id="u2", comfort=4), "lost-1/lost")
    lock = AppendLock(stack.database_url)
    lock.hold()
    try:
        handle = await stack.handle(driver.engagement_id)
        sending = asyncio.create_task(handle.execute_update(lost[0], lost[1], id=lost[2]))
        await lock.wait_for_waiters(1)
        await asyncio.to_thread(stack.temporal.stop, signal.SIGKILL)
        stack.faults["temporal SIGKILL during an append"] += 1
        stack.in_flight += 1
        sending.cancel()  # the person gives up
        with contextlib.suppress(asyncio.CancelledError, WorkflowUpdateRPCTimeoutOrCancelledError):
            await sending
    finally:
        lock.release()
    await wait_until_logged(stack.database_url, ["lost-1/lost"])
    stack.temporal.start()
    async with figures_if_wedged(stack, [driver], "an input lost with the server after its commit", started):
        next_one = await driver.send(
            W.record_check_in, m.RecordCheckIn(person_id="d1", comfort=5), "lost-1/next"
        )
        assert_accepted(next_one)
        assert_accepted(await driver.send(*lost))
        await driver.run(3)
    await check_engagements(stack, [driver], "an input lost with the server after its commit", started)
