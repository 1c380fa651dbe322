"""Apply the event log's SQL migrations, idempotently, and create its four roles.

The SQL lives in ``eventlog/migrations/NNNN_name.sql``. ``migrate(conninfo)`` runs as an administrator
(a superuser, or a role with CREATEROLE that owns the database) and, in ONE transaction, so that nothing
is ever half-applied:

1. takes an advisory lock, so two migrators never interleave;
2. creates the roles if they are missing: ``coproduce_owner`` (no login; owns every object),
   ``coproduce_writer`` (appends through ``eventlog.append`` and reads), ``coproduce_auditor``
   (reads the ``eventlog.audit_*`` views only) and ``coproduce_scoped_auditor`` (no login; reads what
   the auditor reads, limited to the streams of the scopes granted to each login: migration 0004). Roles belong to the whole server, so several databases
   on one server share them; the writer and auditor can log in once someone gives them a password
   (``ALTER ROLE coproduce_auditor PASSWORD '...'``) or grants them to an existing login;
3. applies, as ``coproduce_owner``, each migration not yet recorded in ``eventlog.schema_migrations``,
   and refuses to go on if a migration that was applied has since been edited (checksum mismatch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

OWNER_ROLE = "coproduce_owner"
WRITER_ROLE = "coproduce_writer"
AUDITOR_ROLE = "coproduce_auditor"
SCOPED_AUDITOR_ROLE = "coproduce_scoped_auditor"
SCHEMA = "eventlog"
_LOCK_KEY = 0x636F70726F64  # "coprod": one constant per database for pg_advisory_xact_lock


class MigrationError(RuntimeError):
    """The database's migrations cannot be brought up to date as they are."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations(package: str = "eventlog") -> list[Migration]:
    """The migrations shipped with ``package`` (its ``migrations/NNNN_name.sql``), in version order."""
    found = []
    for item in resources.files(package).joinpath("migrations").iterdir():
        if item.name.endswith(".sql"):
            number, _, rest = item.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), item.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


_CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {name}) THEN
        EXECUTE format('CREATE ROLE %I {options}', {name});
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database on this server created it at the same moment
END
$$;
"""


async def migrate(conninfo: str, also: Sequence[tuple[str, str]] = ()) -> list[Migration]:
    """Bring the database up to date; returns the migrations applied now (empty when up to date).

    ``also`` names further (package, schema) pairs whose ``migrations/`` the same transaction applies
    after the log's own, each in a schema of its own owned by ``coproduce_owner``: how the layers above
    add read models and views over the log without the log knowing what they mean.
    """
    async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        roles = (
            (OWNER_ROLE, "NOLOGIN"),
            (WRITER_ROLE, "LOGIN"),
            (AUDITOR_ROLE, "LOGIN"),
            (SCOPED_AUDITOR_ROLE, "NOLOGIN"),
        )
        for role, options in roles:
            await conn.execute(sql.SQL(_CREATE_ROLE).format(name=sql.Literal(role), options=sql.SQL(options)))
        await _grant_scoped_auditor(conn)
        is_member = await (
            await conn.execute(
                "SELECT pg_has_role(current_user, %s, 'SET') OR rolsuper FROM pg_roles WHERE rolname = current_user",
                (OWNER_ROLE,),
            )
        ).fetchone()
        if not (is_member and is_member[0]):
            await conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(OWNER_ROLE)))
        for schema in (SCHEMA, *(schema for _, schema in also)):
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                    sql.Identifier(schema), sql.Identifier(OWNER_ROLE)
                )
            )
        await conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        done = await _apply(conn, SCHEMA, available_migrations())
        for package, schema in also:
            done += await _apply(conn, schema, available_migrations(package))
        return done


async def _grant_scoped_auditor(conn: psycopg.AsyncConnection[Any]) -> None:
    """The scoped auditor reads what the auditor reads, and cannot become it (PostgreSQL 16 or later:
    the membership's SET option is false, so ``SET ROLE coproduce_auditor`` is refused)."""
    version = await (await conn.execute("SELECT current_setting('server_version_num')::int")).fetchone()
    if version is None or version[0] < 160000:
        raise MigrationError(
            "the event log needs PostgreSQL 16 or later (for a role membership without SET); "
            "upgrade the server, or use the embedded one."
        )
    granted = await (
        await conn.execute(
            "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
            " WHERE r.rolname = %s AND u.rolname = %s AND m.inherit_option AND NOT m.set_option",
            (AUDITOR_ROLE, SCOPED_AUDITOR_ROLE),
        )
    ).fetchone()
    if not granted:
        await conn.execute(
            sql.SQL("GRANT {} TO {} WITH INHERIT TRUE, SET FALSE").format(
                sql.Identifier(AUDITOR_ROLE), sql.Identifier(SCOPED_AUDITOR_ROLE)
            )
        )


async def _apply(
    conn: psycopg.AsyncConnection[Any], schema: str, migrations: list[Migration]
) -> list[Migration]:
    """Apply the migrations not yet recorded in ``<schema>.schema_migrations``; refuse edited ones."""
    table = sql.Identifier(schema, "schema_migrations")
    await conn.execute(
        sql.SQL(
            """
            CREATE TABLE IF NOT EXISTS {} (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                checksum    text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """
        ).format(table)
    )
    rows = await (await conn.execute(sql.SQL("SELECT version, checksum FROM {}").format(table))).fetchall()
    applied = dict(rows)
    done: list[Migration] = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} of {schema} was edited after it was "
                    "applied; restore its original text and add a new migration instead."
                )
            continue
        await conn.execute(migration.sql.encode())
        await conn.execute(
            sql.SQL("INSERT INTO {} (version, name, checksum) VALUES (%s, %s, %s)").format(table),
            (migration.version, migration.name, migration.checksum),
        )
        done.append(migration)
    return done


async def applied_version(conninfo: str) -> int:
    """The highest migration applied to the database (0 when none)."""
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        exists = await (await conn.execute("SELECT to_regclass('eventlog.schema_migrations')")).fetchone()
        if not exists or exists[0] is None:
            return 0
        row = await (
            await conn.execute("SELECT coalesce(max(version), 0) FROM eventlog.schema_migrations")
        ).fetchone()
        return int(row[0]) if row else 0
