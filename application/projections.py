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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from domain.engagement import EngagementState
from eventlog import RecordedEvent
from eventlog.upcasting import UpcasterRegistry
from eventlog.writers import Verifier

from .audit.history import DecodedEvent, decode, read_records_on, state_as_of

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
