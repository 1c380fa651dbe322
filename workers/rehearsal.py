"""Run a plan on the real workflow code with scripted people, faster than real time.

The time-skipping Temporal test server stands in for the months, a worker runs in this process, and the
events go to a database of their own (``coproduce_demo`` or ``coproduce_simulation``, recreated each
time) on the embedded PostgreSQL or the server of ``COPRODUCE_DATABASE_URL``, so a rehearsal never
mixes with real engagements or their audit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from application.audit.disclosure import Disclosure
from application.privacy.register import PeopleRegister
from application.simulation import Responses, ScriptedPeople
from domain.plan import Plan, plan_rescheduled
from eventlog import RecordedEvent
from workers.codec import data_converter
from workers.database import create_database, embedded_server, migrate_database
from workers.embedded_postgres import EmbeddedPostgres
from workers.keys import master_keys
from workers.running import running_stack
from workers.settings import Settings
from workers.temporal_binaries import temporal_test_server
from workers.worker import build_worker, open_event_log
from workflows.engagement import EngagementWorkflow
from workflows.messages import EngagementInput, EngagementStatus, StartEngagement

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TASK_QUEUE = "rehearsal"


@dataclass
class Rehearsal:
    engagement_id: str
    database_url: str
    status: EngagementStatus
    events: list[RecordedEvent]
    updates: int
    weeks: int
    seconds: float
    started_server: EmbeddedPostgres | None = None  # stop it when done with the database

    def finish(self) -> None:
        """Stop the embedded PostgreSQL if the rehearsal started it."""
        if self.started_server is not None:
            self.started_server.stop()
            self.started_server = None


def _quiet_runtime() -> Runtime:
    """A Temporal runtime that keeps the SDK core's warnings about the test server off the screen."""
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
            )
        )
    return _RUNTIME


_RUNTIME: Runtime | None = None


class _OnlyWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


@asynccontextmanager
async def _quiet_worker_shutdown() -> AsyncIterator[None]:
    """Keep the in-process worker's routine news ("Beginning worker shutdown, will wait 0:00:10 ...", an
    INFO line of the SDK's ``temporalio.worker._worker`` logger as the rehearsal ends) off the terminal,
    where it would stand before the demo's and ``simulate``'s output; its warnings and errors still show."""
    logger = logging.getLogger("temporalio.worker._worker")
    only_warnings = _OnlyWarnings()
    logger.addFilter(only_warnings)
    try:
        yield
    finally:
        logger.removeFilter(only_warnings)


def _admin_url(settings: Settings) -> tuple[str, bool]:
    """An administrator's URL to create the rehearsal database, and whether we started the server."""
    if settings.database_url:
        return settings.database_url, False
    server = embedded_server(settings)
    started = not server.is_running() and running_stack(settings) is None
    server.ensure_started()
    return server.url(), started


async def rehearse(
    plan: Plan,
    responses: Responses,
    *,
    database: str,
    settings: Settings,
    engagement_id: str = "rehearsal",
    max_weeks: int = 104,
    on_week: Callable[[int, EngagementStatus], None] | None = None,
) -> Rehearsal:
    """Run ``plan`` from today until it completes (or ``max_weeks`` pass) with scripted people."""
    began = time.monotonic()
    admin_url, started_server = await asyncio.to_thread(_admin_url, settings)
    server = embedded_server(settings) if started_server else None
    try:
        url = await asyncio.to_thread(create_database, admin_url, database, replace=True)
        await migrate_database(url)
        log = await open_event_log(url)
        plan = plan_rescheduled(plan, date.today())
        register = PeopleRegister(log.pool, master_keys(settings))
        plan = await register.register(engagement_id, plan)  # as `engagement start` does: names stay here
        try:
            async with (
                _quiet_worker_shutdown(),
                await WorkflowEnvironment.start_time_skipping(
                    test_server_existing_path=str(temporal_test_server()),
                    data_converter=data_converter(settings),
                    runtime=_quiet_runtime(),
                ) as env,
                build_worker(env.client, log, TASK_QUEUE, settings=settings),
            ):
                lead = next((p.id for p in plan.people if p.constituency == "facilitator"), plan.people[0].id)
                handle = await env.client.start_workflow(
                    EngagementWorkflow.run,
                    EngagementInput(
                        start=StartEngagement(engagement_id=engagement_id, plan=plan, started_by=lead),
                        search_attributes=False,
                    ),
                    id=engagement_id,
                    task_queue=TASK_QUEUE,  # production's settings: the default 10 s task timeout
                )
                people = ScriptedPeople(handle, env.sleep, plan, responses, on_week)
                status = await people.run(max_weeks=max_weeks)
            # The operator's view: personal text opened with the register's keys (the log keeps it sealed).
            shown = Disclosure(keys=await register.all_keys(engagement_id))
            events = [e.replace(payload=shown.payload(e)) for e in await log.read_stream(engagement_id)]
        finally:
            await log.close()
    except BaseException:
        if server is not None:
            await asyncio.to_thread(server.stop)
        raise
    return Rehearsal(
        engagement_id=engagement_id,
        database_url=url,
        status=status,
        events=events,
        updates=len(people.sent),
        weeks=people.weeks,
        seconds=time.monotonic() - began,
        started_server=server,
    )
