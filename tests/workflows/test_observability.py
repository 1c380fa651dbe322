"""What operators see: Prometheus metrics from a worker (the SDK's and coproduce's own), traces that run
from the client's update through the workflow to the append, and log lines naming the engagement."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment

from eventlog import EventLog
from workers.codec import data_converter
from workers.observability import report_gauges
from workers.worker import build_worker
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn

from .conftest import TASK_QUEUE, start_engagement, wait_until_started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """The metrics page as {series: value}, e.g. 'coproduce_gates_open{...}': 0."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            series[name] = float(value)
    return series


def total(series: dict[str, float], prefix: str, *labels: str) -> float:
    return sum(v for k, v in series.items() if k.startswith(prefix) and all(label in k for label in labels))


async def test_a_worker_serves_sdk_and_coproduce_metrics(
    dev_env: WorkflowEnvironment, writer_log: EventLog
) -> None:
    port = free_port()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}")))
    client = await Client.connect(
        dev_env.client.service_client.config.target_host, data_converter=data_converter(), runtime=runtime
    )
    stop = asyncio.Event()
    async with build_worker(client, writer_log, TASK_QUEUE):
        handle = await start_engagement(client, "metrics-1", search_attributes=True)
        await wait_until_started(handle)
        for n in range(3):
            await handle.execute_update(
                W.record_check_in, RecordCheckIn(person_id="t01", comfort=4), id=f"m-{n}"
            )
        gauges = asyncio.create_task(
            report_gauges(client, writer_log, runtime.metric_meter, stop, interval=0.2)
        )
        for _ in range(100):  # visibility is eventually consistent: wait for the engagement to be listed
            series = scrape(port)
            if total(series, "coproduce_engagements{", 'phase="organisational-assessment"') == 1:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await gauges

    assert (
        total(series, "coproduce_engagements{", 'phase="organisational-assessment"', 'status="active"') == 1
    )
    assert total(series, "coproduce_gates_open") == 0
    assert total(series, "coproduce_events_recorded{", 'event_type="check_in_recorded"') == 3
    appended = len(await writer_log.read_stream("metrics-1"))
    assert total(series, "coproduce_events_appended") == appended
    assert total(series, "coproduce_append_latency_count") >= 4  # the start, its follow-up, 3 check-ins
    assert total(series, "temporal_workflow_completed") == 0  # the SDK's own metrics are there too
    assert any(k.startswith("temporal_request") for k in series)


async def test_a_trace_runs_from_the_update_through_the_workflow_to_the_append(
    env: WorkflowEnvironment, writer_log: EventLog
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = Client(
        env.client.service_client,
        data_converter=data_converter(),
        interceptors=[TracingInterceptor(provider.get_tracer("coproduce-test"))],
    )
    with structlog.testing.capture_logs() as logs:
        async with build_worker(client, writer_log, TASK_QUEUE):
            handle = await start_engagement(client, "traced-1")
            await wait_until_started(handle)
            await handle.execute_update(
                W.record_check_in, RecordCheckIn(person_id="t01", comfort=4), id="t-1"
            )

    spans = exporter.get_finished_spans()
    update = next(s for s in spans if s.name == "StartWorkflowUpdate:record_check_in")
    handled = next(s for s in spans if s.name == "HandleUpdate:record_check_in")
    # the handler runs in the workflow's own trace, linked to the caller's update span
    assert [link.context.span_id for link in handled.links] == [update.context.span_id]
    workflow_trace = {s.name for s in spans if s.context.trace_id == handled.context.trace_id}
    assert {"StartWorkflow:EngagementWorkflow", "RunWorkflow:EngagementWorkflow"} <= workflow_trace
    assert {"StartActivity:append_events", "RunActivity:append_events"} <= workflow_trace

    appended = [line for line in logs if line["event"] == "appended events"]
    assert appended and all(line["engagement_id"] == "traced-1" for line in appended)
    assert {line["correlation_id"] for line in appended} == {"traced-1"}
    assert any(line["causation_id"] == "t-1" for line in appended)
