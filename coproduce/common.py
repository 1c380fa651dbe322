"""What every ``coproduce`` command shares: consoles, settings, one way to fail, one way to talk to an
engagement, and the translation of errors into one clear sentence each.

A command either succeeds (exit 0) or prints ``error: <what was wrong, and what to do>`` on stderr and
exits 1 (2 for a usage error, which typer reports itself). Nobody sees a traceback for a mistake.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import psycopg
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.people_register import PeopleRegister, RegisterError
from domain.errors import PlanError
from domain.plan import Plan, plan_from_yaml
from eventlog import EventLog, MigrationError
from workers.codec import PayloadKeyMissing
from workers.database import NoStackError, database_url
from workers.embedded_postgres import EmbeddedPostgresError
from workers.keys import KeySettingError, master_key
from workers.settings import Settings
from workers.stack import StackError
from workers.temporal import connect
from workflows.messages import EngagementStatus, Message, UpdateResult

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

JsonOption = typer.Option(False, "--json", help="Print the result as JSON, for scripts.")
UpdateIdOption = typer.Option(
    None, "--update-id", help="An idempotency key: sending the same id again records nothing new."
)


class CommandError(Exception):
    """A mistake to report in one sentence."""


def fail(message: str) -> NoReturn:
    """Print one clear sentence on stderr and exit 1."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)  # no markup in it
    raise typer.Exit(1)


def explain(exc: BaseException, engagement_id: str | None = None) -> str | None:
    """The sentence for an error we know how to explain (None: a bug, let it show)."""
    if isinstance(
        exc,
        CommandError
        | NoStackError
        | StackError
        | EmbeddedPostgresError
        | MigrationError
        | PlanError
        | RegisterError
        | KeySettingError
        | PayloadKeyMissing,
    ):
        return str(exc)
    if isinstance(exc, WorkflowUpdateFailedError):
        cause = exc.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        return message.removeprefix("ValueError: ")
    if isinstance(exc, WorkflowAlreadyStartedError):
        return f"an engagement with id '{exc.workflow_id}' exists already; choose another id with --id"
    if isinstance(exc, RPCError):
        if "already completed" in exc.message or "aborted by closing workflow" in exc.message:
            which = f"engagement '{engagement_id}'" if engagement_id else "the engagement"
            return f"{which} has completed; nothing more can be recorded (`coproduce audit timeline` shows its record)"
        if exc.status == RPCStatusCode.NOT_FOUND and engagement_id:
            return f"there is no engagement '{engagement_id}'; `coproduce engagement list` shows them"
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return "Temporal does not answer; is the stack running (`coproduce up --detach`)?"
        return f"Temporal refused the request: {exc.message}"
    if isinstance(exc, psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        return f"cannot connect to PostgreSQL ({first}); check COPRODUCE_DATABASE_URL or run `coproduce up`"
    if isinstance(exc, RuntimeError) and "Failed client connect" in str(exc):
        return "cannot reach Temporal; is the stack running (`coproduce up --detach`), or COPRODUCE_TEMPORAL_ADDRESS right?"
    return None


def run(action: Callable[[], Awaitable[T]], engagement_id: str | None = None) -> T:
    """Run an async command body, turning known errors into one sentence and exit 1."""
    try:
        return asyncio.run(action())
    except typer.Exit:
        raise
    except Exception as exc:
        message = explain(exc, engagement_id)
        if message is None:
            raise
        fail(message)


def settings() -> Settings:
    return Settings()


async def client() -> Client:
    return await connect(settings())


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"there is no file {path}") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise CommandError(f"{path} is not a plan (a YAML text file)") from None
    return plan_from_yaml(text, str(path))


@asynccontextmanager
async def people_register() -> AsyncIterator[PeopleRegister]:
    """The people register of the configured database, with this installation's master key."""
    current = settings()
    url = await asyncio.to_thread(database_url, current)
    log = await EventLog.open(url, min_size=1, max_size=2)
    try:
        yield PeopleRegister(log.pool, master_key(current))
    finally:
        await log.close()


async def engagement(engagement_id: str) -> WorkflowHandle:
    return (await client()).get_workflow_handle(engagement_id)


async def engagement_status(handle: WorkflowHandle) -> EngagementStatus:
    """An engagement's status: the ``status`` query while it runs, its result once it has completed (a
    query on a closed workflow makes a worker replay its whole history, months of it)."""
    described = await handle.describe()
    if described.status == WorkflowExecutionStatus.COMPLETED:
        result = await handle.result()  # a typed handle decodes it; an untyped one gives its JSON
        return result if isinstance(result, EngagementStatus) else EngagementStatus.model_validate(result)
    return await handle.query("status", result_type=EngagementStatus)


async def send_update(
    engagement_id: str, name: str, msg: Message, update_id: str | None = None
) -> UpdateResult:
    """Send one update and wait until its events are durable (or it is refused)."""
    handle = await engagement(engagement_id)
    return await handle.execute_update(
        name, msg, id=update_id or f"cli-{uuid.uuid4()}", result_type=UpdateResult
    )


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        out.print_json(value.model_dump_json())
    else:
        out.print_json(json.dumps(value, default=str))


def report_update(result: UpdateResult, as_json: bool) -> None:
    """What an accepted update recorded."""
    if as_json:
        print_json(result)
        return
    recorded = ", ".join(
        f"{event} (#{position})" for event, position in zip(result.events, result.positions, strict=False)
    )
    out.print(f"recorded: {recorded}")


def update_command(engagement_id: str, name: str, msg: Message, update_id: str | None, as_json: bool) -> None:
    """The body of every record/gate command."""
    result = run(lambda: send_update(engagement_id, name, msg, update_id), engagement_id)
    report_update(result, as_json)
