"""Scopes: which streams a limited database login may read (migration 0004).

A *scope* is a name the layers above choose (coproduce uses one per client organisation). A stream is
put in one scope, once (``assign_scope``, by the writer); an administrator grants a database login the
role ``coproduce_scoped_auditor`` and one or more scopes (``grant_scope``). Row-level security on the
events table then shows that login, through the same ``eventlog.audit_*`` views every auditor reads,
only the events of streams in its scopes; every other role sees every row, as before.

``grant_scope`` refuses a login that could read more than its scopes by another route: a superuser, a
role that bypasses row-level security, the writer or the owner, or a login that may ``SET ROLE``
to the whole-log auditor.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .errors import EventLogError
from .migrate import AUDITOR_ROLE, OWNER_ROLE, SCOPED_AUDITOR_ROLE, WRITER_ROLE


class ScopeError(EventLogError):
    """A scope cannot be assigned or granted as asked (the sentence says why and what to do)."""


async def assign_scope(conn: psycopg.AsyncConnection[Any], stream_id: str, scope: str) -> None:
    """Put ``stream_id`` in ``scope``. The same scope again is a no-op; another one is refused, since
    a stream never moves between scopes (its readers would lose or gain its past)."""
    if not stream_id or not scope:
        raise ScopeError("a scope needs a stream id and a scope name; neither may be empty")
    await conn.execute(
        "INSERT INTO eventlog.stream_scopes (stream_id, scope) VALUES (%s, %s) ON CONFLICT (stream_id) DO NOTHING",
        (stream_id, scope),
    )
    row = await (
        await conn.execute("SELECT scope FROM eventlog.stream_scopes WHERE stream_id = %s", (stream_id,))
    ).fetchone()
    if row is None or row[0] != scope:
        raise ScopeError(f"the stream {stream_id!r} belongs to another scope already; streams never move")


async def unscoped_streams(conn: psycopg.AsyncConnection[Any], event_type: str) -> list[tuple[str, bytes]]:
    """``(stream id, entry)`` of each event of ``event_type`` whose stream is in no scope yet."""
    rows = await (
        await conn.execute(
            "SELECT e.stream_id, e.entry FROM eventlog.audit_events e WHERE e.event_type = %s"
            " AND NOT EXISTS (SELECT 1 FROM eventlog.stream_scopes s WHERE s.stream_id = e.stream_id)"
            " ORDER BY e.position",
            (event_type,),
            binary=True,
        )
    ).fetchall()
    return [(stream_id, bytes(entry)) for stream_id, entry in rows]


async def grant_scope(conn: psycopg.AsyncConnection[Any], login: str, scope: str) -> None:
    """Let the database login ``login`` read the streams of ``scope`` (as an administrator: a superuser
    or a role with CREATEROLE that is a member of ``coproduce_owner``)."""
    problem = await _unsafe(conn, login)
    if problem:
        raise ScopeError(problem)
    await conn.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(SCOPED_AUDITOR_ROLE), sql.Identifier(login))
    )
    await conn.execute(
        "INSERT INTO eventlog.reader_scopes (reader, scope) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (login, scope),
    )


async def revoke_scope(conn: psycopg.AsyncConnection[Any], login: str, scope: str) -> bool:
    """Stop ``login`` reading ``scope``; True when it could before. The login keeps its role, and with
    no scope left it reads nothing."""
    cur = await conn.execute(
        "DELETE FROM eventlog.reader_scopes WHERE reader = %s AND scope = %s", (login, scope)
    )
    return cur.rowcount > 0


async def reader_scopes(conn: psycopg.AsyncConnection[Any]) -> dict[str, list[str]]:
    """Each scope with the logins granted it (as an administrator)."""
    rows = await (
        await conn.execute("SELECT scope, reader FROM eventlog.reader_scopes ORDER BY scope, reader")
    ).fetchall()
    granted: dict[str, list[str]] = {}
    for scope, reader in rows:
        granted.setdefault(scope, []).append(reader)
    return granted


async def _unsafe(conn: psycopg.AsyncConnection[Any], login: str) -> str | None:
    """Why ``login`` cannot be limited to scopes, or None when it can."""
    row = await (
        await conn.execute(
            "SELECT rolsuper, rolbypassrls, pg_has_role(oid, %s, 'MEMBER'), pg_has_role(oid, %s, 'MEMBER'),"
            " pg_has_role(oid, %s, 'SET') FROM pg_roles WHERE rolname = %s",
            (WRITER_ROLE, OWNER_ROLE, AUDITOR_ROLE, login),
        )
    ).fetchone()
    if row is None:
        return f"there is no database login {login!r}; create it first (CREATE ROLE {login} LOGIN PASSWORD '...')"
    superuser, bypass, writer, owner, auditor = row
    if superuser or bypass:
        return f"{login!r} is a superuser or bypasses row-level security, so no scope can limit it; use a login of its own"
    if writer or owner:
        return f"{login!r} holds the writer's or the owner's rights and reads every event; use a login of its own"
    if auditor:
        return (
            f"{login!r} can read every event as coproduce_auditor; revoke that "
            f"(REVOKE coproduce_auditor FROM {login}) or use a login of its own"
        )
    return None
