"""Appending: versions, optimistic concurrency, idempotent retries, and reading back what was written."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from eventlog import ConcurrencyError, DuplicateEventError, EventLog, NewEvent

from .helpers import T0, event


async def test_appended_events_read_back_exactly(log: EventLog) -> None:
    sent = [event(1, note="first"), event(2, type="check_in_recorded", comfort=4, note="ça va")]
    result = await log.append("engagement-1", sent, expected_version=0)

    assert result.positions == (1, 2)
    assert result.stream_version == 2
    assert not result.duplicate
    read = await log.read_stream("engagement-1")
    assert [(e.position, e.stream_version, e.type) for e in read] == [
        (1, 1, "session_held"),
        (2, 2, "check_in_recorded"),
    ]
    assert read[1].payload == {"session": "s-2", "attendees": 2, "comfort": 4, "note": "ça va"}
    assert read[1].event_id == sent[1].event_id
    assert read[1].occurred_at == T0 + timedelta(days=2)
    assert read[1].actor == "p-facilitator" and read[1].correlation_id == "engagement-1"
    assert read[1].recorded_at.tzinfo is not None


async def test_each_stream_counts_its_own_versions(log: EventLog) -> None:
    await log.append("a", [event(1)], 0)
    await log.append("b", [event(2), event(3)], 0)
    result = await log.append("a", [event(4)], 1)
    assert result.positions == (4,) and result.stream_version == 2
    assert await log.stream_version("b") == 2
    assert await log.stream_version("never-written") == 0


async def test_a_stale_expected_version_is_refused_naming_stream_and_versions(log: EventLog) -> None:
    await log.append("engagement-1", [event(1), event(2)], 0)
    with pytest.raises(ConcurrencyError) as caught:
        await log.append("engagement-1", [event(3)], expected_version=1)
    assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == ("engagement-1", 1, 2)
    assert "engagement-1" in str(caught.value) and "version 2" in str(caught.value)
    # the same for a batch, and nothing was written either time
    with pytest.raises(ConcurrencyError):
        await log.append("engagement-1", [event(3), event(4)], expected_version=0)
    assert (await log.head())[0] == 2


async def test_expected_version_none_appends_whatever_the_version(log: EventLog) -> None:
    await log.append("s", [event(1)], None)
    result = await log.append("s", [event(2)], None)
    assert result.stream_version == 2


async def test_retrying_an_append_returns_the_stored_positions_and_burns_none(log: EventLog) -> None:
    single = event(1)
    batch = [event(2), event(3)]
    first = await log.append("s", [single], 0)
    first_batch = await log.append("s", batch, 1)

    # a retry after an unknown outcome: same ids, stale expected versions, fresh occurred_at
    again = await log.append("s", [replace(single, occurred_at=T0 + timedelta(days=99))], 0)
    again_batch = await log.append("s", batch, 1)

    assert again.duplicate and again.positions == first.positions
    assert again_batch.duplicate and again_batch.positions == first_batch.positions
    assert (await log.head())[0] == 3
    following = await log.append("s", [event(4)], 3)
    assert following.positions == (4,)  # no position was burnt by the retries


async def test_an_event_id_cannot_be_reused_for_other_content(log: EventLog) -> None:
    original = event(1)
    await log.append("s", [original], 0)
    with pytest.raises(DuplicateEventError, match="must not be reused"):
        await log.append("s", [replace(original, payload={"different": True})], None)
    with pytest.raises(DuplicateEventError, match="must not be reused"):
        await log.append("other-stream", [original], None)


async def test_a_batch_mixing_stored_and_new_ids_is_refused_whole(log: EventLog) -> None:
    stored = event(1)
    await log.append("s", [stored], 0)
    with pytest.raises(DuplicateEventError, match="1 of the 2 events"):
        await log.append("s", [stored, event(2)], None)
    assert (await log.head())[0] == 1


async def test_the_same_new_event_appended_concurrently_is_stored_once(log: EventLog) -> None:
    racing = event(1)
    results = await asyncio.gather(*(log.append("s", [racing], 0) for _ in range(12)))
    assert {r.positions for r in results} == {(1,)}
    assert sum(not r.duplicate for r in results) == 1
    assert len(await log.read_stream("s")) == 1

    racing_batch = [event(2), event(3)]
    results = await asyncio.gather(*(log.append("s", racing_batch, 1) for _ in range(8)))
    assert {r.positions for r in results} == {(2, 3)}
    assert (await log.head())[0] == 3


async def test_a_rolled_back_append_leaves_no_gap(log: EventLog) -> None:
    async with log.pool.connection() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await log.append_in(conn, "s", [event(1)], 0)
                raise RuntimeError("the caller changed its mind")
    result = await log.append("s", [event(2)], 0)
    assert result.positions == (1,)


async def test_reading_a_stream_up_to_a_version_or_a_time(log: EventLog) -> None:
    await log.append("s", [event(n) for n in range(1, 6)], 0)
    assert [e.stream_version for e in await log.read_stream("s", up_to_version=3)] == [1, 2, 3]
    as_of = T0 + timedelta(days=2, hours=12)
    assert [e.stream_version for e in await log.read_stream("s", as_of=as_of)] == [1, 2]


async def test_read_all_walks_the_whole_log_in_batches(log: EventLog) -> None:
    for n in range(7):
        await log.append(f"s{n % 3}", [event(n)], None)
    batches = [batch async for batch in log.read_all(after=2, batch_size=2)]
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [e.position for b in batches for e in b] == [3, 4, 5, 6, 7]


async def test_bad_input_is_refused_before_anything_is_written(log: EventLog) -> None:
    with pytest.raises(ValueError, match="time zone"):
        await log.append("s", [NewEvent("x", {}, occurred_at=datetime(2026, 1, 1))], 0)
    with pytest.raises(ValueError, match="needs a type"):
        await log.append("s", [NewEvent("", {})], 0)
    with pytest.raises(ValueError, match="canonical JSON"):
        await log.append("s", [NewEvent("x", {"when": datetime.now()})], 0)
    with pytest.raises(Exception, match="at least one event"):
        await log.append("s", [], 0)
    assert (await log.head())[0] == 0


async def test_sql_in_strings_is_stored_as_text(log: EventLog) -> None:
    nasty = "'); DROP TABLE eventlog.events; --"
    await log.append(nasty, [event(1, note=nasty)], 0)
    [stored] = await log.read_stream(nasty)
    assert stored.payload["note"] == nasty and stored.stream_id == nasty


async def test_event_ids_are_uuids_and_default_to_random(log: EventLog) -> None:
    a, b = NewEvent("x", {}), NewEvent("x", {})
    assert isinstance(a.event_id, uuid.UUID) and a.event_id != b.event_id
