"""Catch-up subscriptions: feed every event, once and in order, to a handler that keeps a projection.

A subscription has a name and a checkpoint (the last position it handled) in
``eventlog.subscriptions``. Each batch runs in ONE transaction that locks the checkpoint row, reads
the events after it, lets the handler write whatever it keeps (on the same connection), and moves the
checkpoint. Either all of that commits or none of it, so after a crash the subscription resumes
exactly where its committed work ends: nothing skipped, nothing handled twice. Two copies of the same
subscription take turns on the row lock instead of racing.

Because appends are serialised (positions are assigned in commit order), reading ``position >
checkpoint`` can never skip an event that commits later. ``LISTEN eventlog_appended`` only wakes the
subscription early; when the listening connection fails it falls back to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from .events import RecordedEvent
from .store import NOTIFY_CHANNEL, EventLog

Handler = Callable[[psycopg.AsyncConnection[Any], list[RecordedEvent]], Awaitable[None]]


class CatchUpSubscription:
    """Run ``handler(conn, events)`` over the log from the stored checkpoint onwards."""

    def __init__(
        self,
        log: EventLog,
        name: str,
        handler: Handler,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        if not name:
            raise ValueError("a subscription needs a name")
        self.log = log
        self.name = name
        self.handler = handler
        self.batch_size = batch_size
        self.poll_interval = poll_interval

    async def position(self) -> int:
        """The last position this subscription has handled (0 before its first batch)."""
        async with self.log.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT position FROM eventlog.subscriptions WHERE name = %s", (self.name,)
                )
            ).fetchone()
        return int(row[0]) if row else 0

    async def handle_next_batch(self) -> int:
        """Handle at most one batch; returns how many events it handled (0 when caught up)."""
        async with self.log.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO eventlog.subscriptions (name, position) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING",
                (self.name,),
            )
            row = await (
                await conn.execute(
                    "SELECT position FROM eventlog.subscriptions WHERE name = %s FOR UPDATE", (self.name,)
                )
            ).fetchone()
            checkpoint = int(row[0]) if row else 0
            events = await self.log.read_batch(checkpoint, self.batch_size, conn)
            if not events:
                return 0
            await self.handler(conn, events)
            await conn.execute(
                "UPDATE eventlog.subscriptions SET position = %s, updated_at = clock_timestamp() WHERE name = %s",
                (events[-1].position, self.name),
            )
            return len(events)

    async def catch_up(self) -> int:
        """Handle everything committed so far; returns how many events were handled."""
        total = 0
        while handled := await self.handle_next_batch():
            total += handled
        return total

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Catch up, then keep up: wake on NOTIFY, or every ``poll_interval`` seconds, until ``stop``."""
        stop = stop or asyncio.Event()
        listener = await self._listen()
        try:
            while not stop.is_set():
                await self.catch_up()
                listener = await self._wait(listener, stop)
        finally:
            if listener is not None:
                await listener.close()

    async def _listen(self) -> psycopg.AsyncConnection[Any] | None:
        try:
            conn = await psycopg.AsyncConnection.connect(self.log.pool.conninfo, autocommit=True)
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
            return conn
        except psycopg.Error:
            return None

    async def _wait(
        self, listener: psycopg.AsyncConnection[Any] | None, stop: asyncio.Event
    ) -> psycopg.AsyncConnection[Any] | None:
        """Sleep until a notification or ``poll_interval`` seconds; reconnect a broken listener."""
        if listener is None or listener.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)
            return await self._listen()
        try:
            async for _ in listener.notifies(timeout=self.poll_interval, stop_after=1):
                break
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                await listener.close()
            return None
        return listener
