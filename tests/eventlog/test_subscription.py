"""Catch-up subscriptions: every event once, in order, with the checkpoint stored with the work."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from eventlog import CatchUpSubscription, EventLog, RecordedEvent

from .helpers import event

PROJECTION = "CREATE TABLE IF NOT EXISTS public.sessions_seen (position bigint PRIMARY KEY, stream_id text)"


@pytest.fixture
async def projection(database_url: str) -> str:
    """A projection table the writer may fill (a real projection would live in its own schema)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(PROJECTION)
        conn.execute("GRANT INSERT, SELECT ON public.sessions_seen TO coproduce_writer")
    return database_url


async def record(conn: psycopg.AsyncConnection[Any], events: list[RecordedEvent]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO public.sessions_seen (position, stream_id) VALUES (%s, %s)",
            [(e.position, e.stream_id) for e in events],
        )


def seen(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT position FROM public.sessions_seen ORDER BY 1")]


async def test_a_subscription_catches_up_then_resumes_where_it_stopped(
    log: EventLog, projection: str
) -> None:
    for n in range(1, 8):
        await log.append(f"e{n % 2}", [event(n)], None)
    first = CatchUpSubscription(log, "sessions", record, batch_size=3)
    assert await first.catch_up() == 7
    assert await first.position() == 7

    for n in range(8, 11):
        await log.append("e0", [event(n)], None)
    # A new instance (a restarted process) starts from the stored checkpoint, not from zero.
    restarted = CatchUpSubscription(log, "sessions", record, batch_size=3)
    assert await restarted.catch_up() == 3
    assert seen(projection) == list(range(1, 11))


async def test_a_failing_handler_moves_neither_the_checkpoint_nor_the_projection(
    log: EventLog, projection: str
) -> None:
    await log.append("e", [event(n) for n in range(1, 6)], 0)

    async def crash_after_writing(conn: psycopg.AsyncConnection[Any], events: list[RecordedEvent]) -> None:
        await record(conn, events)
        raise RuntimeError("the projection process died mid-batch")

    with pytest.raises(RuntimeError):
        await CatchUpSubscription(log, "sessions", crash_after_writing, batch_size=2).catch_up()
    assert seen(projection) == []
    survivor = CatchUpSubscription(log, "sessions", record, batch_size=2)
    assert await survivor.position() == 0
    assert await survivor.catch_up() == 5
    assert seen(projection) == [1, 2, 3, 4, 5]


async def test_two_copies_of_a_subscription_never_handle_an_event_twice(
    log: EventLog, projection: str
) -> None:
    for n in range(1, 41):
        await log.append("e", [event(n)], None)
    copies = [CatchUpSubscription(log, "sessions", record, batch_size=4) for _ in range(3)]
    handled = await asyncio.gather(*(c.catch_up() for c in copies))
    assert sum(handled) == 40
    assert seen(projection) == list(range(1, 41))  # the primary key would have refused a repeat


async def test_a_running_subscription_wakes_on_new_events(log: EventLog, projection: str) -> None:
    subscription = CatchUpSubscription(log, "sessions", record, poll_interval=30)  # a poll would be too late
    stop = asyncio.Event()
    runner = asyncio.create_task(subscription.run(stop))
    await asyncio.sleep(0.3)
    await log.append("e", [event(1), event(2)], 0)
    for _ in range(100):
        if seen(projection) == [1, 2]:
            break
        await asyncio.sleep(0.05)
    assert seen(projection) == [1, 2], "NOTIFY should have woken the subscription well before its poll"
    stop.set()
    await log.append("e", [event(3)], 2)  # wakes it once more so it sees the stop
    await asyncio.wait_for(runner, timeout=10)
