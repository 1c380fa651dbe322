"""What the read models kept beside the log share: each engagement a batch touches, folded as the
auditor folds it.

A projection (the facilitator's portfolio, the notices to deliver) is a catch-up subscription
(``eventlog.subscription``): each batch of new events is handled in one transaction with the
subscription's checkpoint, so after a crash it resumes where its committed work ends. For every
engagement stream the batch touches, ``engagements_in`` reads that stream up to the batch's last
position on the batch's own connection and decodes it the auditor's way (``audit.history.decode``:
upcast, foreign events marked, personal text withheld), so a read model never believes an event
the auditor would not. Streams that are not engagements (``people/<id>``, anything else) are left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from domain.engagement import EngagementState
from eventlog import EventLog, RecordedEvent
from eventlog.subscription import CatchUpSubscription
from eventlog.upcasting import UpcasterRegistry
from eventlog.writers import Verifier

from .audit.history import DecodedEvent, decode, read_records_on, state_as_of
from .services import Services

FIRST_TYPE = "engagement_started"


@dataclass(frozen=True)
class Touched:
    """One engagement a batch touched: its whole history up to the batch's end, and which of those
    events are new in this batch."""

    engagement_id: str
    history: list[DecodedEvent]
    first_new: int  # the position of the batch's first event in this stream

    def new(self) -> list[DecodedEvent]:
        return [item for item in self.history if item.record.position >= self.first_new]

    def state(self) -> EngagementState:
        return state_as_of(self.history)


async def engagements_in(
    conn: psycopg.AsyncConnection[Any],
    batch: list[RecordedEvent],
    *,
    writers: Mapping[str, Verifier] | None,
    upcasters: UpcasterRegistry | None,
) -> list[Touched]:
    """The engagements ``batch`` touched, each read whole up to the batch's end, in order of first touch."""
    if not batch:
        return []
    last = batch[-1].position
    first_new: dict[str, int] = {}
    for event in batch:
        first_new.setdefault(event.stream_id, event.position)
    touched = []
    for stream_id, first in first_new.items():
        records = await read_records_on(conn, stream_id, upcasters, up_to_position=last)
        if not records or records[0].type != FIRST_TYPE:
            continue
        history = decode(records, None, writers, stream_id=stream_id)
        touched.append(Touched(stream_id, history, first))
    return touched


Fill = Callable[[psycopg.AsyncConnection[Any], list[Touched]], Awaitable[None]]


class ReadModel:
    """A read model named ``name``, kept by ``fill(conn, touched)`` for each batch's engagements."""

    def __init__(self, name: str, fill: Fill) -> None:
        self.name = name
        self.fill = fill

    def subscription(self, services: Services, log: EventLog) -> CatchUpSubscription:
        """The subscription over ``log`` (the writer's log: it writes the read model)."""
        writers = services.writers()

        async def handle(conn: psycopg.AsyncConnection[Any], batch: list[RecordedEvent]) -> None:
            await self.fill(conn, await engagements_in(conn, batch, writers=writers, upcasters=log.upcasters))

        return CatchUpSubscription(log, self.name, handle, batch_size=200)

    async def catch_up(self, services: Services) -> int:
        """Handle everything committed so far; returns how many events it read."""
        async with services.writer_log() as log:
            return await self.subscription(services, log).catch_up()

    async def keep_up(self, services: Services, stop: asyncio.Event) -> None:
        """Keep the read model up to date until ``stop`` is set (workers run this beside their workflows)."""
        async with services.writer_log() as log:
            await self.subscription(services, log).run(stop)
