"""Append-only is enforced by PostgreSQL itself: by privileges for the roles, by triggers for everyone."""

from __future__ import annotations

import psycopg
import pytest

from eventlog import (
    AUDITOR_ROLE,
    OWNER_ROLE,
    SCOPED_AUDITOR_ROLE,
    WRITER_ROLE,
    EventLog,
    Signer,
    checkpoint_database,
)

from .helpers import connect_as, event

CHANGES = [
    "UPDATE eventlog.events SET payload = '{}'",
    "DELETE FROM eventlog.events",
    "TRUNCATE eventlog.events",
    "UPDATE eventlog.checkpoints SET note = ''",
    "DELETE FROM eventlog.checkpoints",
    # the row every append locks (migration 0002): without it appends would not be serialised
    "DELETE FROM eventlog.append_lock",
    "TRUNCATE eventlog.append_lock",
    "UPDATE eventlog.append_lock SET only_row = true",
]


@pytest.fixture
async def written(log: EventLog, database_url: str) -> str:
    """A database holding two events and a signed checkpoint."""
    await log.append("s", [event(1), event(2)], 0)
    report, note = await checkpoint_database(
        database_url, Signer.generate("test-log"), "test/log", role=WRITER_ROLE
    )
    assert report.ok and note
    return database_url


@pytest.mark.parametrize("statement", CHANGES)
async def test_the_writer_cannot_change_history(written: str, statement: str) -> None:
    with connect_as(written, WRITER_ROLE) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


async def test_the_writer_cannot_insert_rows_around_the_append_function(written: str) -> None:
    with connect_as(written, WRITER_ROLE) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO eventlog.events (position, event_id, stream_id, stream_version, event_type,"
            " schema_version, occurred_at, metadata, payload, entry, leaf_hash, chain_hash)"
            " VALUES (99, gen_random_uuid(), 's', 99, 'x', 1, now(), '{}', '{}', '\\x00', '\\x00', '\\x00')"
        )


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM eventlog.audit_events",
        "SELECT * FROM eventlog.audit_streams",
        "SELECT * FROM eventlog.audit_checkpoints",
        "SELECT * FROM eventlog.audit_head",
    ],
)
async def test_the_auditor_reads_the_views(written: str, statement: str) -> None:
    with connect_as(written, AUDITOR_ROLE) as conn:
        assert conn.execute(statement).fetchall()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM eventlog.events",
        "SELECT * FROM eventlog.append_one('s', NULL, gen_random_uuid(), '\\x7b7d')",
        "INSERT INTO eventlog.checkpoints (size, root, note) VALUES (1, sha256(''), 'x')",
        "INSERT INTO eventlog.subscriptions (name, position) VALUES ('x', 0)",
        *CHANGES,
    ],
)
async def test_the_auditor_cannot_write_or_read_around_the_views(written: str, statement: str) -> None:
    with connect_as(written, AUDITOR_ROLE) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


@pytest.mark.parametrize("statement", CHANGES)
@pytest.mark.parametrize("replica", [False, True], ids=["origin", "replica-mode"])
@pytest.mark.parametrize("role", [None, OWNER_ROLE], ids=["superuser", "owner"])
async def test_triggers_refuse_changes_even_to_the_superuser_and_owner(
    written: str, statement: str, replica: bool, role: str | None
) -> None:
    with psycopg.connect(written, autocommit=True) as conn:
        if replica:  # the classic way to skip triggers; ours are ENABLE ALWAYS
            conn.execute("SET session_replication_role = replica")
        if role:
            conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
        count = conn.execute("SELECT count(*) FROM eventlog.events").fetchone()
    assert count == (2,)


async def test_roles_have_the_privileges_the_design_names(written: str) -> None:
    with psycopg.connect(written) as conn:
        rows = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname LIKE 'coproduce_%' ORDER BY 1"
        ).fetchall()
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'events'").fetchone()
    assert rows == [
        (AUDITOR_ROLE, True, False),
        (OWNER_ROLE, False, False),
        (SCOPED_AUDITOR_ROLE, False, False),
        (WRITER_ROLE, True, False),
    ]
    assert owner == (OWNER_ROLE,)
