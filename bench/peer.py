"""Benchmark the event log against the best-known Python peer, pyeventsourcing's ``eventsourcing``
(its PostgreSQL application recorder), on the same server, in the same run.

    pip install -e '.[bench]'          # eventsourcing, never a runtime dependency
    python -m bench.peer [--single N] [--batches N] [--read-size N] [--rounds N]

Uses ``COPRODUCE_DATABASE_URL`` when set (an administrator URL: it creates and drops scratch
databases), otherwise starts an embedded PostgreSQL with fsync on in a temporary folder. Both sides get
a database of their own on that server and write the same payload (a vote with its reason, as JSON
bytes). Each figure is the best of ``--rounds`` interleaved rounds, so both see the same machine state.

- single: one event per append, one after another (``EventLog.append`` / ``insert_events``);
- batch: 1,000 events of one stream in one append;
- concurrent: 16 writers at once, one event per append, each its own stream (ours: asyncio tasks
  sharing group commits; theirs: 16 threads, one pooled connection each, as its recorder is
  synchronous);
- read: every event of a ``--read-size`` log, in pages of 1,000, decoded (ours: ``read_all`` gives
  events whose entry orjson decodes when the payload is read; theirs: ``select_notifications`` and
  ``json.loads`` of each event's state, as its JSON transcoder does). ``peer_read_same_decoder_ratio``
  repeats theirs with orjson too, so that figure compares the stores rather than the JSON libraries.

The two do not promise the same things. Ours: gapless positions, idempotent retries by event id, a
version check per stream, a hash chain and Merkle checkpoints an auditor verifies, NOTIFY after commit.
Theirs: a version check per originator, positions from a sequence (a rolled-back insert leaves a gap),
a retried insert is a conflict rather than the same answer, no tamper evidence. The figures measure
what each costs for the work a caller sees.

The last line printed is one JSON object: events per second for each side and
``peer_single_ratio``, ``peer_batch_ratio``, ``peer_concurrent_ratio``, ``peer_read_ratio`` (ours /
theirs: above 1 is faster than the peer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import orjson
from psycopg.conninfo import conninfo_to_dict

from bench.eventlog import make_event
from eventlog import EventLog, migrate
from workers.database import async_scratch_database

TOPIC = "coproduce.bench:VoteCast"


def _peer_recorder(url: str, pool_size: int) -> Any:
    """eventsourcing's PostgreSQL application recorder on the database at ``url``, its table made."""
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    parts = conninfo_to_dict(url)  # a URL or key=value connection string alike
    datastore = PostgresDatastore(
        dbname=str(parts["dbname"]), host=str(parts.get("host", "127.0.0.1")), port=str(parts.get("port", 5432)),
        user=str(parts.get("user", "postgres")), password=str(parts.get("password", "")), pool_size=pool_size,
    )  # fmt: skip
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()
    return recorder


def _stored(originator: uuid.UUID, version: int, state: bytes) -> Any:
    from eventsourcing.persistence import StoredEvent

    return StoredEvent(originator_id=originator, originator_version=version, topic=TOPIC, state=state)


def _state(i: int) -> bytes:
    return json.dumps(dict(make_event(i).payload)).encode()


