"""What the workflow sends to its activities and gets back: plain models, no I/O.

The workflow imports this module (and only this one) from ``activities``, so it must stay free of
database and network code: it runs inside Temporal's deterministic sandbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

APPEND_EVENTS = "append_events"


class EventRecord(BaseModel):
    """One domain event as the event log stores it, with an id made deterministically in the workflow."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime
    actor: str | None = None
    causation_id: str | None = None
    correlation_id: str | None = None


class AppendEvents(BaseModel):
    """Append these events to one stream, expecting it at ``expected_version`` (None: any version)."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    expected_version: int | None
    events: list[EventRecord] = Field(min_length=1)


class AppendReply(BaseModel):
    """Where the events went; ``duplicate`` when they were stored already (a retried activity)."""

    positions: list[int]
    stream_version: int
    duplicate: bool
