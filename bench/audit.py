"""Benchmark the auditor's whole-log reads, replay and verify, against raw reads of the same rows.

    python -m bench.audit [--events N] [--rounds R] [--rebuild]

Builds (once; later runs reuse it) a log of at least ``--events`` events (default 1,000,000) in a
database of its own, and one of a tenth of that size (at least 10,000) for the memory comparison.
The log holds whole, valid engagements: each stream is a year of an example plan
(``examples/housing-tenant-governance.yaml`` or ``mental-health-lived-experience.yaml``) played by the
domain tests' scripted people with its own seed: it begins with ``engagement_started`` holding the plan,
then check-ins, contributions, trainings, sessions, votes, gate decisions, holds, payments, measurements,
up to ``engagement_completed``, about 1,400 events per engagement. Engagements are appended in chunks
of 50 to 300 events, many at a time, through ``EventLog.append``, so the streams are interleaved in the
log as concurrent engagements are. A sample of streams is read back and folded before measuring.

Then, in rounds, on the same rows, each measurement in a fresh subprocess that reports its events per
second and its peak resident memory (VmHWM):

- ``raw_eps``: the fastest plain read of the replay's rows and columns in its order, nothing decoded:
  the better of keyset pages exactly as the replay reads them, and one query streamed in binary chunks
  (libpq's chunked rows mode, which PostgreSQL plans as a parallel scan and sort);
- ``replay_eps``: ``application.audit.replay.replay_timelines`` of every engagement (read, decode from
  the hashed bytes, validate, fold, describe); ``replay_ratio`` = replay / raw;
- ``verify_raw_eps``: the fastest plain read of (position, entry, leaf_hash, chain_hash) in position
  order, nothing checked: the better of keyset pages of 20,000 and one query streamed in chunks;
- ``verify_eps``: ``eventlog.verify_database`` of the whole log, on every core (``eventlog.parallel``);
  ``verify_ratio`` = verify / raw; ``verify_one_process_eps``: the same in one process, one pass.
  (Peak memory is the measuring process's: verify's worker processes each hold one range's rows.)

Peak memory of replay and verify is measured on both logs (100k and 1M by default) to show it stays
flat as the log grows. Uses ``COPRODUCE_DATABASE_URL`` when set (an administrator URL: it creates the
databases ``bench_audit_<N>`` there and keeps them); otherwise an embedded PostgreSQL (fsync off: only
the build writes) in ``<tmp>/coproduce-bench-audit``, kept between runs; delete the folder to free the
disk space (about 2.4 GB at 1M events). The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

MARKER = "bench.audit v1"
ACTOR_FIELDS = (
    "person_id", "recorded_by", "started_by", "decided_by", "overridden_by", "amended_by",
    "paused_by", "resumed_by", "widened_by", "requested_by", "completed_by",
)  # fmt: skip
TEMPLATES = 16  # distinct simulated engagements; streams reuse them with their own ids, times kept
ACTIVE = 48  # engagements being appended at once (interleaved in the log)
APPENDERS = 3  # concurrent append calls (the log serialises them; this overlaps encoding and insert)

RAW_REPLAY_QUERY = (
    "SELECT stream_id, stream_version, position, recorded_at, entry FROM eventlog.audit_events "
    "ORDER BY stream_id, stream_version"
)
RAW_VERIFY_QUERY = (
    "SELECT position, entry, leaf_hash, chain_hash FROM eventlog.audit_events "
    "WHERE position > %s ORDER BY position LIMIT %s"
)
RAW_VERIFY_ALL = "SELECT position, entry, leaf_hash, chain_hash FROM eventlog.audit_events ORDER BY position"


# -- building the log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateEvent:
    type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime
    actor: str


def templates(count: int) -> list[list[TemplateEvent]]:
    """``count`` simulated engagements (both example plans, one seed each), as records to append."""
    from domain.events import event_to_record
    from domain.plan import plan_from_yaml
    from tests.domain.plans import EXAMPLE_FILES, example_yaml
    from tests.domain.scenario import scripted_history

    plans = [plan_from_yaml(example_yaml(name), name) for name in EXAMPLE_FILES]
    result = []
    for seed in range(count):
        history = []
        for event in scripted_history(plans[seed % len(plans)], seed):
            kind, version, payload = event_to_record(event)
            actor = next((payload[f] for f in ACTOR_FIELDS if payload.get(f)), "coproduce")
            history.append(TemplateEvent(kind, version, payload, event.occurred_at, actor))
        result.append(history)
    return result


async def build(url: str, events: int) -> tuple[int, int]:
    """Append whole engagements until the log holds at least ``events``; returns (events, streams)."""
    from eventlog import EventLog, NewEvent, migrate

    await migrate(url)
    histories = templates(TEMPLATES)
    rng = random.Random(events)
    log = await EventLog.open(url, min_size=APPENDERS, max_size=APPENDERS)
    queue: deque[tuple[str, list[TemplateEvent], int]] = deque()
    planned = streams = 0

    def next_stream() -> None:
        nonlocal planned, streams
        history = histories[streams % len(histories)]
        stream_id = f"bench-{streams:06d}-{uuid.uuid4().hex[:8]}"
        streams += 1
        planned += len(history)
        queue.append((stream_id, history, 0))

    while len(queue) < ACTIVE and planned < events:
        next_stream()
    written = 0
    started = time.perf_counter()

    async def appender() -> None:
        nonlocal written
        while queue:
            stream_id, history, done = queue.popleft()
            run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, stream_id))
            chunk = history[done : done + rng.randint(50, 300)]
            batch = [
                NewEvent(
                    type=t.type,
                    schema_version=t.schema_version,
                    payload={**t.payload, "engagement_id": stream_id} if done == 0 and i == 0 else t.payload,
                    occurred_at=t.occurred_at,
                    actor=t.actor,
                    causation_id=f"{stream_id}:{done + i + 1}",
                    correlation_id=stream_id,
                    metadata={"workflow_id": stream_id, "workflow_run_id": run_id},
                )
                for i, t in enumerate(chunk)
            ]
            await log.append(stream_id, batch, expected_version=done)
            written += len(batch)
            if done + len(chunk) < len(history):
                queue.append((stream_id, history, done + len(chunk)))
            elif planned < events:
                next_stream()
            if written // 100_000 != (written - len(batch)) // 100_000:
                rate = written / (time.perf_counter() - started)
                print(f"    {written:>9,} events appended ({rate:,.0f}/s)", flush=True)

    try:
        await asyncio.gather(*(appender() for _ in range(APPENDERS)))
    finally:
        await log.close()
    return written, streams


async def check_sample(url: str, count: int = 4) -> None:
    """Read a few streams back the ordinary way and fold them: each must be a whole, valid engagement."""
    from application.audit.history import decode, state_as_of
    from eventlog import EventLog

    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (
            await conn.execute(
                "SELECT stream_id FROM eventlog.audit_streams ORDER BY stream_id LIMIT %s", (count,)
            )
        ).fetchall()
    log = await EventLog.open(url, role=None, min_size=1, max_size=1)
    try:
        for (stream_id,) in rows:
            state = state_as_of(decode(await log.read_stream(stream_id)))
            if state.status != "completed":
                raise SystemExit(f"sample stream {stream_id} folds to status {state.status!r}, not completed")
    finally:
        await log.close()


def database_name(events: int) -> str:
    return f"bench_audit_{events}"


async def ensure_log(admin_url: str, events: int, rebuild: bool) -> tuple[str, int, int, bool]:
    """The URL of a built log of ``events``: reused when a complete one exists, else (re)built.

    Returns (url, events, streams, reused).
    """
    from workers.database import create_database, url_for_database  # not in the measured children

    name = database_name(events)
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as admin:
        row = await (
            await admin.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
            )
        ).fetchone()
    comment = row[0] if row else None
    if comment and comment.startswith(MARKER + " ") and not rebuild:
        _, written, streams = comment.rsplit(" ", 2)
        url = url_for_database(admin_url, name)
        from eventlog import migrate

        await migrate(url)  # a log built before a migration (row security, 0004) is measured with it
        return url, int(written), int(streams), True
    url = await asyncio.to_thread(create_database, admin_url, name, replace=True)
    print(f"  building {name}: at least {events:,} events ...", flush=True)
    started = time.perf_counter()
    written, streams = await build(url, events)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE eventlog.events")
    await check_sample(url)
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as admin:
        await admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(f"{MARKER} {written} {streams}")
            )
        )
    print(
        f"  built {name}: {written:,} events in {streams:,} engagements in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return url, written, streams, False


# -- the measurements, each run in a fresh subprocess ------------------------------------------------


def raw_replay_pages(url: str) -> int:
    """Baseline for replay: its rows and columns in its order, read exactly as it reads them (keyset
    pages of 5,000 on the (stream id, stream version) index, binary, one snapshot), nothing decoded."""
    from application.audit.replay import read_pages

    count = 0
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for rows in read_pages(conn, 5000):
            count += len(rows)
    return count


def raw_replay_stream(url: str) -> int:
    """Baseline for replay: the same rows in the same order in one query, streamed in binary chunks of
    5,000 rows (libpq's chunked rows mode; the planner's choice of plan), nothing decoded."""
    count = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in conn.cursor(binary=True).stream(RAW_REPLAY_QUERY, size=5000):
            count += 1
    return count


def replay(url: str) -> int:
    from application.audit.replay import replay_timelines

    count = 0
    for _ in replay_timelines(url):
        count += 1
    return count


def raw_verify_pages(url: str) -> int:
    """Baseline for verify: (position, entry, leaf_hash, chain_hash) in position order, binary, keyset
    pages of 20,000, one snapshot, nothing checked (the read ``verify_database`` used to do)."""
    count = position = 0
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        while rows := conn.cursor(binary=True).execute(RAW_VERIFY_QUERY, (position, 20_000)).fetchall():
            count += len(rows)
            position = rows[-1][0]
    return count


def raw_verify_stream(url: str) -> int:
    """Baseline for verify: the same rows in one query, streamed in binary chunks of 20,000 rows (the
    read ``verify_database`` does), nothing checked."""
    count = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in conn.cursor(binary=True).stream(RAW_VERIFY_ALL, size=20_000):
            count += 1
    return count


def verify(url: str, processes: int | None = None) -> int:
    """``verify_database`` as an auditor runs it: on every core (``eventlog.parallel``)."""
    from eventlog import verify_database

    report = asyncio.run(verify_database(url, processes=processes))
    if not report.ok:
        raise SystemExit(f"verify failed: {report.summary()}")
    return report.size


def verify_one_process(url: str) -> int:
    """``verify_database`` in one process, reading the log in one pass: how far one core goes."""
    return verify(url, processes=1)


MEASURES: dict[str, Callable[[str], int]] = {
    "raw_pages": raw_replay_pages,
    "raw_stream": raw_replay_stream,
    "replay": replay,
    "verify_raw_pages": raw_verify_pages,
    "verify_raw_stream": raw_verify_stream,
    "verify": verify,
    "verify_one_process": verify_one_process,
}


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent
    across fork and exec), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: may include the parent


def child(kind: str, url: str) -> None:
    """Run one measurement and print its figures as JSON (the parent reads the last line)."""
    # Import everything outside the timed part, as a long-running command would have.
    import application.audit.replay  # noqa: F401
    import eventlog  # noqa: F401

    start_mib = peak_rss_mib()
    cpu, started = time.process_time(), time.perf_counter()
    count = MEASURES[kind](url)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures = {
        "events": count,
        "seconds": seconds,
        "cpu": cpu,
        "start_mib": start_mib,
        "peak_mib": peak_rss_mib(),
    }
    print(json.dumps(figures))


def measure(kind: str, url: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.audit", "--child", kind, "--url", url],
        check=False,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    if result.returncode != 0:
        raise SystemExit(f"measuring {kind} failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["eps"] = figures["events"] / figures["seconds"]
    return figures


def replay_plan(url: str) -> str:
    """The plan PostgreSQL uses for a page of the replay (it must walk the unique index, not sort)."""
    from application.audit.replay import REPLAY_QUERY

    with psycopg.connect(url) as conn:
        rows = conn.execute("EXPLAIN " + REPLAY_QUERY, ("", 0, 5000)).fetchall()
    nodes = [row[0].strip().split("  (")[0].lstrip("-> ") for row in rows]
    # the scan of the events table and its conditions (row security adds an InitPlan and a filter above)
    return " / ".join(
        n for n in nodes if n.startswith(("Limit", "Index Cond", "Filter")) or " on events" in n
    )


# -- the run ---------------------------------------------------------------------------------------


def mib_key(size: int) -> str:
    return {1_000_000: "1m", 100_000: "100k"}.get(size, str(size))


async def run(admin_url: str, args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted({max(args.events // 10, 10_000), args.events})
    logs = {}
    for size in sizes:
        url, written, streams, reused = await ensure_log(admin_url, size, args.rebuild)
        if reused:
            print(
                f"  reusing {database_name(size)}: {written:,} events in {streams:,} engagements, built before"
            )
        logs[size] = (url, written, streams)
    url, written, streams = logs[args.events]
    plan = replay_plan(url)
    print(f"  replay's page query plan: {plan}")
    if "events_stream_id_stream_version_key" not in plan:
        raise SystemExit("the replay's query does not use the (stream_id, stream_version) index")

    best: dict[str, dict[str, float]] = {}
    for round_no in range(1, args.rounds + 1):
        for kind in MEASURES:
            figures = measure(kind, url)
            if figures["events"] != written:
                raise SystemExit(f"{kind} read {figures['events']:,} events, the log holds {written:,}")
            print(
                f"  round {round_no}: {kind:17} {figures['eps']:>10,.0f} events/s {figures['seconds']:7.2f} s"
                f" (this process's CPU {figures['cpu']:6.2f} s)   peak memory {figures['peak_mib']:6.1f} MiB",
                flush=True,
            )
            if kind not in best or figures["eps"] > best[kind]["eps"]:
                best[kind] = figures

    memory: dict[str, dict[int, dict[str, float]]] = {"replay": {}, "verify": {}}
    for size in sizes:
        for kind in memory:
            memory[kind][size] = best[kind] if size == args.events else measure(kind, logs[size][0])

    raw = max(("raw_pages", "raw_stream"), key=lambda k: best[k]["eps"])
    verify_raw = max(("verify_raw_pages", "verify_raw_stream"), key=lambda k: best[k]["eps"])
    figures: dict[str, Any] = {
        "events": written,
        "engagements": streams,
        "raw_eps": round(best[raw]["eps"]),
        "raw_read": raw,
        "replay_eps": round(best["replay"]["eps"]),
        "replay_ratio": round(best["replay"]["eps"] / best[raw]["eps"], 3),
        "verify_raw_eps": round(best[verify_raw]["eps"]),
        "verify_raw_read": verify_raw,
        "verify_eps": round(best["verify"]["eps"]),
        "verify_ratio": round(best["verify"]["eps"] / best[verify_raw]["eps"], 3),
        "verify_one_process_eps": round(best["verify_one_process"]["eps"]),
        "verify_one_process_ratio": round(best["verify_one_process"]["eps"] / best[verify_raw]["eps"], 3),
    }
    for kind in ("raw_pages", "raw_stream", "verify_raw_pages", "verify_raw_stream"):
        figures[f"{kind}_eps"] = round(best[kind]["eps"])
    for kind in MEASURES:  # the measuring process's own CPU time in its fastest run (server excluded)
        figures[f"{kind}_cpu_s"] = round(best[kind]["cpu"], 2)
    for kind in memory:
        for size in sizes:
            figures[f"{kind}_peak_mib_{mib_key(size)}"] = round(memory[kind][size]["peak_mib"], 1)
    figures["start_mib"] = round(best["replay"]["start_mib"], 1)
    figures["memory_sizes"] = sizes
    figures["memory_events"] = [logs[size][1] for size in sizes]
    figures["memory_measure"] = "VmHWM (peak RSS) of a fresh subprocess per measurement"
    figures["rounds"] = args.rounds
    figures["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="log size (at least)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the four measurements (best kept)")
    parser.add_argument("--rebuild", action="store_true", help="build the logs again even if they exist")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "coproduce-bench-audit",
        help="where the embedded PostgreSQL keeps the logs between runs",
    )
    parser.add_argument("--child", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.url)
        return

    started, load_before = time.perf_counter(), os.getloadavg()[0]
    admin_url = os.environ.get("COPRODUCE_DATABASE_URL")
    server = None
    if not admin_url:
        from workers.embedded_postgres import EmbeddedPostgres

        args.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(args.data_dir, 0o755)
        server = EmbeddedPostgres(args.data_dir / "pg", fsync=False)
        server.ensure_started()
        admin_url = server.url()
    print(
        f"audit benchmark: replay and verify of the whole log (server: {'embedded, ' + str(args.data_dir) if server else 'COPRODUCE_DATABASE_URL'})"
    )
    try:
        figures = asyncio.run(run(admin_url, args))
    finally:
        if server is not None:
            server.stop()
    figures["seconds_total"] = round(time.perf_counter() - started)
    # Other work on the machine slows both sides unevenly: say how busy it was (1-minute load average).
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"results ({figures['machine']}; best of {args.rounds} rounds; events/s):")
    print(f"  log: {figures['events']:,} events in {figures['engagements']:,} engagements")
    print(
        f"  replay every timeline : ours {figures['replay_eps']:>9,}   raw read {figures['raw_eps']:>9,}"
        f" ({figures['raw_read']})   replay_ratio {figures['replay_ratio']}  (target >= 0.3)"
    )
    print(
        f"  verify the whole log  : ours {figures['verify_eps']:>9,}   raw read {figures['verify_raw_eps']:>9,}"
        f" ({figures['verify_raw_read']})   verify_ratio {figures['verify_ratio']}  (target >= 0.8)"
    )
    for kind in ("replay", "verify"):
        peaks = ", ".join(
            f"{figures[f'{kind}_peak_mib_{mib_key(size)}']} MiB at {events:,} events"
            for size, events in zip(figures["memory_sizes"], figures["memory_events"], strict=True)
        )
        print(f"  {kind} peak memory (VmHWM): {peaks} (after imports: {figures['start_mib']} MiB)")
    print(
        f"  total time: {figures['seconds_total']} s; load average before and after: {figures['load_average']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
