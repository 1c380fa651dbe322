"""Benchmark the event log against raw psycopg doing the same writes and reads, in the same run.

    python -m bench.eventlog [--single N] [--batches N] [--verify-size N] [--rounds N]

Uses ``COPRODUCE_DATABASE_URL`` when set (an administrator URL: it creates and drops a scratch
database), otherwise starts an embedded PostgreSQL with default durability (fsync on) in a temporary
folder. Each figure is the best of ``--rounds`` interleaved rounds, so ours and raw see the same
machine state. The baseline writes the same rows (same columns, same indexes, JSON serialised the
usual way) into a plain table, with none of our machinery: no canonical JSON, no lock, no hash chain,
no idempotency or version check.

The last line printed is one JSON object with the ratios (ours / raw, events per second):
``append_single_ratio``, ``append_batch_ratio``, ``verify_ratio``, ``concurrent_writers_ratio`` (16
writers at once, one event per append, each its own stream, against 16 raw autocommit ``INSERT``
writers on 16 connections of the same server), and the single writer's median latency per append
(``append_single_p50_us_ours`` / ``_raw``): what one engagement waits for. For reference it also runs
the 16 writers each on a pool connection of its own, one transaction per append, without group commit
(``concurrent_writers_ungrouped_eps``: how ``EventLog.append`` worked before issue 20), and one writer
alternating between the two paths (``append_single_p50_us_alternating_*``): the committer's own cost.

``verify_ratio`` is ``verify_database`` of the whole log (on every core, ``eventlog.parallel``) against
the read it would do in one process with no checking at all: one query streamed in binary chunks of
20,000 rows, on one connection. ``verify_eps_by_processes`` is the same verification on 1, 2 and 4
processes: how it scales with cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from eventlog import EventLog, NewEvent, migrate, verify_database
from eventlog.store import encode_batch
from workers.database import async_scratch_database

RAW_TABLE = """
CREATE TABLE raw_events (
    position bigint PRIMARY KEY, event_id uuid NOT NULL UNIQUE, stream_id text NOT NULL,
    stream_version bigint NOT NULL, event_type text NOT NULL, schema_version integer NOT NULL,
    occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor text, causation_id text, correlation_id text, metadata jsonb NOT NULL, payload jsonb NOT NULL,
    entry bytea NOT NULL, leaf_hash bytea NOT NULL, chain_hash bytea NOT NULL,
    UNIQUE (stream_id, stream_version));
