"""Tamper evidence: verification names the first altered position, and checkpoints kept outside the
database catch even a superuser who rewrites every event and every hash consistently."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import psycopg
import pytest

from eventlog import (
    AUDITOR_ROLE,
    WRITER_ROLE,
    EventLog,
    Signer,
    checkpoint_database,
    export_jsonl,
    verify_database,
    verify_jsonl,
)

from .helpers import event

ORIGIN = "test.example/coproduce"


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("coproduce-test-log")


@pytest.fixture
async def ten_events(log: EventLog, database_url: str) -> str:
    for n in range(1, 11):
        await log.append(f"engagement-{n % 3}", [event(n, reason=f"reason {n}")], None)
    return database_url


def superuser_tamper(url: str, statement: str, params: tuple[object, ...] = ()) -> None:
    """What an insider with full control of the database can do: switch the guard off, edit, switch it on."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE eventlog.events DISABLE TRIGGER events_append_only")
        conn.execute(statement, params)
        conn.execute("ALTER TABLE eventlog.events ENABLE ALWAYS TRIGGER events_append_only")


async def test_an_untouched_log_verifies_with_its_size_and_root(ten_events: str, signer: Signer) -> None:
    report, note = await checkpoint_database(ten_events, signer, ORIGIN, role=WRITER_ROLE)
    assert report.ok and note
    again = await verify_database(ten_events, role=AUDITOR_ROLE, notes=[note], verifiers=[signer.verifier])
    assert again.ok, again.summary()
    assert again.size == 10 and again.root == report.root
    assert again.checkpoints_checked == 2  # the stored one and the file
    assert again.summary().startswith("OK: 10 events, Merkle root ")


async def test_one_changed_byte_is_found_at_its_position(ten_events: str) -> None:
    superuser_tamper(
        ten_events,
        "UPDATE eventlog.events SET entry = convert_to(replace(convert_from(entry, 'UTF8'), 'reason 7', 'reason 8'), 'UTF8')"
        " WHERE position = 7",
    )
    report = await verify_database(ten_events)
    assert not report.ok
    assert report.failed_position == 7
    assert "altered" in report.summary()


async def test_a_removed_event_is_found(ten_events: str) -> None:
    superuser_tamper(ten_events, "DELETE FROM eventlog.events WHERE position = 4")
    report = await verify_database(ten_events)
    assert (report.ok, report.failed_position) == (False, 4)
    assert "missing" in report.problem  # type: ignore[operator]


