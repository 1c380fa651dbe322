"""Benchmark: the facilitator's portfolio page with 1,000 engagements, against the raw query it rests on.

Run from the repository root: `python -m bench.portfolio [--engagements N] [--requests N]`.

It writes N engagements into a scratch event log (the small test plan, each cut at a different point
of a scripted quarter: sessions, trainings, check-ins, votes, holds), lets the ``portfolio``
subscription fold them into its read model, makes one facilitator account that belongs to every one
of them, and then measures, interleaved, in the same run:

- raw:  the page's one query (``application.portfolio.PAGE_QUERY``) on a psycopg connection, rows
  fetched, nothing else;
- ours: ``GET /portfolio`` over HTTP from the web app served by uvicorn: the session looked up, the same
  query, what is overdue or due this week worked out, and the whole table rendered as HTML.

The last line is JSON with p50 and p95 of each side and ``p95_ratio`` = ours / raw (target: at most 2).
Uses COPRODUCE_DATABASE_URL as an administrator's URL when set, else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from temporalio.client import Client

from application import portfolio
from application.identity.store import IdentityStore
from application.services import Services
from bench.web import free_port, percentile, serve
from coproduce.web.app import create_app
from domain.events import event_to_record
from domain.plan import plan_from_yaml
from eventlog import EventLog, NewEvent, Signer
from tests.domain.plans import SMALL_PLAN_YAML
from tests.domain.scenario import scripted_history
from workers.database import async_scratch_database, migrate_database


async def seed(url: str, signer: Signer, engagements: int) -> int:
    """Write ``engagements`` engagements, each a different length of one scripted quarter."""
    plan = plan_from_yaml(SMALL_PLAN_YAML, "small.yaml")
    history = scripted_history(plan, seed=7, days=90)
    written = 0
    log = await EventLog.open(url, signer=signer, min_size=1, max_size=4)
    try:
        for i in range(engagements):
            engagement_id = f"bench-{i:04d}"
            cut = 3 + (i * 37) % (len(history) - 3)
            batch = []
            for n, event in enumerate(history[:cut]):
                if n == 0:
                    event = event.model_copy(update={"engagement_id": engagement_id})
                kind, version, payload = event_to_record(event)
                batch.append(
                    NewEvent(
                        type=kind, payload=payload, schema_version=version, occurred_at=event.occurred_at
                    )
                )
            await log.append(engagement_id, batch, expected_version=0)
            written += len(batch)
    finally:
        await log.close()
    return written


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    await migrate_database(url)
    signer, key = Signer.generate("bench/portfolio"), os.urandom(32)

    async def no_temporal() -> Client:
        raise RuntimeError("the portfolio needs no Temporal")

    port = free_port()
    services = Services(
        connect_temporal=no_temporal, database_url=lambda: url, load_master_key=lambda _: key,
        load_writer_key=lambda: signer, load_writer_verifiers=lambda: [signer.verifier],
        task_queue="bench", web_url=f"http://127.0.0.1:{port}",
    )  # fmt: skip
    started = time.perf_counter()
    events = await seed(url, signer, args.engagements)
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    await portfolio.catch_up(services)
    projected = time.perf_counter() - started

    log = await EventLog.open(url, min_size=1, max_size=2)
    store = IdentityStore(log.pool)
    account = await store.account_for("bench-0000", "f1")
    for i in range(1, args.engagements):
        await store.join(account, f"bench-{i:04d}", "f1")
    token, _ = await store.new_session(account, "one_time_code", timedelta(hours=2))
    await log.close()

    server = serve(create_app(services, secure=False), port)
    raw_times: list[float] = []
    ours_times: list[float] = []
    rows = 0
    try:
        async with (
            await psycopg.AsyncConnection.connect(url, autocommit=True) as conn,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", cookies={"coproduce_session": token}
            ) as http,
        ):
            params = {"account": account, "organisation": None}
            for i in range(args.requests + 5):  # the first five warm both sides up
                t0 = time.perf_counter()
                found = await (await conn.execute(portfolio.PAGE_QUERY, params)).fetchall()
                t1 = time.perf_counter()
                page = await http.get("/portfolio")
                t2 = time.perf_counter()
                if page.status_code != 200:
                    raise RuntimeError(f"GET /portfolio answered {page.status_code}")
                rows = len(found)
                if i >= 5:
                    raw_times.append(t1 - t0)
                    ours_times.append(t2 - t1)
            shown = page.text.count("<tr") - 1  # less the header row
    finally:
        server.should_exit = True
    raw50, raw95 = percentile(raw_times, 0.5), percentile(raw_times, 0.95)
    ours50, ours95 = percentile(ours_times, 0.5), percentile(ours_times, 0.95)
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "engagements": args.engagements,
        "events": events,
        "seed_s": round(seeded, 1),
        "catch_up_s": round(projected, 1),
        "rows": rows,
        "rows_shown": shown,
        "requests": args.requests,
        "raw_p50_ms": round(raw50 * 1000, 2),
        "raw_p95_ms": round(raw95 * 1000, 2),
        "ours_p50_ms": round(ours50 * 1000, 2),
        "ours_p95_ms": round(ours95 * 1000, 2),
        "p50_ratio": round(ours50 / raw50, 2),
        "p95_ratio": round(ours95 / raw95, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
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
    print(
        f"portfolio page ({figures['machine']}; {figures['engagements']} engagements, {figures['events']:,} events,"
        f" {figures['rows']} rows; {figures['requests']} requests each)"
    )
    print(f"  raw query        p50 {figures['raw_p50_ms']:>7} ms   p95 {figures['raw_p95_ms']:>7} ms")
    print(f"  GET /portfolio   p50 {figures['ours_p50_ms']:>7} ms   p95 {figures['ours_p95_ms']:>7} ms")
    print(
        f"  ratio            p50 {figures['p50_ratio']:>7}      p95 {figures['p95_ratio']:>7}   (target p95 <= 2)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