CREATE INDEX ON raw_events (event_type, position);
CREATE INDEX ON raw_events (correlation_id) WHERE correlation_id IS NOT NULL;
"""
RAW_INSERT = (
    "INSERT INTO raw_events (position, event_id, stream_id, stream_version, event_type, schema_version,"
    " occurred_at, actor, causation_id, correlation_id, metadata, payload, entry, leaf_hash, chain_hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
RAW_COPY = (
    "COPY raw_events (position, event_id, stream_id, stream_version, event_type, schema_version,"
    " occurred_at, actor, causation_id, correlation_id, metadata, payload, entry, leaf_hash, chain_hash)"
    " FROM STDIN"
)
DUMMY_HASH = bytes(32)


def make_event(i: int) -> NewEvent:
    """A realistic decision-log event: a vote with a reason, about 450 bytes of canonical JSON."""
    return NewEvent(
        type="vote_cast",
        payload={
            "gate": f"phase-{i % 9}",
            "person_id": f"p-{i % 40:03d}",
            "constituency": ["service_user", "carer", "decision_maker", "staff"][i % 4],
            "choice": ["approve", "object", "abstain"][i % 3],
            "reason": "We have seen the training work and the group is ready to widen to more tenants.",
            "authorisation": {"module": "shared-decision-making", "valid_until": "2027-06-30"},
            "round": i % 3 + 1,
        },
        actor=f"p-{i % 40:03d}",
        causation_id=f"update-{i}",
        correlation_id="engagement-bench",
        occurred_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )


class RawWriter:
    """The baseline: the same rows into a plain table with plain psycopg."""

    def __init__(self) -> None:
        self.position = 0
        self.versions: dict[str, int] = {}

    def row(self, stream_id: str, event: NewEvent) -> tuple[Any, ...]:
        self.position += 1
        version = self.versions.get(stream_id, 0) + 1
        self.versions[stream_id] = version
        meta = {
            "actor": event.actor,
            "causation_id": event.causation_id,
            "correlation_id": event.correlation_id,
        }
        entry = json.dumps({"type": event.type, "payload": event.payload, "metadata": meta}).encode()
        return (
            self.position, event.event_id, stream_id, version, event.type, event.schema_version,
            event.occurred_at, event.actor, event.causation_id, event.correlation_id, Jsonb(meta),
            Jsonb(dict(event.payload)), entry, DUMMY_HASH, DUMMY_HASH,
        )  # fmt: skip


async def timed(fn: Callable[[], Awaitable[int]]) -> float:
    """Events per second of one call of ``fn`` (which returns how many events it handled)."""
    start = time.perf_counter()
    count = await fn()
    return count / (time.perf_counter() - start)


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    await migrate(url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
        await admin.execute(RAW_TABLE)
    log = await EventLog.open(url, min_size=1, max_size=16)
    raw_conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    raw_writers = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(args.writers)]
    raw = RawWriter()
    counter = iter(range(10**9))
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "single_ours", "single_raw", "batch_ours", "batch_raw", "concurrent_ours", "concurrent_raw",
            "p50_ours", "p50_raw", "concurrent_ungrouped", "p50_alternating_ours", "p50_alternating_ungrouped",
        )
    }  # fmt: skip

    async def ours_single() -> int:
        stream = f"single-{uuid.uuid4()}"
        latencies = []
        for version in range(args.single):
            event = make_event(next(counter))
            start = time.perf_counter()
            await log.append(stream, [event], expected_version=version)
            latencies.append(time.perf_counter() - start)
        results["p50_ours"].append(statistics.median(latencies))
        return args.single

    async def raw_single() -> int:
        stream = f"raw-single-{uuid.uuid4()}"
        latencies = []
        for _ in range(args.single):
            row = raw.row(stream, make_event(next(counter)))
            start = time.perf_counter()
            await raw_conn.execute(RAW_INSERT, row)
            latencies.append(time.perf_counter() - start)
        results["p50_raw"].append(statistics.median(latencies))
        return args.single

    async def alternating_single() -> int:
        """One writer, its appends alternately through EventLog.append and straight on a pool
        connection (as before group commit): what the committer adds to a lone append's latency."""
        stream = f"alternating-{uuid.uuid4()}"
        ours, ungrouped = [], []
        for version in range(args.single):
            event = make_event(next(counter))
            start = time.perf_counter()
            if version % 2:
                async with log.pool.connection() as conn:
                    await log.append_in(conn, stream, [event], expected_version=version)
                ungrouped.append(time.perf_counter() - start)
            else:
                await log.append(stream, [event], expected_version=version)
                ours.append(time.perf_counter() - start)
        results["p50_alternating_ours"].append(statistics.median(ours))
        results["p50_alternating_ungrouped"].append(statistics.median(ungrouped))
        return args.single

    # Many writers at once (many engagements on one process): each its own stream, one event per append.
    async def ours_writer(n: int) -> int:
        stream = f"writer-{uuid.uuid4()}"
        for version in range(n):
            await log.append(stream, [make_event(next(counter))], expected_version=version)
        return n

    async def ungrouped_writer(n: int) -> int:  # each append its own transaction on its own connection
        stream = f"ungrouped-writer-{uuid.uuid4()}"
        for version in range(n):
            event = make_event(next(counter))
            async with log.pool.connection() as conn:
                await log.append_in(conn, stream, [event], expected_version=version)
        return n

    async def raw_writer(conn: psycopg.AsyncConnection[Any], n: int) -> int:
        stream = f"raw-writer-{uuid.uuid4()}"
        for _ in range(n):
            await conn.execute(RAW_INSERT, raw.row(stream, make_event(next(counter))))
        return n

    async def ours_concurrent() -> int:
        counts = await asyncio.gather(*(ours_writer(args.concurrent_events) for _ in range(args.writers)))
        return sum(counts)

    async def ungrouped_concurrent() -> int:
        counts = await asyncio.gather(
            *(ungrouped_writer(args.concurrent_events) for _ in range(args.writers))
        )
        return sum(counts)

    async def raw_concurrent() -> int:
        counts = await asyncio.gather(*(raw_writer(c, args.concurrent_events) for c in raw_writers))
        return sum(counts)

    async def ours_batch() -> int:
        stream = f"batch-{uuid.uuid4()}"
        for b in range(args.batches):
            events = [make_event(next(counter)) for _ in range(1000)]
            await log.append(stream, events, expected_version=b * 1000)
        return args.batches * 1000

    async def raw_batch() -> int:
        stream = f"raw-batch-{uuid.uuid4()}"
        for _ in range(args.batches):
            rows = [raw.row(stream, make_event(next(counter))) for _ in range(1000)]
            async with raw_conn.transaction(), raw_conn.cursor() as cur:
                await cur.executemany(RAW_INSERT, rows)
        return args.batches * 1000

    async def raw_copy() -> int:
        stream = f"raw-copy-{uuid.uuid4()}"
        rows = [raw.row(stream, make_event(next(counter))) for _ in range(args.batches * 1000)]
        async with raw_conn.transaction(), raw_conn.cursor() as cur, cur.copy(RAW_COPY) as copy:
            for row in rows:
                await copy.write_row(row)
        return len(rows)

    for _ in range(args.rounds):
        results["single_raw"].append(await timed(raw_single))
        results["single_ours"].append(await timed(ours_single))
        await alternating_single()
        results["batch_raw"].append(await timed(raw_batch))
        results["batch_ours"].append(await timed(ours_batch))
        results["concurrent_raw"].append(await timed(raw_concurrent))
        results["concurrent_ours"].append(await timed(ours_concurrent))
        results["concurrent_ungrouped"].append(await timed(ungrouped_concurrent))
    copy_eps = await timed(raw_copy)

    # Fill the log to the verify size, then verify it whole vs a raw streamed SELECT of the same rows.
    size, _ = await log.head()
    stream = f"fill-{uuid.uuid4()}"
    version = 0
    while size < args.verify_size:
        n = min(1000, args.verify_size - size)
        await log.append(stream, [make_event(next(counter)) for _ in range(n)], expected_version=version)
        version += n
        size += n

    async def ours_verify(processes: int | None = None) -> int:
        report = await verify_database(url, processes=processes)
        assert report.ok, report.summary()
        return report.size

    def raw_stream() -> int:
        """The read ``verify_database`` does in one process: one query, streamed in binary chunks."""
        count = 0
        with psycopg.Connection.connect(url, autocommit=True) as conn:
            for _ in conn.cursor(binary=True).stream(
                "SELECT position, entry, leaf_hash, chain_hash FROM eventlog.audit_events ORDER BY position",
                size=20_000,
            ):
                count += 1
        return count

    async def raw_select() -> int:
        return await asyncio.to_thread(raw_stream)

    verify_ours, verify_raw = [], []
    verify_by_processes: dict[int, list[float]] = {n: [] for n in (1, 2, 4)}
    for _ in range(args.rounds):
        verify_raw.append(await timed(raw_select))
        verify_ours.append(await timed(ours_verify))
        for processes, figures in verify_by_processes.items():
            figures.append(await timed(lambda n=processes: ours_verify(n)))  # type: ignore[misc]

    entry_bytes = len(encode_batch("s", [make_event(0)])[0])
    await raw_conn.close()
    for conn in raw_writers:
        await conn.close()
    await log.close()

    best = {k: max(v) for k, v in results.items() if not k.startswith("p50")}
    p50 = {k: min(v) for k, v in results.items() if k.startswith("p50")}
    p50_ours, p50_raw = p50["p50_ours"], p50["p50_raw"]
    return {
        "append_single_ours_eps": round(best["single_ours"]),
        "append_single_raw_eps": round(best["single_raw"]),
        "append_single_ratio": round(best["single_ours"] / best["single_raw"], 3),
        "append_single_p50_us_ours": round(p50_ours * 1e6),
        "append_single_p50_us_raw": round(p50_raw * 1e6),
        "append_single_p50_ratio": round(p50_ours / p50_raw, 3),
        "append_single_p50_us_alternating_ours": round(p50["p50_alternating_ours"] * 1e6),
        "append_single_p50_us_alternating_ungrouped": round(p50["p50_alternating_ungrouped"] * 1e6),
        "append_batch_ours_eps": round(best["batch_ours"]),
        "append_batch_raw_eps": round(best["batch_raw"]),
        "append_batch_ratio": round(best["batch_ours"] / best["batch_raw"], 3),
        "raw_copy_eps": round(copy_eps),
        "verify_ours_eps": round(max(verify_ours)),
        "verify_raw_eps": round(max(verify_raw)),
        "verify_ratio": round(max(verify_ours) / max(verify_raw), 3),
        "verify_eps_by_processes": {n: round(max(v)) for n, v in verify_by_processes.items()},
        "verify_size": args.verify_size,
        "concurrent_writers": args.writers,
        "concurrent_writers_eps": round(best["concurrent_ours"]),
        "concurrent_writers_raw_eps": round(best["concurrent_raw"]),
        "concurrent_writers_ratio": round(best["concurrent_ours"] / best["concurrent_raw"], 3),
        "concurrent_writers_ungrouped_eps": round(best["concurrent_ungrouped"]),
        "group_commit_speedup": round(best["concurrent_ours"] / best["concurrent_ungrouped"], 3),
        "largest_group": log.committer.stats.largest_group,
        "entry_bytes": entry_bytes,
        "rounds": args.rounds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--single", type=int, default=1500, help="events per single-append round")
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 per batch round")
    parser.add_argument("--verify-size", type=int, default=100_000, help="log size for the verify figure")
    parser.add_argument("--concurrent-events", type=int, default=200, help="appends per concurrent writer")
    parser.add_argument("--writers", type=int, default=16, help="concurrent writers (ours and raw alike)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

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

    print(f"event log benchmark ({figures['machine']}; best of {figures['rounds']} rounds; events/s)")
    print(
        f"  append, 1 event per transaction : ours {figures['append_single_ours_eps']:>8,}"
        f"   raw INSERT     {figures['append_single_raw_eps']:>8,}   ratio {figures['append_single_ratio']}"
    )
    print(
        f"  append, batches of 1,000        : ours {figures['append_batch_ours_eps']:>8,}"
        f"   raw executemany {figures['append_batch_raw_eps']:>7,}   ratio {figures['append_batch_ratio']}"
    )
    print(
        f"  raw COPY (reference only)       :                  raw COPY       {figures['raw_copy_eps']:>8,}"
    )
    print(
        f"  verify {figures['verify_size']:,} events           : ours {figures['verify_ours_eps']:>8,}"
        f"   raw SELECT     {figures['verify_raw_eps']:>8,}   ratio {figures['verify_ratio']}"
    )
    print(
        f"  append, 1 event, median latency : ours {figures['append_single_p50_us_ours']:>6,} µs"
        f"   raw INSERT    {figures['append_single_p50_us_raw']:>6,} µs   ratio {figures['append_single_p50_ratio']}"
    )
    print(
        f"    alternating with no committer : ours {figures['append_single_p50_us_alternating_ours']:>6,} µs"
        f"   ungrouped     {figures['append_single_p50_us_alternating_ungrouped']:>6,} µs"
    )
    print(
        f"  {figures['concurrent_writers']} concurrent writers           : ours {figures['concurrent_writers_eps']:>8,}"
        f"   raw INSERTs    {figures['concurrent_writers_raw_eps']:>8,}   ratio {figures['concurrent_writers_ratio']}"
    )
    print(
        f"    the same without group commit : ours {figures['concurrent_writers_ungrouped_eps']:>8,}"
        f"   (group commit x{figures['group_commit_speedup']}; largest group {figures['largest_group']})"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
