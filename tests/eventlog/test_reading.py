"""Reading the log back: events come out exactly as written, decoded only when a reader asks.

``read_all``, ``read_batch`` and ``read_stream`` fetch rows in binary and hand back events that decode
their entry on first use. What a reader sees must not change: the same fields, the same values, the
same equality, and events that cannot be altered afterwards.
"""

from __future__ import annotations

import pickle
import uuid

import pytest

from eventlog import EventLog, RecordedEvent, UpcasterRegistry, verify_database

from .helpers import T0, event
from .test_verify import superuser_tamper


def eagerly(record: RecordedEvent) -> RecordedEvent:
    """The same event built with every field given, as the log built them before reads were lazy."""
    return RecordedEvent(
        position=record.position, stream_id=record.stream_id, stream_version=record.stream_version,
        event_id=record.event_id, type=record.type, schema_version=record.schema_version,
        payload=record.payload, metadata=record.metadata, occurred_at=record.occurred_at,
        recorded_at=record.recorded_at, entry=record.entry, leaf_hash=record.leaf_hash,
        chain_hash=record.chain_hash,
    )  # fmt: skip


async def test_events_read_back_carry_every_field_as_written(log: EventLog) -> None:
    written = [event(n, reason='café ☕ "quoted"') for n in range(3)]
    await log.append("eng-1", written, 0)

    read = [e for batch in [b async for b in log.read_all(batch_size=2)] for e in batch]
    assert [e.position for e in read] == [1, 2, 3]
    for new, got in zip(written, read, strict=True):
        assert got.stream_id == "eng-1"
        assert got.event_id == new.event_id and isinstance(got.event_id, uuid.UUID)
        assert (got.type, got.schema_version, got.payload) == (new.type, 1, dict(new.payload))
        assert got.occurred_at == new.occurred_at and got.occurred_at.tzinfo is not None
        assert got.actor == "p-facilitator" and got.correlation_id == "engagement-1"
        assert got.recorded_at.tzinfo is not None
        assert isinstance(got.entry, bytes) and len(got.leaf_hash) == len(got.chain_hash) == 32
    assert await log.read_stream("eng-1") == read  # every path reads the same events
    assert read == [eagerly(e) for e in read]  # and a lazy event equals one built whole
    assert pickle.loads(pickle.dumps(read[0])) == read[0]
    changed = read[0].replace(payload={"other": True})
    assert changed.payload == {"other": True} and changed.entry == read[0].entry != b""
    assert read[0].payload == dict(written[0].payload)  # the original is untouched
    with pytest.raises(TypeError, match="no field 'colour'"):
        read[0].replace(colour="red")


async def test_a_recorded_event_cannot_be_changed(log: EventLog) -> None:
    await log.append("eng-1", [event(1)], 0)
    (record,) = await log.read_stream("eng-1")
    with pytest.raises(AttributeError, match="immutable"):
        record.payload = {}  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        record.position = 7  # type: ignore[misc]
    record.payload["session"] = "changed in the caller's copy"
    assert (await log.read_stream("eng-1"))[0].payload["session"] == "s-1"  # the log is untouched


async def test_upcasting_happens_once_when_the_payload_is_first_read(database_url: str) -> None:
    calls: list[dict] = []

    def v1_to_v2(payload: dict) -> dict:
        calls.append(payload)
        return {**payload, "upcast": True}

    writer = await EventLog.open(database_url)
    await writer.append("eng-1", [event(n) for n in range(3)], 0)
    await writer.close()
    reader = await EventLog.open(database_url, upcasters=UpcasterRegistry([("session_held", 1, v1_to_v2)]))
    try:
        records = await reader.read_stream("eng-1")
        assert calls == []  # nothing decoded by fetching
        assert [r.position for r in records] == [1, 2, 3] and calls == []
        assert records[0].payload["upcast"] is True and records[0].schema_version == 2
        assert records[0].payload["upcast"] and len(calls) == 1  # decoded once, then kept
    finally:
        await reader.close()


async def test_a_malformed_entry_is_reported_when_read_and_the_verifier_names_it(
    log: EventLog, database_url: str
) -> None:
    """A superuser who breaks an entry's JSON: fetching still works (positions and hashes are the
    verifier's business), the payload raises a clear error, and verification fails on that event."""
    await log.append("eng-1", [event(1), event(2)], 0)
    superuser_tamper(database_url, "UPDATE eventlog.events SET entry = '{broken' WHERE position = 2")

    first, broken = await log.read_stream("eng-1")
    assert first.payload["session"] == "s-1" and broken.position == 2
    with pytest.raises(ValueError):
        broken.payload  # noqa: B018
    report = await verify_database(database_url)
    assert (report.ok, report.failed_position) == (False, 2)


def test_an_event_built_whole_needs_no_database() -> None:
    record = RecordedEvent(
        position=1, stream_id="s", stream_version=1, event_id=uuid.UUID(int=1), type="t", schema_version=1,
        payload={"a": 1}, metadata={"actor": "p-1"}, occurred_at=T0, recorded_at=T0, entry=b"",
        leaf_hash=b"", chain_hash=b"",
    )  # fmt: skip
    assert (record.actor, record.payload, record.occurred_at) == ("p-1", {"a": 1}, T0)
    assert "position=1" in repr(record) and "'t'" in repr(record)
