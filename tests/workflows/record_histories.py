"""Record workflow histories for the replay test: ``python -m tests.workflows.record_histories``.

Runs engagements on the real servers (the time-skipping test server, and the dev server for
continue-as-new) against a throwaway embedded PostgreSQL, and writes each run's history, with its
payloads encoded exactly as Temporal stores them, to ``tests/workflows/histories/``. The payloads are
left unencrypted (the pydantic converter alone, no codec), so the files replay with any installation's
payload keys: the codec passes unencrypted payloads through when decoding. Commit the files:
the replay test then fails on any code change that running engagements could not replay. Record new
histories when the workflow changes on purpose (behind ``workflow.patched``), keeping the old ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from datetime import date
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from application.simulation import ScriptedPeople
from domain.plan import plan_rescheduled
from tests.domain.plans import small_plan
from workers.codec import MarkingPayloadConverter
from workers.database import async_scratch_database
from workers.embedded_postgres import EmbeddedPostgres
from workers.temporal_binaries import temporal_cli, temporal_test_server
from workers.worker import build_worker, open_event_log
from workflows import search
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn

from .conftest import TASK_QUEUE, example_plan, start_engagement, wait_until_started

HERE = Path(__file__).parent / "histories"
# The installation's converter without its encryption codec: committed histories hold no secret key.
RECORDING_CONVERTER = dataclasses.replace(
    pydantic_data_converter, payload_converter_class=MarkingPayloadConverter
)


async def save(handle: WorkflowHandle, client: Client) -> None:
    """Write every run of the workflow, oldest first (the test server keeps no list: its one run)."""
    try:
        executions = [w async for w in client.list_workflows(f'WorkflowId = "{handle.id}"')]
        runs: list[str | None] = [w.run_id for w in sorted(executions, key=lambda w: w.start_time)]
    except RPCError:
        runs = [None]
    for index, run_id in enumerate(runs):
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        # The file is named after the workflow id, which replay needs (the history does not hold it).
        path = HERE / (f"{handle.id}.json" if len(runs) == 1 else f"{handle.id}.run{index + 1}.json")
        path.write_text(history.to_json() + "\n")
        print(f"wrote {path.relative_to(Path.cwd())} ({len(history.events)} events)")


async def record(url: str) -> None:
    log = await open_event_log(url)
    try:
        async with (
            await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(temporal_test_server()), data_converter=RECORDING_CONVERTER
            ) as env,
            build_worker(env.client, log, TASK_QUEUE),
        ):
            plan = plan_rescheduled(small_plan(), date.today())
            handle = await start_engagement(env.client, "replay-small", plan=plan, started_by="f1")
            await ScriptedPeople(handle, env.sleep, plan).run(max_weeks=40)
            await save(handle, env.client)

            housing = plan_rescheduled(example_plan(), date.today())
            handle = await start_engagement(env.client, "replay-housing", plan=housing)
            await ScriptedPeople(handle, env.sleep, housing).run(max_weeks=10)
            await save(handle, env.client)
        async with (
            await WorkflowEnvironment.start_local(
                dev_server_existing_path=str(temporal_cli()),
                data_converter=RECORDING_CONVERTER,
                search_attributes=list(search.ALL_KEYS),
                dev_server_extra_args=[
                    "--dynamic-config-value",
                    "limit.historyCount.suggestContinueAsNew=60",
                ],
            ) as env,
            build_worker(env.client, log, TASK_QUEUE),
        ):
            handle = await start_engagement(env.client, "replay-continued", search_attributes=True)
            await wait_until_started(handle)
            for n in range(15):
                msg = RecordCheckIn(person_id=["t01", "t02", "t03"][n % 3], comfort=3 + n % 3)
                await handle.execute_update(W.record_check_in, msg, id=f"c-{n}")
            await save(handle, env.client)
    finally:
        await log.close()


async def main() -> None:
    HERE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o755)
        server = EmbeddedPostgres(Path(tmp) / "pg", fsync=False)
        server.ensure_started()
        try:
            async with async_scratch_database(server.url(), migrated=True, prefix="replay") as url:
                await record(url)
        finally:
            server.stop(mode="immediate")


if __name__ == "__main__":
    asyncio.run(main())
