"""The database roles, beyond what tests/eventlog/test_append_only.py already checks.

That file covers UPDATE/DELETE/TRUNCATE refused to the writer (privileges) and to the superuser and owner
(triggers, also in replica mode), and the auditor refused SELECT on the tables, the single append, and
INSERT into checkpoints and subscriptions. Here: the writer cannot reach replica mode or take the
guards down (disable, drop or replace the triggers, take ownership, become the owner, write through the
views), and the auditor cannot write anything at all, nor stall the writers.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from eventlog import AUDITOR_ROLE, WRITER_ROLE, EventLog
from tests.bad_inputs.stack import WronglyAccepted
from tests.conftest import create_database, drop_database
from tests.eventlog.helpers import event

OLD_APPEND_LOCK = 7165069168967185763  # the advisory key appends serialised on before migration 0002
CHANGES = (
    "UPDATE eventlog.events SET payload = '{}'",
    "DELETE FROM eventlog.events",
    "TRUNCATE eventlog.events",
)


@contextmanager
def login_as(url: str, role: str) -> Iterator[psycopg.Connection]:
    """A connection that logs in as a fresh login holding ``role`` (as the migration suggests granting it),
    so nothing of the administrator's session is left to fall back on (SET ROLE from a superuser login
    could always SET ROLE again)."""
    name, password = f"sec_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(name), sql.Literal(password), sql.Identifier(role)
            )
        )
    try:
        with psycopg.connect(url, user=name, password=password, autocommit=True) as conn:
            superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
            assert superuser == (False,)
            yield conn
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def written(admin_url: str, migrated_template: str) -> Iterator[str]:
    """A migrated database holding two events, for the whole module (every test leaves it as it was)."""
    url = create_database(admin_url, template=migrated_template)

    async def append() -> None:
        async with await EventLog.open(url) as log:
            await log.append("s", [event(1), event(2)], 0)

    asyncio.run(append())
    yield url
    drop_database(admin_url, url)


def _state(url: str) -> tuple[object, ...]:
    """What must not change: the events, the guards, the owner."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM eventlog.events),"
            " (SELECT string_agg(encode(chain_hash, 'hex'), ',' ORDER BY position) FROM eventlog.events),"
            " (SELECT string_agg(tgname || ':' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger"
            "   WHERE tgrelid IN ('eventlog.events'::regclass, 'eventlog.checkpoints'::regclass)),"
            " (SELECT md5(prosrc) FROM pg_proc WHERE oid = 'eventlog.refuse_change'::regproc),"
            " (SELECT tableowner FROM pg_tables WHERE schemaname = 'eventlog' AND tablename = 'events')"
        ).fetchone()  # type: ignore[return-value]


