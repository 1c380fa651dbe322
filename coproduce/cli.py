"""The ``coproduce`` command. Today: the database verbs; engagements, gates and audits follow.

Every verb reads its settings from ``COPRODUCE_*`` variables (see ``workers/settings.py``). A mistake
gets one sentence on stderr saying what was wrong and what to do, and exit status 1 (2 for bad usage).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import psycopg
import typer
from rich.console import Console
from temporalio.service import RPCError

from eventlog import MigrationError, migrate
from workers.database import database_url, embedded_server
from workers.embedded_postgres import EmbeddedPostgresError
from workers.logging import configure_logging
from workers.settings import Settings
from workers.worker import run_worker

app = typer.Typer(
    name="coproduce",
    help="Run co-production engagements over an append-only, hash-chained event log.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The event log's PostgreSQL database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    """Print one clear sentence on stderr and exit 1."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


@db_app.command("migrate")
def db_migrate() -> None:
    """Create or update the event log's schema and roles (safe to run again).

    Uses COPRODUCE_DATABASE_URL (an administrator's URL), or starts the embedded PostgreSQL in the
    state directory when it is not set.
    """
    settings = Settings()
    try:
        url = database_url(settings)
        applied = asyncio.run(migrate(url))
    except (EmbeddedPostgresError, MigrationError) as exc:
        fail(str(exc))
    except psycopg.OperationalError as exc:
        fail(
            f"cannot connect to PostgreSQL ({str(exc).strip().splitlines()[0]}); check COPRODUCE_DATABASE_URL."
        )
    if applied:
        for migration in applied:
            out.print(f"applied {migration.version:04d}_{migration.name}")
    else:
        out.print("the database is up to date")
    if not settings.database_url:
        out.print(
            f"embedded PostgreSQL is running (data in {embedded_server(settings).root}); "
            "stop it with `coproduce db stop`"
        )


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL of the state directory (nothing is lost; it starts again on demand)."""
    server = embedded_server(Settings())
    if not server.is_running():
        out.print("the embedded PostgreSQL is not running")
        return
    try:
        server.stop()
    except EmbeddedPostgresError as exc:
        fail(str(exc))
    out.print("stopped the embedded PostgreSQL")


@app.command("worker")
def worker() -> None:
    """Run a worker against the configured Temporal and PostgreSQL until SIGTERM or Ctrl-C.

    Uses COPRODUCE_TEMPORAL_ADDRESS, COPRODUCE_TEMPORAL_NAMESPACE, COPRODUCE_TASK_QUEUE and
    COPRODUCE_DATABASE_URL (or the running embedded PostgreSQL). Run as many as the load needs.
    """
    settings = Settings()
    configure_logging(settings)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, stop)

    try:
        asyncio.run(serve())
    except RuntimeError as exc:  # no database configured and no embedded one running
        fail(str(exc))
    except psycopg.OperationalError as exc:
        fail(
            f"cannot connect to PostgreSQL ({str(exc).strip().splitlines()[0]}); check COPRODUCE_DATABASE_URL."
        )
    except RPCError as exc:
        fail(
            f"cannot reach Temporal at {settings.temporal_address} ({exc}); check COPRODUCE_TEMPORAL_ADDRESS."
        )


def main() -> None:
    """Entry point of the console script.

    Ends with ``os._exit``: a process that used a Temporal client can abort at interpreter exit after
    its work is done (sdk-python issue 300); the exit status must be the command's, not that.
    """
    code = 0
    try:
        app()  # standalone: prints usage errors itself and raises SystemExit with the status
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
