"""The worker as a process (SIGTERM stops it cleanly) and the update contract through the stock
`temporal` CLI, against the real dev server and the real log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from eventlog import EventLog
from tests.session_keys import SESSION_KEYS
from workers.codec import codec
from workers.codec_server import make_server
from workers.settings import Settings
from workers.temporal_binaries import temporal_cli
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn

from .conftest import settled_history_length, start_engagement, wait_until_started

TOKEN = "a-codec-token-of-at-least-32-characters"


def address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def temporal(env: WorkflowEnvironment, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the stock CLI without blocking the event loop (this process also runs the worker)."""
    process = await asyncio.create_subprocess_exec(
        str(temporal_cli()), *args, "--address", address(env), "--namespace", "default",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return subprocess.CompletedProcess(args, process.returncode or 0, stdout.decode(), stderr.decode())


async def test_the_worker_process_serves_engagements_and_stops_cleanly_on_sigterm(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS},
        "COPRODUCE_TEMPORAL_ADDRESS": address(dev_env),
        "COPRODUCE_TASK_QUEUE": "engagements-test",
        "COPRODUCE_DATABASE_URL": database_url,
        "COPRODUCE_STATE_DIR": str(tmp_path),
        "COPRODUCE_LOG_FORMAT": "json",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "coproduce", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        handle = await start_engagement(dev_env.client, search_attributes=True)
        await wait_until_started(handle)
        result = await handle.execute_update(
            W.record_check_in, RecordCheckIn(person_id="t01", comfort=4), id="c1"
        )
        assert result.events == ["check_in_recorded"]
    finally:
        worker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    assert time.monotonic() - started < 15
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert [line["event"] for line in lines if line["event"].startswith("worker")][-1] == "worker stopped"


@pytest.fixture
async def open_engagement(dev_client: Client) -> str:
    handle = await start_engagement(dev_client, search_attributes=True)
    await wait_until_started(handle)
    await settled_history_length(handle)  # the start and what follows it are all recorded
    return handle.id


async def test_updates_work_from_the_stock_temporal_cli(
    dev_env: WorkflowEnvironment, dev_client: Client, open_engagement: str, writer_log: EventLog
) -> None:
    done = await temporal(
        dev_env, "workflow", "update", "execute", "--workflow-id", open_engagement, "--name", "record_check_in",
        "--input", '{"person_id": "t02", "comfort": 5, "note": "Feeling heard at last."}',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "check_in_recorded" in done.stdout
    status = await temporal(
        dev_env, "workflow", "query", "--workflow-id", open_engagement, "--name", "status"
    )
    assert status.returncode == 0 and '"engagement_id"' in status.stdout
    assert [e.type for e in await writer_log.read_stream(open_engagement)][-1] == "check_in_recorded"


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        ("record_check_in", '{"person_id": "t02", "comfort": "very"}', "comfort must be a whole number, not 'very'"),
        ("record_check_in", '{"person_id": "t02", "comfort": 4, "mood": "ok"}',
         "record_check_in has no field 'mood'; its fields are person_id, comfort and note"),
        ("record_check_in", '{"person_id": "t02", "comfort": 0}', "comfort 0 is outside the scale 1..5"),
        ("decide_gate", '{"person_id": "t01", "phase_id": "organisational-assessment", "choice": "approve"}',
         "gate 'organisational-assessment' has not been opened"),
        ("decide_gate", '{"person_id": "t01", "phase_id": "nowhere", "choice": "maybe"}',
         "choice must be 'approve', 'object' or 'abstain', not 'maybe'"),
    ],
)  # fmt: skip
async def test_bad_input_from_the_stock_cli_is_refused_and_changes_nothing(
    dev_env: WorkflowEnvironment,
    open_engagement: str,
    writer_log: EventLog,
    name: str,
    payload: str,
    expected: str,
) -> None:
    before = len(await writer_log.read_stream(open_engagement))
    refused = await temporal(
        dev_env,
        "workflow",
        "update",
        "execute",
        "--workflow-id",
        open_engagement,
        "--name",
        name,
        "--input",
        payload,
    )
    assert refused.returncode != 0
    assert refused.stderr.strip() == (  # the workflow's one sentence; never retried
        f"Error: unable to update workflow: {expected} (type: InputRefused, retryable: false)"
    )
    assert len(await writer_log.read_stream(open_engagement)) == before


async def test_the_stock_cli_encrypts_what_it_sends_through_the_codec_server(
    dev_env: WorkflowEnvironment, dev_client: Client, open_engagement: str
) -> None:
    """Typed into the stock CLI, a note reaches Temporal in clear unless the CLI is pointed at a codec
    server (docs/approvers.md); then it is encrypted like everything coproduce sends."""
    server = make_server(codec(Settings()), "127.0.0.1", 0, origins=[], token=TOKEN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for i, options in enumerate(((), ("--codec-endpoint", endpoint, "--codec-auth", f"Bearer {TOKEN}"))):
            note = f"Private note {i}: my carer Ms Osei knows my number."
            done = await temporal(
                dev_env, "workflow", "update", "execute", "--workflow-id", open_engagement,
                "--name", "record_check_in", "--input", json.dumps({"person_id": "t02", "comfort": 4, "note": note}),
                *options,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "check_in_recorded" in done.stdout
            history = await dev_client.get_workflow_handle(open_engagement).fetch_history()
            wire = b"".join(event.SerializeToString() for event in history.events)
            assert (note.encode() in wire) == (not options), "in clear only without the codec server"
    finally:
        server.shutdown()
        server.server_close()
