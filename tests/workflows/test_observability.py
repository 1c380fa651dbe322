"""What operators see: Prometheus metrics from a worker (the SDK's and coproduce's own), traces that run
from the client's update through the workflow to the append, and log lines naming the engagement."""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.request
from dataclasses import dataclass

import pytest
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


@dataclass(frozen=True)
class Sample:
    """One line of the metrics page: ``name{label="value",...} value``."""

    name: str
    labels: dict[str, str]
    value: float


LINE = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(port: int) -> list[Sample]:
    """The metrics page, one sample per line."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    samples = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            found = LINE.match(line)
            assert found, f"not a Prometheus sample line: {line!r}"
            labels = dict(LABEL.findall(found["labels"] or ""))
            samples.append(Sample(found["name"], labels, float(found["value"])))
    return samples


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the metric ``name`` over its series carrying ``labels``, which must be on the page: a
    metric that is not there fails here rather than reading as 0."""
    matching = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert matching, f"no {name} with labels {labels} on the metrics page: " + "; ".join(
        f"{s.name}{s.labels}" for s in samples if s.name == name
    )
    return sum(s.value for s in matching)


def listed(samples: list[Sample], name: str, **labels: str) -> bool:
    return any(s.name == name and labels.items() <= s.labels.items() for s in samples)


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
        in_phase = {"phase": "organisational-assessment"}
        for _ in range(100):  # visibility is eventually consistent: wait for the engagement to be listed
            samples = scrape(port)
            if listed(samples, "coproduce_gates_open") and (
                listed(samples, "coproduce_engagements", **in_phase)
                and total(samples, "coproduce_engagements", **in_phase) == 1
            ):
                break
            await asyncio.sleep(0.2)
        stop.set()
        await gauges
        async with writer_log.pool.connection() as conn:
            row = await (await conn.execute("SELECT count(*) FROM engagements.open_gates")).fetchone()
            assert row is not None
            gates_in_the_log = int(row[0])

    engagement = {"phase": "organisational-assessment", "status": "active"}
    assert total(samples, "coproduce_engagements", **engagement) == 1
    # The first gate opens after 28 days: none is open, and the gauge says so (it is there, at 0).
    assert gates_in_the_log == 0
    assert total(samples, "coproduce_gates_open") == gates_in_the_log
    assert total(samples, "coproduce_gate_oldest_open_hours") == 0
    ours = {"task_queue": TASK_QUEUE, "namespace": "default"}
    assert total(samples, "coproduce_events_recorded", event_type="check_in_recorded", **ours) == 3
    appended = len(await writer_log.read_stream("metrics-1"))
    assert total(samples, "coproduce_events_appended", activity_type="append_events", **ours) == appended
    latencies = total(samples, "coproduce_append_latency_count", **ours)
    assert latencies >= 4  # the start, its follow-up, 3 check-ins
    # The SDK's own metrics are on the same page.
    assert total(samples, "temporal_worker_start", **ours) == 1
    assert total(samples, "temporal_request", operation="StartWorkflowExecution") == 1
    assert (
        total(samples, "temporal_workflow_task_execution_latency_count", workflow_type="EngagementWorkflow")
        >= 4
    )


def test_a_metric_missing_from_the_page_fails_rather_than_reading_as_zero() -> None:
    page = [Sample("coproduce_gates_open", {"service_name": "temporal-core-sdk"}, 0.0)]
    assert total(page, "coproduce_gates_open") == 0
    assert total(page, "coproduce_gates_open", service_name="temporal-core-sdk") == 0
    for name, labels in (("coproduce_gates_opened", {}), ("coproduce_gates_open", {"phase": "training"})):
        with pytest.raises(AssertionError, match="on the metrics page"):
            total(page, name, **labels)


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
