"""The event log's value types: an event to append, an event as recorded, the result of an append.

The log is generic: a *stream* is any id (an engagement, a register, ...), an event is a type name, a
schema version and a JSON payload. What the types mean is the business of the layers above.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_text(moment: datetime) -> str:
    """A timestamp as the log writes it: UTC, microseconds, ``+00:00``; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment!r} has no time zone; use an aware datetime (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``event_id`` is the idempotency key: retrying with the same id is safe."""

    type: str
    payload: Mapping[str, Any]
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schema_version: int = 1
    occurred_at: datetime | None = None
    actor: str | None = None
    causation_id: str | None = None
    correlation_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def envelope(self, stream_id: str, now: datetime) -> dict[str, Any]:
        """The JSON object whose canonical bytes are hashed and stored (positions are not part of it)."""
        if not self.type:
            raise ValueError("an event needs a type")
        if self.schema_version < 1:
            raise ValueError(f"event {self.type!r}: schema version must be 1 or more")
        metadata = {k: v for k, v in self.metadata.items() if v is not None}
        for key in ("actor", "causation_id", "correlation_id"):
            value = getattr(self, key)
            if value is not None:
                metadata[key] = value
        return {
            "event_id": str(self.event_id),
            "stream_id": stream_id,
            "type": self.type,
            "schema_version": self.schema_version,
            "occurred_at": utc_text(self.occurred_at or now),
            "metadata": metadata,
            "payload": dict(self.payload),
        }


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored: its place in the log, its content, and the hashes that seal it.

    ``payload`` and ``schema_version`` are after upcasting; ``entry`` holds the bytes as written.
    """

    position: int
    stream_id: str
    stream_version: int
    event_id: uuid.UUID
    type: str
    schema_version: int
    payload: dict[str, Any]
    metadata: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    entry: bytes
    leaf_hash: bytes
    chain_hash: bytes

    @property
    def actor(self) -> str | None:
        return self.metadata.get("actor")

    @property
    def causation_id(self) -> str | None:
        return self.metadata.get("causation_id")

    @property
    def correlation_id(self) -> str | None:
        return self.metadata.get("correlation_id")


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append put its events. ``duplicate`` is true when every id was stored already."""

    positions: tuple[int, ...]
    stream_version: int
    duplicate: bool

    @property
    def last_position(self) -> int:
        return self.positions[-1]
