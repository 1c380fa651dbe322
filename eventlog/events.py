"""The event log's value types: an event to append, an event as recorded, the result of an append.

The log is generic: a *stream* is any id (an engagement, a register, ...), an event is a type name, a
schema version and a JSON payload. What the types mean is the business of the layers above.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .canonical import decode_entry
from .upcasting import UpcasterRegistry


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


class RecordedEvent:
    """An event as stored: its place in the log, its content, and the hashes that seal it.

    ``payload`` and ``schema_version`` are after upcasting; ``entry`` holds the bytes as written.

    An event read from the log (``stored_events``) keeps its row as the database returned it and decodes
    its entry only when a field inside it is first asked for, its id and time only when those are: a
    reader that wants positions and hashes pays nothing for JSON, one that wants the payload pays for the
    JSON alone. A malformed entry therefore raises when such a field is read, not when the row is
    fetched. Instances are immutable and compare equal when every field is.
    """

    __slots__ = ("_doc", "_row", "_upcasters")

    # (position, stream_version, recorded_at, entry, leaf_hash, chain_hash), as stored
    _row: tuple[int, int, datetime, bytes, bytes, bytes]
    # the entry's JSON object once decoded (payload and schema version upcast); its event id and time
    # stay text until asked for
    _doc: dict[str, Any] | None
    _upcasters: UpcasterRegistry | None

    def __init__(
        self,
        *,
        position: int,
        stream_id: str,
        stream_version: int,
        event_id: uuid.UUID,
        type: str,
        schema_version: int,
        payload: dict[str, Any],
        metadata: dict[str, Any],
        occurred_at: datetime,
        recorded_at: datetime,
        entry: bytes,
        leaf_hash: bytes,
        chain_hash: bytes,
    ) -> None:
        """An event with every field given (already decoded)."""
        _set_row(self, (position, stream_version, recorded_at, entry, leaf_hash, chain_hash))
        _set_upcasters(self, None)
        _set_doc(self, {
            "stream_id": stream_id, "event_id": event_id, "type": type, "schema_version": schema_version,
            "payload": payload, "metadata": metadata, "occurred_at": occurred_at,
        })  # fmt: skip

    def _decoded(self) -> dict[str, Any]:
        doc = self._doc
        if doc is None:
            doc = decode_entry(self._row[3])
            if self._upcasters:
                doc["schema_version"], doc["payload"] = self._upcasters.upcast(
                    doc["type"], doc["schema_version"], doc["payload"]
                )
            _set_doc(self, doc)
        return doc

    @property
    def position(self) -> int:
        return self._row[0]

    @property
    def stream_version(self) -> int:
        return self._row[1]

    @property
    def recorded_at(self) -> datetime:
        return self._row[2]

    @property
    def entry(self) -> bytes:
        return self._row[3]

    @property
    def leaf_hash(self) -> bytes:
        return self._row[4]

    @property
    def chain_hash(self) -> bytes:
        return self._row[5]

    @property
    def stream_id(self) -> str:
        return self._decoded()["stream_id"]  # type: ignore[no-any-return]

    @property
    def event_id(self) -> uuid.UUID:
        doc = self._decoded()
        if isinstance(value := doc["event_id"], str):
            doc["event_id"] = value = uuid.UUID(value)
        return value  # type: ignore[no-any-return]

    @property
    def type(self) -> str:
        return self._decoded()["type"]  # type: ignore[no-any-return]

    @property
    def schema_version(self) -> int:
        return self._decoded()["schema_version"]  # type: ignore[no-any-return]

    @property
    def payload(self) -> dict[str, Any]:
        return self._decoded()["payload"]  # type: ignore[no-any-return]

    @property
    def metadata(self) -> dict[str, Any]:
        return self._decoded()["metadata"]  # type: ignore[no-any-return]

    @property
    def occurred_at(self) -> datetime:
        doc = self._decoded()
        if isinstance(value := doc["occurred_at"], str):
            doc["occurred_at"] = value = datetime.fromisoformat(value)
        return value  # type: ignore[no-any-return]

    @property
    def actor(self) -> str | None:
        return self.metadata.get("actor")

    @property
    def causation_id(self) -> str | None:
        return self.metadata.get("causation_id")

    @property
    def correlation_id(self) -> str | None:
        return self.metadata.get("correlation_id")

    def _fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    def replace(self, **changes: Any) -> RecordedEvent:
        """A copy with some fields changed (as ``dataclasses.replace`` does for a dataclass)."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"a recorded event has no field {sorted(unknown)[0]!r}")
        return RecordedEvent(**{**self._fields(), **changes})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a recorded event is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a recorded event is immutable; cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordedEvent):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # the payload is a dict

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (self._fields(),)

    def __repr__(self) -> str:
        return (
            f"RecordedEvent(position={self.position}, stream_id={self.stream_id!r}, "
            f"stream_version={self.stream_version}, type={self.type!r})"
        )


_FIELDS = (
    "position", "stream_id", "stream_version", "event_id", "type", "schema_version", "payload", "metadata",
    "occurred_at", "recorded_at", "entry", "leaf_hash", "chain_hash",
)  # fmt: skip
# The slots' own setters: they write past the immutable __setattr__, for construction only.
_set_row = RecordedEvent._row.__set__  # type: ignore[attr-defined]
_set_upcasters = RecordedEvent._upcasters.__set__  # type: ignore[attr-defined]
_set_doc = RecordedEvent._doc.__set__  # type: ignore[attr-defined]


def _rebuilt(fields: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(**fields)


def stored_events(
    rows: Iterable[tuple[int, int, datetime, bytes, bytes, bytes]], upcasters: UpcasterRegistry | None = None
) -> list[RecordedEvent]:
    """Events from rows of ``(position, stream_version, recorded_at, entry, leaf_hash, chain_hash)``
    read in binary (bytea as bytes); each entry is decoded, and upcast, when first read."""
    new = object.__new__
    events = []
    for row in rows:
        event = new(RecordedEvent)
        _set_row(event, row)
        _set_upcasters(event, upcasters)
        _set_doc(event, None)
        events.append(event)
    return events


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append put its events. ``duplicate`` is true when every id was stored already."""

    positions: tuple[int, ...]
    stream_version: int
    duplicate: bool

    @property
    def last_position(self) -> int:
        return self.positions[-1]
