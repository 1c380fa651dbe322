"""Client organisations: every engagement belongs to one, and an organisation's auditors can be limited to it.

An engagement's organisation is its plan's (``Organisation.key``: the plan's ``organisation.id``, or
its name as a slug). When an engagement starts, its streams (its own and its people stream) are put in
the organisation's *scope* in the event log (``eventlog.scopes``). An administrator then gives an
organisation's auditor, funder or board member a database login of their own
(``coproduce organisations grant-login ORG LOGIN``): in psql that login reads, through the same views
as every auditor, the events of that organisation's engagements and nothing else. PostgreSQL's
row-level security does the filtering, so no query, join or view can reach past it.

``coproduce db migrate`` puts engagements that started before organisations had scopes into theirs
(``scope_started_engagements``), so every engagement in the log belongs to its organisation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from domain.plan import Organisation
from eventlog import (
    OWNER_ROLE,
    ScopeError,
    assign_scope,
    grant_scope,
    reader_scopes,
    revoke_scope,
    unscoped_streams,
)
from eventlog.canonical import decode_entry

from .errors import UserError
from .privacy.register import forgotten_stream


def streams_of(engagement_id: str) -> tuple[str, ...]:
    """The streams that hold an engagement's events: its own, and its people stream."""
    return engagement_id, forgotten_stream(engagement_id)


async def scope_engagement(conn: psycopg.AsyncConnection[Any], engagement_id: str, organisation: str) -> None:
    """Put the engagement's streams in its organisation's scope (again: a no-op). Refused when the id
    was used for another organisation's engagement, whose past would otherwise change hands."""
    try:
        for stream in streams_of(engagement_id):
            await assign_scope(conn, stream, organisation)
    except ScopeError:
        raise UserError(
            f"the engagement id '{engagement_id}' was used by another organisation's engagement; choose another id"
        ) from None


async def scope_started_engagements(conn: psycopg.AsyncConnection[Any]) -> int:
    """Put every engagement that started without a scope into its organisation's; how many there were."""
    done = 0
    for engagement_id, entry in await unscoped_streams(conn, "engagement_started"):
        plan = decode_entry(entry)["payload"]["plan"]
        await scope_engagement(conn, engagement_id, Organisation.model_validate(plan["organisation"]).key)
        done += 1
    return done


@dataclass(frozen=True)
class OrganisationRow:
    """An organisation with its engagements and the database logins limited to it."""

    id: str
    names: list[str]
    engagements: list[str]
    logins: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "names": self.names, "engagements": self.engagements, "logins": self.logins}


_ORGANISATIONS = """
SELECT organisation_id, array_agg(DISTINCT organisation ORDER BY organisation),
       array_agg(engagement_id ORDER BY engagement_id)
  FROM engagements.summary WHERE organisation_id IS NOT NULL
 GROUP BY organisation_id ORDER BY organisation_id
"""


ADMIN_NEEDED = "this needs an administrator's database URL (the one `coproduce db migrate` uses)"


@asynccontextmanager
async def _as_administrator(admin_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection acting as the log's owner, in one transaction; a login that cannot is told so."""
    try:
        async with await psycopg.AsyncConnection.connect(admin_url) as conn, conn.transaction():
            await conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
            yield conn
    except psycopg.errors.InsufficientPrivilege:
        raise UserError(ADMIN_NEEDED) from None


async def organisations(admin_url: str) -> list[OrganisationRow]:
    """Every organisation with engagements in the log, as an administrator sees them."""
    async with _as_administrator(admin_url) as conn:
        rows = await (await conn.execute(_ORGANISATIONS)).fetchall()
        granted = await reader_scopes(conn)
    return [
        OrganisationRow(org, list(names), list(engagements), granted.get(org, []))
        for org, names, engagements in rows
    ]


async def grant_login(admin_url: str, organisation: str, login: str) -> OrganisationRow:
    """Limit the database login ``login`` to ``organisation``'s engagements and let it read them."""
    known = {row.id: row for row in await organisations(admin_url)}
    if organisation not in known:
        raise UserError(
            f"there is no organisation '{organisation}' with engagements in the log; "
            "`coproduce organisations list` shows their ids"
        )
    try:
        async with await psycopg.AsyncConnection.connect(admin_url) as conn, conn.transaction():
            await grant_scope(conn, login, organisation)  # GRANT as the administrator's own login
    except ScopeError as exc:
        raise UserError(str(exc)) from None
    except psycopg.errors.InsufficientPrivilege:
        raise UserError(ADMIN_NEEDED) from None
    row = known[organisation]
    return OrganisationRow(row.id, row.names, row.engagements, sorted({*row.logins, login}))


async def revoke_login(admin_url: str, organisation: str, login: str) -> bool:
    """Stop ``login`` reading ``organisation``'s engagements; False when it could not before."""
    async with _as_administrator(admin_url) as conn:
        return await revoke_scope(conn, login, organisation)
