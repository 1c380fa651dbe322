"""What operators watch: Prometheus metrics, OpenTelemetry traces, and the gauges coproduce adds.

Metrics (``COPRODUCE_METRICS_BIND=0.0.0.0:9464`` on a worker) come from the Temporal SDK's runtime,
which serves them in Prometheus format, plus coproduce's own, recorded through the same runtime:

| metric | kind | what |
|---|---|---|
| ``coproduce_append_latency`` | histogram (ms) | one append of a workflow's events to the log, by the activity |
| ``coproduce_events_appended`` | counter | events written to the log by the activity (retries that found them stored excluded) |
| ``coproduce_events_recorded`` | counter | events the workflows recorded, by ``event_type`` (not counted again on replay) |
| ``coproduce_engagements`` | gauge | running engagements by ``phase`` and ``status`` (from Temporal's visibility) |
| ``coproduce_gates_open`` / ``coproduce_gate_oldest_open_hours`` | gauges | gates waiting for a decision, and the oldest (from the log) |

Every worker reports the gauges; take the ``max`` across instances. The SDK's own metrics include
``temporal_workflow_task_schedule_to_start_latency`` and ``temporal_activity_execution_failed`` (see
docs/operations.md for the alerts worth setting).

Traces (``COPRODUCE_OTLP_ENDPOINT=http://collector:4318/v1/traces``): Temporal's OpenTelemetry
interceptor on the client and worker, so a trace runs from the command that sent an update through the
workflow's handler to the append activity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import structlog
from temporalio.client import Client, Interceptor
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from eventlog import EventLog

from .settings import Settings

log = structlog.get_logger(__name__)

GAUGE_INTERVAL_SECONDS = 30.0


def runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics at ``COPRODUCE_METRICS_BIND``, or None (off)."""
    if not settings.metrics_bind:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.metrics_bind)))


def tracing_interceptors(settings: Settings) -> list[Interceptor]:
    """Temporal's OpenTelemetry interceptor exporting to ``COPRODUCE_OTLP_ENDPOINT``, or none (off)."""
    if not settings.otlp_endpoint:
        return []
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from temporalio.contrib.opentelemetry import TracingInterceptor

    provider = TracerProvider(resource=Resource.create({"service.name": "coproduce"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return [TracingInterceptor()]


OPEN_GATES_SQL = """
SELECT count(*), coalesce(extract(epoch FROM now() - min(opened_at)) / 3600, 0)
FROM engagements.open_gates
"""


async def engagement_counts(client: Client) -> Counter[tuple[str, str]]:
    """Running engagements by (phase, status), from the search attributes in Temporal's visibility."""
    counts: Counter[tuple[str, str]] = Counter()
    query = 'WorkflowType = "EngagementWorkflow" AND ExecutionStatus = "Running"'
    async for execution in client.list_workflows(query):
        attributes: dict[str, Any] = execution.search_attributes
        phase = (attributes.get("EngagementPhase") or [""])[0]
        status = (attributes.get("EngagementStatus") or [""])[0]
        counts[(phase or "none", status or "unknown")] += 1
    return counts


async def report_gauges(
    client: Client, event_log: EventLog, meter: MetricMeter, stop: asyncio.Event,
    interval: float = GAUGE_INTERVAL_SECONDS,
) -> None:  # fmt: skip
    """Every ``interval`` seconds, set the engagement and open-gate gauges until ``stop`` is set."""
    engagements = meter.create_gauge("coproduce_engagements", "running engagements by phase and status")
    gates_open = meter.create_gauge("coproduce_gates_open", "gates waiting for a decision")
    oldest = meter.create_gauge_float(
        "coproduce_gate_oldest_open_hours", "hours the oldest open gate has waited"
    )
    seen: set[tuple[str, str]] = set()
    while not stop.is_set():
        try:
            counts = await engagement_counts(client)
            for key in seen | set(counts):  # a phase nobody is in any more goes to 0, not stale
                engagements.set(counts.get(key, 0), {"phase": key[0], "status": key[1]})
            seen |= set(counts)
            async with event_log.pool.connection() as conn:
                row = await (await conn.execute(OPEN_GATES_SQL)).fetchone()
            if row is not None:
                gates_open.set(int(row[0]))
                oldest.set(float(row[1]))
        except Exception as exc:  # metrics must never take a worker down
            log.warning("could not refresh the engagement gauges", error=str(exc))
        with contextlib.suppress(TimeoutError):  # the interval passed: refresh again
            await asyncio.wait_for(stop.wait(), timeout=interval)
