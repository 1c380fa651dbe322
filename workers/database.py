"""Which PostgreSQL to use: ``COPRODUCE_DATABASE_URL`` when set, otherwise the embedded server; and
creating, migrating and dropping databases on it.

The embedded server lives under the state directory and holds one database, ``coproduce``.

Scratch databases (a test's, a benchmark's, a rehearsal's) are made by one set of helpers, all taking an
administrator's URL on the server: ``create_database`` (a unique name unless one is given, optionally
from a template, optionally replacing one of that name), ``drop_database`` (closing its connections),
and ``scratch_database`` / ``async_scratch_database``, context managers that create one, optionally
migrate it, yield its URL and drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator

import psycopg
from psycopg import sql

from application.organisations import scope_started_engagements
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


def url_for_database(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server behind ``admin_url`` (same login and options)."""
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def database_name(url_or_name: str) -> str:
    """The database a URL (or ``key=value`` conninfo string) names; a bare name is returned as it is."""
    is_url = url_or_name.startswith(("postgresql://", "postgres://"))
    if is_url or "=" in url_or_name:
        try:
            params = psycopg.conninfo.conninfo_to_dict(url_or_name)
        except psycopg.ProgrammingError:
            params = {}  # not a conninfo string: a name with "=" in it
        if params.get("dbname"):
            return str(params["dbname"])
        if is_url or params:
            raise ValueError(f"the database URL {url_or_name!r} names no database")
    return url_or_name


def create_database(
    admin_url: str,
    name: str | None = None,
    *,
    template: str | None = None,
    replace: bool = False,
    prefix: str = "scratch",
) -> str:
    """Create a database on the server behind ``admin_url`` and return its URL.

    ``name``: its name (default: ``<prefix>_<random hex>``, unique); ``template``: a database (name or
    URL) to copy instead of the empty ``template1``; ``replace``: drop a database of that name first
    (closing its connections) instead of failing because it exists."""
    name = name or f"{prefix}_{secrets.token_hex(6)}"
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(database_name(template))
        )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if replace:
            conn.execute(_drop(name))
        conn.execute(query)
    return url_for_database(admin_url, name)


def drop_database(admin_url: str, url_or_name: str) -> None:
    """Drop a database (by URL or name) if it exists, closing every connection to it first."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(_drop(database_name(url_or_name)))


def _drop(name: str) -> sql.Composed:
    return sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))


@contextlib.contextmanager
def scratch_database(
    admin_url: str, *, template: str | None = None, migrated: bool = False, prefix: str = "scratch"
) -> Iterator[str]:
    """A new, uniquely named database (copied from ``template`` when given; migrated with
    ``migrate_database`` when ``migrated``) for the ``with`` block: yields its URL, drops it after.
    Not inside a running event loop when ``migrated`` (use ``async_scratch_database`` there)."""
    url = create_database(admin_url, template=template, prefix=prefix)
    with _dropped_after(admin_url, url):
        if migrated:
            asyncio.run(migrate_database(url))
        yield url


@contextlib.asynccontextmanager
async def async_scratch_database(
    admin_url: str, *, template: str | None = None, migrated: bool = False, prefix: str = "scratch"
) -> AsyncIterator[str]:
    """``scratch_database`` for async code: the blocking create and drop run in a thread."""
    url = await asyncio.to_thread(create_database, admin_url, template=template, prefix=prefix)
    try:
        if migrated:
            await migrate_database(url)
        yield url
    except BaseException:
        with contextlib.suppress(psycopg.Error):  # the block's error is the one to report
            await asyncio.to_thread(drop_database, admin_url, url)
        raise
    await asyncio.to_thread(drop_database, admin_url, url)


@contextlib.contextmanager
def _dropped_after(admin_url: str, url: str) -> Iterator[None]:
    """Drop ``url`` when the block ends; a failure to drop never hides the block's own error."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            drop_database(admin_url, url)
        raise
    drop_database(admin_url, url)


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
# application/migrations/ and the schema ``engagements`` (the log itself knows nothing of engagements);
# the sign-in tables in application/identity/migrations/ and the schema ``identity``.
APPLICATION_MIGRATIONS = (("application", "engagements"), ("application.identity", "identity"))


async def set_passwords(url: str, passwords: dict[str, str]) -> None:
    """Give the log's login roles (``coproduce_writer``, ``coproduce_auditor``) these passwords."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for role, password in passwords.items():
            await conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )


async def migrate_database(url: str) -> list[Migration]:
    """Create or update everything coproduce keeps in the database: the log, then the views over it;
    then put every engagement that started before organisations had scopes into its organisation's."""
    applied = await migrate(url, also=APPLICATION_MIGRATIONS)
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await scope_started_engagements(conn)
    return applied