@pytest.mark.parametrize("statement", CHANGES)
async def test_the_writer_cannot_switch_to_replica_mode_to_skip_the_triggers(
    written: str, statement: str
) -> None:
    before = _state(written)
    with login_as(written, WRITER_ROLE) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="session_replication_role"):
            conn.execute("SET session_replication_role = replica")
        assert conn.execute("SHOW session_replication_role").fetchone() == ("origin",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"BEGIN; SET LOCAL session_replication_role = replica; {statement}; COMMIT")
    assert _state(written) == before


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE eventlog.events DISABLE TRIGGER events_append_only",
        "ALTER TABLE eventlog.events DISABLE TRIGGER ALL",
        "ALTER TABLE eventlog.events ENABLE REPLICA TRIGGER events_append_only",
        "DROP TRIGGER events_append_only ON eventlog.events",
        "CREATE OR REPLACE FUNCTION eventlog.refuse_change() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NULL; END $$",
        "DROP TABLE eventlog.events",
        "ALTER TABLE eventlog.events OWNER TO coproduce_writer",
        "ALTER TABLE eventlog.events RENAME TO old_events",
        "ALTER FUNCTION eventlog.append(text, bigint, uuid[], bytea[]) SECURITY INVOKER",
        "CREATE RULE skip AS ON INSERT TO eventlog.checkpoints DO INSTEAD NOTHING",
        "CREATE TABLE eventlog.events_shadow (LIKE eventlog.events)",
        "SET ROLE coproduce_owner",
        "GRANT coproduce_owner TO coproduce_writer",
        "UPDATE eventlog.audit_events SET event_type = 'rewritten'",
        "DELETE FROM eventlog.audit_events",
        "DELETE FROM engagements.timeline",
    ],
    ids=lambda s: s.split(" AS ")[0][:60],
)
async def test_the_writer_cannot_take_the_guards_down_or_go_around_them(written: str, statement: str) -> None:
    before = _state(written)
    with login_as(written, WRITER_ROLE) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    assert _state(written) == before


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM eventlog.append('s', NULL, ARRAY[gen_random_uuid()], ARRAY['\\x7b7d'::bytea])",
        "INSERT INTO eventlog.events (position) VALUES (99)",
        "UPDATE eventlog.subscriptions SET position = 0",
        "UPDATE eventlog.audit_events SET event_type = 'rewritten'",
        "DELETE FROM eventlog.audit_checkpoints",
        "INSERT INTO engagements.check_ins (position) VALUES (99)",
        "DELETE FROM engagements.timeline",
        "CREATE TABLE eventlog.auditor_notes (note text)",
        "CREATE TABLE engagements.auditor_notes (note text)",
        "CREATE TABLE public.auditor_notes (note text)",
        "CREATE SCHEMA auditor_notes",
        "COMMENT ON TABLE eventlog.events IS 'seen by the auditor'",
        "SET session_replication_role = replica",
        "SET ROLE coproduce_writer",
        "BEGIN; LOCK TABLE eventlog.audit_events IN ACCESS EXCLUSIVE MODE; COMMIT",
        *CHANGES,
    ],
)
async def test_the_auditor_cannot_write_anything(written: str, statement: str) -> None:
    before = _state(written)
    with login_as(written, AUDITOR_ROLE) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    assert _state(written) == before


async def test_the_auditor_cannot_stall_the_writers(written: str) -> None:
    """Appends serialise on a row lock (migration 0002) that only the append functions can take: the
    auditor may hold the advisory key 0001 used, and cannot lock the row, and appends go on."""
    async with await EventLog.open(written) as log:
        with login_as(written, AUDITOR_ROLE) as auditor:
            auditor.execute("SELECT pg_advisory_lock(%s)", (OLD_APPEND_LOCK,))  # harmless now
            for statement in (
                "SELECT * FROM eventlog.append_lock FOR UPDATE",
                "SELECT * FROM eventlog.append_lock FOR NO KEY UPDATE",
                "SELECT * FROM eventlog.append_lock FOR SHARE",
                "LOCK TABLE eventlog.append_lock IN ACCESS EXCLUSIVE MODE",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    auditor.execute(f"BEGIN; {statement}")
                auditor.execute("ROLLBACK")
            # In an open transaction meanwhile, it reads the log and holds what table locks it can get
            # without the privilege: parsing a statement locks its tables before privileges are checked,
            # and PREPARE only parses (a table lock as the append lock could be held that way).
            auditor.execute("BEGIN")
            auditor.execute("SELECT count(*) FROM eventlog.audit_events").fetchone()
            auditor.execute("PREPARE lock_row AS SELECT * FROM eventlog.append_lock FOR UPDATE")
            auditor.execute("PREPARE write AS INSERT INTO eventlog.events (position) VALUES (1)")
            try:
                await asyncio.wait_for(log.append("stalled", [event(3)], 0), timeout=3)
            except TimeoutError:
                raise WronglyAccepted(
                    "an append waited 3 s while the auditor held the old advisory key and what table locks "
                    "it could get"
                ) from None
            finally:
                auditor.execute("ROLLBACK")
                auditor.execute("SELECT pg_advisory_unlock_all()")
