"""Scratch databases (tests', benchmarks', rehearsals'): created, copied, replaced and always dropped."""

from __future__ import annotations

import psycopg
import pytest

from workers.database import (
    async_scratch_database,
    create_database,
    database_name,
    drop_database,
    scratch_database,
    url_for_database,
)


def _exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _has_log(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT to_regclass('eventlog.events')").fetchone()[0] is not None  # type: ignore[index]


def test_a_database_gets_a_unique_name_and_is_dropped_by_url_or_name(admin_url: str) -> None:
    first, second = create_database(admin_url, prefix="t"), create_database(admin_url, prefix="t")
    names = database_name(first), database_name(second)
    assert names[0] != names[1] and all(n.startswith("t_") for n in names)
    assert all(_exists(admin_url, n) for n in names)
    connected = psycopg.connect(first, autocommit=True)  # an open connection does not stop the drop
    try:
        drop_database(admin_url, first)
    finally:
        connected.close()
    drop_database(admin_url, names[1])
    assert not any(_exists(admin_url, n) for n in names)
    drop_database(admin_url, names[1])  # dropping one that is gone is no error


def test_a_copy_of_a_template_holds_what_the_template_holds(admin_url: str, migrated_template: str) -> None:
    with scratch_database(admin_url, template=migrated_template) as url:
        assert _has_log(url)
    with scratch_database(admin_url) as url:
        assert not _has_log(url)


def test_replace_starts_a_named_database_afresh(admin_url: str) -> None:
    name = 'odd "name"=1; DROP DATABASE postgres'  # quoted as an identifier, never pasted into SQL
    url = create_database(admin_url, name)
    assert url == url_for_database(admin_url, name) and database_name(url) == name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
    with pytest.raises(psycopg.errors.DuplicateDatabase):
        create_database(admin_url, name)
    create_database(admin_url, name, replace=True)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)
    drop_database(admin_url, url)
    assert not _exists(admin_url, name) and _exists(admin_url, "postgres")


def test_a_scratch_database_is_migrated_when_asked_and_dropped_even_after_an_error(admin_url: str) -> None:
    with scratch_database(admin_url, migrated=True) as url:
        assert _has_log(url)
    assert not _exists(admin_url, database_name(url))
    with pytest.raises(RuntimeError, match="the test's own"), scratch_database(admin_url) as url:
        raise RuntimeError("the test's own error")
    assert not _exists(admin_url, database_name(url))


async def test_the_async_scratch_database_does_the_same(admin_url: str) -> None:
    async with async_scratch_database(admin_url, migrated=True, prefix="a") as url:
        assert database_name(url).startswith("a_") and _has_log(url)
    assert not _exists(admin_url, database_name(url))
    with pytest.raises(RuntimeError):
        async with async_scratch_database(admin_url) as url:
            raise RuntimeError("the test's own error")
    assert not _exists(admin_url, database_name(url))
