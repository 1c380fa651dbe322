"""Workers killed with SIGKILL, at random moments and exactly around the commit of an append: a new
worker picks the engagements up, every input is recorded once, and the log and the workflows agree."""

from __future__ import annotations

import asyncio
import time

import pytest

from .harness import (
    AppendLock,
    Driver,
    Stack,
    assert_accepted,
    check_engagements,
    drive_under_faults,
    figures_if_wedged,
    kill_worker,
    logged_causes,
    seeded,
    wait_until_any_logged,
)


@pytest.mark.timeout(300)
async def test_workers_killed_at_random_moments(stack: Stack) -> None:
    started = time.monotonic()
    rng = seeded(stack)
    drivers = [Driver(stack, f"kill-{n}") for n in range(4)]
    for driver in drivers:
        await stack.start_engagement(driver.engagement_id)
    name = "worker SIGKILL at random moments"
    async with figures_if_wedged(stack, drivers, name, started):
        await drive_under_faults(stack, drivers, [kill_worker] * 3, rng)
    await check_engagements(stack, drivers, name, started)


HOW = {
    "rolled back": "killed inside the append, before its commit; the database rolls it back",
    "committed after the kill": "killed inside the append; its session still commits after the kill",
    "after the commit": "frozen inside the append, killed once it committed, before the task completed",
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "how",
    [
        "rolled back",
        pytest.param("committed after the kill"),
        pytest.param("after the commit"),
    ],
)
async def test_a_worker_killed_around_the_commit_of_an_append(stack: Stack, how: str) -> None:
    """One input of every engagement is held inside its append (the test holds the log's serialising
    lock, so each append waits in its transaction, before its commit), then the worker is:

    - killed, and the database ends its transactions: nothing commits; the new worker's retry writes;
    - killed, then the lock is let go: the dead worker's sessions may still commit (PostgreSQL notices
      the lost client only when it answers), and the retry must find those events;
    - frozen (SIGSTOP), the lock let go, the appends committed, then killed: the events are durable but
      the workflow tasks never completed, so a new worker runs the inputs again.
    """
    started = time.monotonic()
    drivers = [Driver(stack, f"commit-{n}") for n in range(3)]
    for driver in drivers:
        await stack.start_engagement(driver.engagement_id)
    at = 5  # the sixth input: the first gate's vote, which passes it and starts the next phase
    await asyncio.gather(*(driver.run(0, at) for driver in drivers))
    lock = AppendLock(stack.database_url)
    lock.hold()
    try:
        sends = [asyncio.create_task(driver.step(at)) for driver in drivers]
        ids = [f"{d.engagement_id}/{at + 1}" for d in drivers]
        waiting = await lock.wait_for_waiters(
            1
        )  # the first append; the others queue behind it (group commit)
        await asyncio.sleep(0.5)
        (worker,) = stack.workers.running
        if how == "rolled back":
            stack.workers.kill(worker)
            lock.terminate(waiting)
            lock.release()
        elif how == "committed after the kill":
            stack.workers.kill(worker)
            lock.release()
            await asyncio.sleep(1.0)
        else:
            stack.workers.freeze(worker)
            lock.release()
            await wait_until_any_logged(
                stack.database_url, ids
            )  # the held append; the frozen worker sends no more
            stack.workers.kill(worker)
    finally:
        lock.release()
    committed = logged_causes(stack.database_url)
    stack.faults[f"worker SIGKILL {how} ({sum(committed[i] > 0 for i in ids)}/{len(ids)} committed)"] += 1
    stack.in_flight += len(ids)
    await stack.workers.start()
    name = f"worker SIGKILL {HOW[how]}"
    async with figures_if_wedged(stack, drivers, name, started):
        for sent in await asyncio.gather(*sends):
            assert_accepted(sent)
            if committed[sent.update_id]:  # the retry reports the events the dead worker committed
                assert logged_causes(stack.database_url)[sent.update_id] == committed[sent.update_id]
    await asyncio.gather(*(driver.run(at + 1) for driver in drivers))
    await check_engagements(stack, drivers, name, started)
