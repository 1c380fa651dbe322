"""Global positions are gapless and in commit order, so a reader of `position > checkpoint` never skips.

The classic failure (sequence-numbered logs): writer A takes position 10, writer B takes 11 and
commits first, a reader sees 11 and moves its checkpoint past 10, then A commits 10 and the reader
never sees it. Appends here are serialised until commit, so that interleaving cannot happen.
"""

from __future__ import annotations

import asyncio

from eventlog import EventLog

from .helpers import event


async def test_a_held_transaction_keeps_later_appends_and_readers_behind_it(log: EventLog) -> None:
    async with log.pool.connection() as slow_conn, slow_conn.transaction():
        slow = await log.append_in(slow_conn, "slow", [event(1)], 0)
        assert slow.positions == (1,)

        # A second writer starts now, while the first transaction is still open.
        fast = asyncio.create_task(log.append("fast", [event(2)], 0))
        await asyncio.sleep(0.5)
        assert not fast.done(), "a later append must wait for the earlier one to commit"
        # A reader sees nothing yet: position 1 is not committed, and nothing after it exists.
        assert await log.read_batch(0, 10) == []
        # The first commits; only now can the second take its position.
    second = await asyncio.wait_for(fast, timeout=10)
    assert second.positions == (2,)
    assert [(e.position, e.stream_id) for e in await log.read_batch(0, 10)] == [(1, "slow"), (2, "fast")]


async def test_concurrent_writers_and_a_tailing_reader_see_every_position_once_in_order(
    log: EventLog,
) -> None:
    writers, per_writer = 8, 40
    seen: list[int] = []
    done = asyncio.Event()

    async def writer(w: int) -> None:
        for n in range(per_writer):
            events = [event(n)] if n % 4 else [event(n), event(n + 1000)]  # some batches too
            await log.append(f"writer-{w}", events, None)

    async def reader() -> None:
        checkpoint = 0
        while True:
            finished = done.is_set()
            batch = await log.read_batch(checkpoint, 7)
            for e in batch:
                seen.append(e.position)
            if batch:
                checkpoint = batch[-1].position
            elif finished:
                return
            else:
                await asyncio.sleep(0.001)

    tail = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await asyncio.wait_for(tail, timeout=30)

    total = writers * (per_writer + per_writer // 4)
    assert seen == list(range(1, total + 1)), "the tailing reader skipped or repeated a position"
    for w in range(writers):
        versions = [e.stream_version for e in await log.read_stream(f"writer-{w}")]
        assert versions == list(range(1, per_writer + per_writer // 4 + 1))
