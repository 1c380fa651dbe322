"""Fixtures for audit tests: a whole engagement year run through the real workflow into a real log.

``year`` runs the housing example once per test module on the time-skipping server, with scripted
people (a held gate, a rejected one, uneasy check-ins), and keeps the status the workflow reported at
the end of every simulated week, so tests can compare what the auditor reconstructs with what the
workflow said at the time. Tests that alter the log (as a superuser would) work on a copy of its
database (``year_copy``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest
from psycopg import sql
from temporalio.testing import WorkflowEnvironment

from application.audit.disclosure import disclosure
from application.audit.history import DecodedEvent, decode
from application.simulation import ScriptedPeople, demo_responses
from domain.plan import plan_rescheduled
from tests.conftest import create_database, drop_database
from tests.workflows.conftest import (  # noqa: F401  (client, env, writer_log: fixtures for test_live)
    TASK_QUEUE,
    client,
    env,
    example_plan,
    start_engagement,
    writer_log,
)
from workers.codec import data_converter
from workers.keys import master_key
from workers.settings import Settings
from workers.temporal_binaries import temporal_test_server
from workers.worker import build_worker, open_event_log
from workflows.messages import EngagementStatus

ENGAGEMENT = "audit-year"


@dataclass
class Year:
    database_url: str
    engagement_id: str
    weekly: list[EngagementStatus]  # what the workflow's status said at the end of each week
    final: EngagementStatus
    history: list[DecodedEvent]


async def _run_year(url: str) -> Year:
    plan = plan_rescheduled(example_plan(), date.today())
    log = await open_event_log(url)
    try:
        async with (
            await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(temporal_test_server()), data_converter=data_converter()
            ) as env,
            build_worker(env.client, log, TASK_QUEUE),
        ):
            handle = await start_engagement(env.client, ENGAGEMENT, plan=plan, started_by="f01")
            weekly: list[EngagementStatus] = []
            people = ScriptedPeople(
                handle, env.sleep, plan, demo_responses(plan), lambda _, status: weekly.append(status)
            )
            final = await people.run(max_weeks=160)
        shown = await disclosure(
            log, url, ENGAGEMENT, master_key(Settings(), create=False)
        )  # the operator's view: text opened
        history = decode(await log.read_stream(ENGAGEMENT), shown)
    finally:
        await log.close()
    return Year(url, ENGAGEMENT, weekly, final, history)


@pytest.fixture(scope="module")
def year(admin_url: str, migrated_template: str) -> Iterator[Year]:
    url = create_database(admin_url, template=migrated_template)
    try:
        yield asyncio.run(_run_year(url))
    finally:
        drop_database(admin_url, url)


@pytest.fixture
def year_copy(year: Year, admin_url: str) -> Iterator[str]:
    """A copy of the year's database that a test may tamper with."""
    source = str(psycopg.conninfo.conninfo_to_dict(year.database_url)["dbname"])
    with psycopg.connect(admin_url, autocommit=True) as conn:  # a template must have no connections
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (source,))
    url = create_database(admin_url, template=source)
    yield url
    drop_database(admin_url, url)


def tamper(url: str, statement: str, params: tuple[object, ...] = ()) -> None:
    """Change the log as a superuser who disables the append-only trigger first."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("ALTER TABLE eventlog.events DISABLE TRIGGER events_append_only")
        conn.execute(sql.SQL(statement), params)  # type: ignore[arg-type]
        conn.execute("ALTER TABLE eventlog.events ENABLE ALWAYS TRIGGER events_append_only")
