"""The Temporal worker: runs engagement workflows, their retention workflows, and their activities.

``build_worker(client, log, task_queue)`` makes a worker; ``run_worker(settings)`` runs one against
the configured Temporal and PostgreSQL until it is stopped. Workers are stateless: run as many as the
load needs, on as many machines; Temporal shares the work between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.eventlog_activities import EventLogActivities
from activities.retention_activities import RetentionActivities
from application.privacy.register import PeopleRegister
from application.services import Services
from domain.upcasters import UPCASTERS
from eventlog import EventLog, UpcasterRegistry
from workflows.engagement import EngagementWorkflow
from workflows.retention import RetentionWorkflow

from .database import database_url
from .keys import master_keys, trusted_writer_verifiers, writer_signer
from .observability import report_gauges, runtime, tracing_interceptors
from .read_models import keep_read_models
from .search_attributes import ensure_search_attributes
from .services import services_from_settings
from .settings import Settings
from .temporal import connect

log = structlog.get_logger(__name__)


# Our workflow code and everything it imports is deterministic (the domain is pure, the workflow uses
# only Temporal's deterministic APIs), so the sandbox need not re-import it for every workflow run:
# passing it through saves most of the CPU and memory the sandbox costs per engagement (measured in
# bench/workflow.py). The sandbox still guards the standard library.
DETERMINISTIC_MODULES = ("domain", "workflows", "workflows.contracts", "pydantic", "pydantic_core", "yaml")
# Not deterministic, but safe to share: the tracing interceptor's library (as Temporal's samples do).
# The event log's canonical JSON and keys check an input's signature (pure functions, no I/O used).
PASSTHROUGH_MODULES = (*DETERMINISTIC_MODULES, "eventlog", "cryptography", "rfc8785", "opentelemetry")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def build_worker(
    client: Client,
    event_log: EventLog,
    task_queue: str,
    *,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    settings: Settings | None = None,
) -> Worker:
    """A worker for engagement workflows and their event-log activities on ``task_queue``; personal
    text is sealed with the people register's keys under the master key of ``settings``, and every
    event appended is signed with its writer key."""
    config = settings or Settings()
    register = PeopleRegister(event_log.pool, master_keys(config))
    writer = writer_signer(config)
    activities = EventLogActivities(event_log, register, writer, trusted_writer_verifiers(config) or [])
    retention = RetentionActivities(worker_services(config, event_log.pool.conninfo))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[EngagementWorkflow, RetentionWorkflow, *extra_workflows],
        activities=[activities.append_events, retention.apply_retention, *extra_activities],
        workflow_runner=workflow_runner(),
        # On SIGTERM, let an append in flight finish rather than cut it off (it would be retried anyway).
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def open_event_log(url: str) -> EventLog:
    """The event log as workers and commands use it: the writer role, domain upcasters registered."""
    return await EventLog.open(url, upcasters=UpcasterRegistry(UPCASTERS))


async def serve_worker(
    client: Client, url: str, settings: Settings, stop: asyncio.Event, metrics: Runtime | None = None
) -> None:
    """Serve engagements on ``client`` with the log at ``url`` until ``stop`` is set; with ``metrics``
    (the runtime serving Prometheus), also keep the engagement and open-gate gauges up to date."""
    try:
        added = await ensure_search_attributes(client, settings.temporal_namespace)
        if added:
            log.info("registered search attributes", names=added)
    except RPCError as exc:  # e.g. a cloud namespace where workers may not manage search attributes
        log.warning("could not check search attributes; register them by hand", error=str(exc))
    event_log = await open_event_log(url)
    try:
        worker = build_worker(client, event_log, settings.task_queue, settings=settings)
        log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace)
        gauges = (
            asyncio.create_task(report_gauges(client, event_log, metrics.metric_meter, stop))
            if metrics is not None
            else None
        )
        read_models = asyncio.create_task(keep_read_models(worker_services(settings, url), stop))
        async with worker:
            await stop.wait()
            log.info("worker stopping: finishing what is in flight")
        await read_models
        if gauges is not None:
            await gauges
    finally:
        await event_log.close()
        log.info("worker stopped")


def worker_services(settings: Settings, url: str) -> Services:
    """The application's services as a worker's read models use them: the log at ``url``."""
    services = services_from_settings(settings)
    services.database_url = lambda: url
    return services


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run a worker against the configured (or embedded) servers until ``stop`` is set."""
    metrics = runtime(settings)
    client = await connect(settings, runtime=metrics, interceptors=tracing_interceptors(settings))
    url = await asyncio.to_thread(database_url, settings, start_embedded=False)
    if metrics is not None:
        log.info("serving metrics", address=settings.metrics_bind)
    await serve_worker(client, url, settings, stop or asyncio.Event(), metrics)
