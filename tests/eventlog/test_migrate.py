"""Migrations: applied once, safe to repeat and to run for several databases at once, edits refused."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from eventlog import MigrationError, migrate
from eventlog.migrate import applied_version, available_migrations

from ..conftest import create_database, drop_database


async def test_migrating_twice_applies_nothing_the_second_time(empty_database_url: str) -> None:
    first = await migrate(empty_database_url)
    assert [m.version for m in first] == [m.version for m in available_migrations()]
    assert await migrate(empty_database_url) == []
    assert await applied_version(empty_database_url) == available_migrations()[-1].version


async def test_an_unmigrated_database_reports_version_zero(empty_database_url: str) -> None:
    assert await applied_version(empty_database_url) == 0


async def test_a_migration_edited_after_it_was_applied_is_refused(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("UPDATE eventlog.schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="was edited after it was applied"):
        await migrate(empty_database_url)


async def test_several_databases_on_one_server_migrate_at_once(admin_url: str) -> None:
    urls = [create_database(admin_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(url) for url in urls))
        assert all(len(r) == len(available_migrations()) for r in results)
    finally:
        for url in urls:
            drop_database(admin_url, url)
