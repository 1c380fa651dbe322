"""Fixtures for the fault tests: a PostgreSQL cluster of their own (a test may stop it), and per test a
fresh database, a Temporal dev server on a database file, and worker processes; all stopped after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from workers.embedded_postgres import EmbeddedPostgres

from .harness import FIGURES, Stack, drop_database, migrated_database


@pytest.fixture(scope="package")
def fault_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """Never the session's server, nor COPRODUCE_DATABASE_URL's: these tests stop and restart it."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("fault-postgres"), fsync=False)
    server.ensure_started()
    try:
        yield server
    finally:
        server.stop(mode="immediate")


@pytest.fixture
async def stack(fault_postgres: EmbeddedPostgres, tmp_path: Path) -> AsyncIterator[Stack]:
    """A migrated database, a running dev server and one running worker; everything stopped after."""
    fault_postgres.ensure_started()
    admin_url = fault_postgres.url()
    url = await migrated_database(admin_url)
    running = Stack(tmp_path, fault_postgres, url)
    try:
        running.temporal.start()
        await running.client()
        await running.workers.start()
        yield running
    finally:
        running.workers.stop_all()
        running.temporal.stop()
        fault_postgres.ensure_started()  # a test that failed with the server stopped leaves it stopped
        await asyncio.to_thread(drop_database, admin_url, url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault injection")
    for figures in FIGURES:
        terminalreporter.write_line(figures.line())
    total = sum(sum(f.faults.values()) for f in FIGURES)
    terminalreporter.write_line(
        f"total: faults {total}; engagements {sum(f.engagements for f in FIGURES)}; "
        f"events {sum(f.events for f in FIGURES)}; inputs accepted {sum(f.accepted for f in FIGURES)}; "
        f"losses {sum(f.losses for f in FIGURES)}; duplicates {sum(f.duplicates for f in FIGURES)}"
    )