def delete_stored_checkpoints(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE eventlog.checkpoints DISABLE TRIGGER checkpoints_append_only")
        conn.execute("DELETE FROM eventlog.checkpoints")
        conn.execute("ALTER TABLE eventlog.checkpoints ENABLE ALWAYS TRIGGER checkpoints_append_only")


async def test_events_removed_from_the_end_are_caught_by_checkpoints(ten_events: str, signer: Signer) -> None:
    _, note = await checkpoint_database(ten_events, signer, ORIGIN)
    superuser_tamper(ten_events, "DELETE FROM eventlog.events WHERE position > 8")
    report = await verify_database(ten_events)
    assert not report.ok and "events were removed" in report.summary()  # the stored checkpoint

    delete_stored_checkpoints(ten_events)
    assert (await verify_database(ten_events)).ok  # nothing left inside the database can tell...
    report = await verify_database(ten_events, notes=[note], verifiers=[signer.verifier])  # type: ignore[list-item]
    assert not report.ok and "events were removed" in report.summary()  # ...the file kept elsewhere can


def _rewrite_everything(url: str, position: int, old: str, new: str) -> None:
    """Change one event and recompute every leaf and chain hash after it, consistently."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT position, entry FROM eventlog.events ORDER BY position").fetchall()
        conn.execute("ALTER TABLE eventlog.events DISABLE TRIGGER events_append_only")
        chain = bytes(32)
        for pos, entry in rows:
            if pos == position:
                entry = entry.replace(old.encode(), new.encode())
            leaf = hashlib.sha256(b"\x00" + entry).digest()
            chain = hashlib.sha256(b"\x02" + struct.pack(">Q", pos) + chain + leaf).digest()
            conn.execute(
                "UPDATE eventlog.events SET entry = %s, leaf_hash = %s, chain_hash = %s WHERE position = %s",
                (entry, leaf, chain, pos),
            )
        conn.execute("ALTER TABLE eventlog.events ENABLE ALWAYS TRIGGER events_append_only")


async def test_a_consistent_rewrite_of_the_whole_chain_is_caught_by_a_checkpoint_file(
    ten_events: str, signer: Signer, tmp_path: Path
) -> None:
    _, note = await checkpoint_database(ten_events, signer, ORIGIN)
    assert note is not None
    kept_elsewhere = tmp_path / "checkpoint.txt"
    kept_elsewhere.write_text(note)

    _rewrite_everything(ten_events, 3, "reason 3", "reason X")
    delete_stored_checkpoints(ten_events)  # the insider removes the checkpoints they can reach

    assert (await verify_database(ten_events)).ok, "the rewritten chain is self-consistent"
    report = await verify_database(
        ten_events, notes=[kept_elsewhere.read_text()], verifiers=[signer.verifier]
    )
    assert not report.ok
    assert report.failed_position == 10
    assert "rewritten" in report.summary()


async def test_a_checkpoint_whose_signature_was_forged_is_refused(ten_events: str, signer: Signer) -> None:
    _, note = await checkpoint_database(ten_events, signer, ORIGIN)
    assert note is not None
    forged = note.replace(f"{ORIGIN}\n10\n", f"{ORIGIN}\n9\n")
    report = await verify_database(ten_events, notes=[forged], verifiers=[signer.verifier])
    assert not report.ok and "altered" in report.summary()


async def test_a_checkpoint_of_another_log_is_refused(ten_events: str, signer: Signer) -> None:
    _, note = await checkpoint_database(ten_events, signer, ORIGIN)
    report = await verify_database(ten_events, notes=[note], verifiers=[signer.verifier], origin="other/log")
    assert not report.ok and "other/log" in report.summary()


async def test_columns_that_disagree_with_the_hashed_bytes_are_found_on_request(ten_events: str) -> None:
    superuser_tamper(
        ten_events, "UPDATE eventlog.events SET stream_id = 'engagement-elsewhere' WHERE position = 5"
    )
    assert (await verify_database(ten_events)).ok  # the hashed bytes are intact...
    report = await verify_database(ten_events, check_columns=True, role=AUDITOR_ROLE)
    assert (report.ok, report.failed_position) == (False, 5)  # ...but the column lies about them


async def test_an_exported_log_verifies_without_a_database(
    ten_events: str, signer: Signer, tmp_path: Path
) -> None:
    _, note = await checkpoint_database(ten_events, signer, ORIGIN)
    exported = tmp_path / "log.jsonl"
    assert await export_jsonl(ten_events, exported, role=AUDITOR_ROLE) == 10
    report = verify_jsonl(exported, notes=[note], verifiers=[signer.verifier], origin=ORIGIN)  # type: ignore[list-item]
    assert report.ok and report.size == 10


@pytest.mark.parametrize("offset", [0, 1, 200, -2])
async def test_any_changed_byte_in_an_export_is_caught(
    ten_events: str, signer: Signer, tmp_path: Path, offset: int
) -> None:
    _, note = await checkpoint_database(ten_events, signer, ORIGIN)
    exported = tmp_path / "log.jsonl"
    await export_jsonl(ten_events, exported)
    data = bytearray(exported.read_bytes())
    data[offset] ^= 0x01
    exported.write_bytes(bytes(data))
    report = verify_jsonl(exported, notes=[note], verifiers=[signer.verifier])  # type: ignore[list-item]
    assert not report.ok


async def test_an_export_without_a_checkpoint_says_nothing_anchors_it(
    ten_events: str, tmp_path: Path
) -> None:
    exported = tmp_path / "log.jsonl"
    await export_jsonl(ten_events, exported)
    report = verify_jsonl(exported)
    assert report.ok and "nothing anchors it" in report.notes[0]


async def test_a_failed_log_is_never_signed(ten_events: str, signer: Signer) -> None:
    superuser_tamper(ten_events, "DELETE FROM eventlog.events WHERE position = 2")
    report, note = await checkpoint_database(ten_events, signer, ORIGIN)
    assert not report.ok and note is None


@pytest.mark.parametrize("chunked", [True, False], ids=["streamed in chunks", "keyset pages (libpq < 17)"])
async def test_the_log_reads_the_same_streamed_in_chunks_or_in_pages(
    ten_events: str, monkeypatch: pytest.MonkeyPatch, chunked: bool
) -> None:
    if not chunked:
        monkeypatch.setattr(psycopg.capabilities, "has_stream_chunked", lambda check=False: False)
    report = await verify_database(ten_events, role=AUDITOR_ROLE, batch_size=3)
    assert (report.ok, report.size) == (True, 10), report.summary()
    superuser_tamper(ten_events, "DELETE FROM eventlog.events WHERE position = 8")
    report = await verify_database(ten_events, batch_size=3)
    assert (report.ok, report.failed_position) == (False, 8)


def superuser_insert(url: str, entry: bytes) -> int:
    """A row a superuser INSERTs past ``eventlog.append()``, with the hashes verification expects:
    leaf = SHA-256(0x00 || entry), chain = SHA-256(0x02 || int64 big-endian position || previous || leaf)."""
    with psycopg.connect(url, autocommit=True) as conn:
        last = conn.execute(
            "SELECT position, chain_hash FROM eventlog.events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        assert last is not None
        position = last[0] + 1
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        chain = hashlib.sha256(b"\x02" + struct.pack(">q", position) + bytes(last[1]) + leaf).digest()
        conn.execute(
            "INSERT INTO eventlog.events (position, event_id, stream_id, stream_version, event_type, schema_version,"
            " occurred_at, metadata, payload, entry, leaf_hash, chain_hash)"
            " VALUES (%s, gen_random_uuid(), 'engagement-x', 1, 'session_held', 1, now(), '{}', '{}', %s, %s, %s)",
            (position, entry, leaf, chain),
        )
    return position


@pytest.mark.parametrize(
    "entry",
    [
        b"\xff\xfe not even UTF-8",
        b'{"type": "session_held", not json',
        b'{"event_id": "not-a-uuid", "stream_id": "engagement-x", "type": "session_held", "schema_version": 1,'
        b' "occurred_at": "2026-01-05T09:30:00+00:00", "metadata": {}, "payload": {}}',
        b'{"event_id": "00000000-0000-0000-0000-000000000001", "stream_id": "engagement-x", "type": "session_held",'
        b' "schema_version": 1, "occurred_at": "the fifth of January", "metadata": {}, "payload": {}}',
    ],
    ids=["not-utf8", "not-json", "bad-uuid", "bad-time"],
)
async def test_the_column_check_names_an_entry_the_database_cannot_parse(
    ten_events: str, entry: bytes
) -> None:
    """The hashes are right (a superuser computed them), so only the column check and the writers can
    tell; it names the position instead of failing on the database's parse error."""
    position = superuser_insert(ten_events, entry)
    assert (await verify_database(ten_events)).ok
    for role in (None, AUDITOR_ROLE):
        report = await verify_database(ten_events, check_columns=True, role=role)
        assert (report.ok, report.failed_position) == (False, position), report.summary()
