"""Which PostgreSQL to use: ``COPRODUCE_DATABASE_URL`` when set, otherwise the embedded server.

The embedded server lives under the state directory and holds one database, ``coproduce``.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from eventlog import migrate
from eventlog.migrate import Migration

from .embedded_postgres import EmbeddedPostgres
from .running import running_stack
from .settings import Settings

EMBEDDED_DATABASE = "coproduce"


class NoStackError(RuntimeError):
    """Nothing to connect to: no stack running and no URL or address configured."""


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.embedded_postgres_dir)


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server behind ``admin_url`` unless it exists."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """The URL to use: ``COPRODUCE_DATABASE_URL``, else the running stack's, else the embedded server
    (started, with its database created, when ``start_embedded``)."""
    if settings.database_url:
        return settings.database_url

    stack = running_stack(settings)
    if stack is not None:
        return stack.database_url
    server = embedded_server(settings)
    if start_embedded:
        server.ensure_started()
    elif not server.is_running():
        raise NoStackError(
            "no coproduce stack is running and COPRODUCE_DATABASE_URL is not set; "
            "start one with `coproduce up --detach`"
        )
    ensure_database(server.url(), EMBEDDED_DATABASE)
    return server.url(EMBEDDED_DATABASE)


# Migrations beyond the log's own: (package, schema). The engagement views for auditors live in
# application/migrations/ and the schema ``engagements`` (the log itself knows nothing of engagements).
APPLICATION_MIGRATIONS = (("application", "engagements"),)


async def set_passwords(url: str, passwords: dict[str, str]) -> None:
    """Give the log's login roles (``coproduce_writer``, ``coproduce_auditor``) these passwords."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for role, password in passwords.items():
            await conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )


async def migrate_database(url: str) -> list[Migration]:
    """Create or update everything coproduce keeps in the database: the log, then the views over it."""
    return await migrate(url, also=APPLICATION_MIGRATIONS)