async def run(ours_url: str, theirs_url: str, args: argparse.Namespace) -> dict[str, Any]:
    await migrate(ours_url)
    log = await EventLog.open(ours_url, min_size=1, max_size=args.writers)
    recorder = _peer_recorder(theirs_url, args.writers)
    threads = ThreadPoolExecutor(max_workers=args.writers)
    loop = asyncio.get_running_loop()
    counter = iter(range(10**9))
    best: dict[str, float] = {}

    def keep(name: str, events: int, seconds: float) -> None:
        best[name] = max(best.get(name, 0.0), events / seconds)

    async def timed(name: str, events: int, work: Any) -> None:
        start = time.perf_counter()
        await work
        keep(name, events, time.perf_counter() - start)

    async def ours_single() -> None:
        stream = f"single-{uuid.uuid4()}"
        for version in range(args.single):
            await log.append(stream, [make_event(next(counter))], expected_version=version)

    def theirs_single() -> None:
        for _ in range(args.single):
            recorder.insert_events([_stored(uuid.uuid4(), 1, _state(next(counter)))])

    async def ours_batches() -> None:
        for _ in range(args.batches):
            events = [make_event(next(counter)) for _ in range(1000)]
            await log.append(f"batch-{uuid.uuid4()}", events, expected_version=0)

    def theirs_batches() -> None:
        for _ in range(args.batches):
            originator = uuid.uuid4()
            recorder.insert_events([_stored(originator, v, _state(next(counter))) for v in range(1, 1001)])

    async def ours_concurrent() -> None:
        async def writer() -> None:
            stream = f"writer-{uuid.uuid4()}"
            for version in range(args.concurrent_events):
                await log.append(stream, [make_event(next(counter))], expected_version=version)

        await asyncio.gather(*(writer() for _ in range(args.writers)))

    def theirs_writer() -> None:
        originator = uuid.uuid4()
        for version in range(1, args.concurrent_events + 1):
            recorder.insert_events([_stored(originator, version, _state(next(counter)))])

    async def theirs_concurrent() -> None:
        await asyncio.gather(*(loop.run_in_executor(threads, theirs_writer) for _ in range(args.writers)))

    async def ours_read() -> int:
        count = 0
        async for batch in log.read_all(batch_size=1000):
            count += sum(1 for event in batch if event.payload)
        return count

    def theirs_read(decode: Any) -> int:
        count, start = 0, 1
        while True:
            page = recorder.select_notifications(start, 1000)
            if not page:
                return count
            count += sum(1 for n in page if decode(n.state))
            start = page[-1].id + 1

    try:
        for _ in range(args.rounds):
            await timed("single_ours", args.single, ours_single())
            await timed("single_theirs", args.single, loop.run_in_executor(threads, theirs_single))
            await timed("batch_ours", args.batches * 1000, ours_batches())
            await timed("batch_theirs", args.batches * 1000, loop.run_in_executor(threads, theirs_batches))
            concurrent = args.writers * args.concurrent_events
            await timed("concurrent_ours", concurrent, ours_concurrent())
            await timed("concurrent_theirs", concurrent, theirs_concurrent())
        # Both logs now hold the same number of events; fill them to the read size alike, then read.
        before = (await log.head())[0]
        while (written := (await log.head())[0]) < args.read_size:
            await log.append(
                f"fill-{uuid.uuid4()}",
                [make_event(next(counter)) for _ in range(min(1000, args.read_size - written))],
            )
        filled = before
        while filled < written:
            originator = uuid.uuid4()
            size = min(1000, written - filled)
            recorder.insert_events(
                [_stored(originator, v, _state(next(counter))) for v in range(1, size + 1)]
            )
            filled += size
        ours_count = theirs_count = 0
        for _ in range(args.rounds):
            start = time.perf_counter()
            ours_count = await ours_read()
            keep("read_ours", ours_count, time.perf_counter() - start)
            start = time.perf_counter()
            theirs_count = await loop.run_in_executor(threads, theirs_read, json.loads)
            keep("read_theirs", theirs_count, time.perf_counter() - start)
            start = time.perf_counter()
            await loop.run_in_executor(threads, theirs_read, orjson.loads)
            keep("read_orjson_theirs", theirs_count, time.perf_counter() - start)
    finally:
        threads.shutdown()
        await log.close()
        recorder.datastore.close()
    return {
        "benchmark": "peer",
        "peer": f"eventsourcing {package_version('eventsourcing')} (PostgresApplicationRecorder)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rounds": args.rounds,
        "read_events": {"ours": ours_count, "theirs": theirs_count},
        **{f"{name}_eps": round(value) for name, value in sorted(best.items())},
        **{
            f"peer_{name}_ratio": round(best[f"{name}_ours"] / best[f"{name}_theirs"], 3)
            for name in ("single", "batch", "concurrent", "read")
        },
        # the same read with both sides decoding JSON alike (orjson), so it compares the stores alone
        "peer_read_same_decoder_ratio": round(best["read_ours"] / best["read_orjson_theirs"], 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--single", type=int, default=1000, help="events per single-append round")
    parser.add_argument("--batches", type=int, default=10, help="batches of 1,000 per batch round")
    parser.add_argument("--concurrent-events", type=int, default=100, help="appends per concurrent writer")
    parser.add_argument("--writers", type=int, default=16, help="concurrent writers (both sides alike)")
    parser.add_argument("--read-size", type=int, default=100_000, help="events in each log when read")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import eventsourcing  # noqa: F401
    except ImportError:
        raise SystemExit("bench.peer needs eventsourcing: pip install -e '.[bench]'") from None

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
            async with (
                async_scratch_database(admin_url, prefix="bench") as ours_url,
                async_scratch_database(admin_url, prefix="peer") as theirs_url,
            ):
                figures = await run(ours_url, theirs_url, args)
        finally:
            if server is not None:
                server.stop()

    print(
        f"peer benchmark against {figures['peer']} ({figures['machine']}; best of {figures['rounds']}; events/s)"
    )
    for name in ("single", "batch", "concurrent", "read"):
        ours, theirs = figures[f"{name}_ours_eps"], figures[f"{name}_theirs_eps"]
        print(f"  {name:<11} ours {ours:>8,}  theirs {theirs:>8,}  ratio {figures[f'peer_{name}_ratio']:.2f}")
    same = figures["read_orjson_theirs_eps"]
    print(
        f"  read, theirs decoded by orjson too: {same:>8,}  ratio {figures['peer_read_same_decoder_ratio']:.2f}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
