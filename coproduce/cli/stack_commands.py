"""``coproduce up``, ``down``, ``worker`` and ``db ...``: running coproduce on this machine or beyond."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from eventlog import AUDITOR_ROLE, WRITER_ROLE
from workers.database import database_url, embedded_server, migrate_database, set_passwords
from workers.logging import configure_logging
from workers.running import StackInfo, running_stack
from workers.stack import Stack, stop_running_stack
from workers.worker import run_worker, serve_worker

from ..web.serve import bind_of, serve_web, trusted_proxies
from .common import Commands, JsonOption, attempt, err, fail, out, print_json, run, settings

db_app = typer.Typer(cls=Commands, help="The event log's PostgreSQL database.", no_args_is_help=True)


def described(info: StackInfo) -> dict[str, object]:
    """Where the stack is, for scripts (``--json``); the database's credentials stay in stack.json."""
    return {
        "pid": info.pid,
        "temporal_address": info.temporal_address,
        "temporal_namespace": info.namespace,
        "temporal_ui": info.temporal_ui,
        "codec_endpoint": info.codec_endpoint or None,
        "web": info.web_url or None,
        "mail": info.smtp_url or None,
        "postgres": info.database_url.split("@")[-1],
        "state_dir": str(settings().state_dir),
    }


def describe(info: StackInfo) -> None:
    out.print(f"Temporal      {info.temporal_address}  (namespace {info.namespace})")
    out.print(f"Temporal UI   {info.temporal_ui}")
    if info.codec_endpoint:
        out.print(
            f"Codec server  {info.codec_endpoint}  (decrypts payloads for the stock CLI, for holders of its "
            f'token: --codec-endpoint {info.codec_endpoint} --codec-auth "Bearer $TOKEN", TOKEN being '
            "codec_token in stack.json)",
            highlight=False,
        )
    out.print(
        f"PostgreSQL    {info.database_url.split('@')[-1]}  (database coproduce; credentials in stack.json)"
    )
    if info.web_url:
        out.print(f"Web app       {info.web_url}  (sign-in and approvers' pages)")
    if info.smtp_url:
        out.print(f"Mail          {info.smtp_url}  (kept here, not delivered: `coproduce mail` shows it)")
    out.print(f"State         {settings().state_dir}")


def up(
    detach: bool = typer.Option(
        False, "--detach", "-d", help="Run in the background; stop it with `coproduce down`."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Start PostgreSQL, the Temporal dev server (with its web UI), a worker, the web app and a mail
    server that keeps mail here, on this machine.

    Everything lives in the state directory (COPRODUCE_STATE_DIR); engagements survive a restart.
    In the foreground it runs until Ctrl-C, then stops everything cleanly.
    """
    config = settings()
    existing = running_stack(config)
    if existing is not None:
        fail(
            f"a coproduce stack is already running from {config.state_dir} (pid {existing.pid}, "
            f"Temporal at {existing.temporal_address}); use it, or stop it with `coproduce down`"
        )
    if detach:
        _up_detached(as_json)
        return
    configure_logging(config)
    stack = Stack(config)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        stack.acquire()
        try:
            info, client = await stack.start()
            if as_json:
                print_json(described(info))
            else:
                out.print("[bold green]coproduce is up[/]")
                describe(info)
                out.print("Stop it with Ctrl-C (or `coproduce down` from another terminal).")
            sys.stdout.flush()
            web = asyncio.create_task(serve_web(config, info.web_url, stop))
            try:
                await serve_worker(client, info.database_url, config, stop)
            finally:
                stop.set()
                await web
        finally:
            await asyncio.to_thread(stack.stop)
            (err if as_json else out).print("coproduce is down")

    run(serve)


def _up_detached(as_json: bool) -> None:
    """Start ``coproduce up`` in its own session, and wait until the stack answers (or fails)."""
    config = settings()
    logs = config.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stack.log", "ab") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "coproduce", "up"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "COPRODUCE_LOG_FORMAT": "json"},
        )
    deadline = time.monotonic() + 180
    with (err if as_json else out).status("starting PostgreSQL, Temporal and a worker..."):
        while time.monotonic() < deadline:
            info = running_stack(config)
            if info is not None and info.pid == child.pid:
                break
            if child.poll() is not None:
                tail = (logs / "stack.log").read_text(errors="replace").strip().splitlines()[-5:]
                fail(
                    f"the stack did not start (exit {child.returncode}); last lines of {logs / 'stack.log'}:\n"
                    + "\n".join(tail)
                )
            time.sleep(0.2)
        else:
            child.terminate()
            fail(f"the stack did not start within 3 minutes; see {logs / 'stack.log'}")
    if as_json:
        print_json({**described(info), "logs": str(logs)})
        return
    out.print(f"[bold green]coproduce is up[/] in the background (pid {child.pid}; logs in {logs})")
    describe(info)
    out.print("Stop it with `coproduce down`.")


def down(as_json: bool = JsonOption) -> None:
    """Stop the stack that `coproduce up --detach` started (nothing recorded is lost)."""
    info = stop_running_stack(settings())
    if as_json:
        print_json({"stopped": info is not None, "pid": info.pid if info else None})
        return
    if info is None:
        out.print("no coproduce stack is running")
        return
    out.print(f"stopped the coproduce stack (pid {info.pid})")


def worker() -> None:
    """Run a worker against the configured Temporal and PostgreSQL until SIGTERM or Ctrl-C.

    Uses COPRODUCE_TEMPORAL_ADDRESS, COPRODUCE_TEMPORAL_NAMESPACE, COPRODUCE_TASK_QUEUE and
    COPRODUCE_DATABASE_URL (or the running embedded stack). Run as many as the load needs.
    """
    config = settings()
    configure_logging(config)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(config, stop)

    run(serve)


@db_app.command("migrate")
def db_migrate(
    writer_password_file: Path | None = typer.Option(
        None,
        "--writer-password-file",
        help="Set the login password of coproduce_writer (workers) from this file.",
    ),
    auditor_password_file: Path | None = typer.Option(
        None, "--auditor-password-file", help="Set the login password of coproduce_auditor from this file."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create or update the event log's schema, roles and views (safe to run again).

    Uses COPRODUCE_DATABASE_URL (an administrator's URL), the running stack's database, or else starts
    the embedded PostgreSQL of the state directory. With the password files (e.g. container secrets),
    workers can then log in as coproduce_writer and auditors as coproduce_auditor.
    """
    config = settings()
    passwords = {
        role: _read_secret(path)
        for role, path in ((WRITER_ROLE, writer_password_file), (AUDITOR_ROLE, auditor_password_file))
        if path is not None
    }

    async def body() -> list:  # type: ignore[type-arg]
        url = await asyncio.to_thread(database_url, config)
        applied = await migrate_database(url)
        if passwords:
            await set_passwords(url, passwords)
        return applied

    applied = run(body)
    embedded = not config.database_url and running_stack(config) is None
    if as_json:
        print_json({
            "applied": [f"{migration.version:04d}_{migration.name}" for migration in applied],
            "passwords_set": sorted(passwords),
            "embedded_postgres": str(embedded_server(config).root) if embedded else None,
        })  # fmt: skip
        return
    for migration in applied:
        out.print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        out.print("the database is up to date")
    if embedded:
        out.print(
            f"embedded PostgreSQL is running (data in {embedded_server(config).root}); "
            "stop it with `coproduce db stop`"
        )


def _read_secret(path: Path) -> str:
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        fail(f"cannot read the password file {path} ({exc.strerror})")
    if len(secret) < 12:
        fail(f"the password in {path} is shorter than 12 characters; use a long random one")
    return secret


@db_app.command("stop")
def db_stop(as_json: bool = JsonOption) -> None:
    """Stop the embedded PostgreSQL of the state directory (nothing is lost; it starts again on demand)."""
    config = settings()
    if running_stack(config) is not None:
        fail("the embedded PostgreSQL belongs to the running stack; stop both with `coproduce down`")
    server = embedded_server(config)
    running = server.is_running()
    if running:
        run(lambda: asyncio.to_thread(server.stop))
    if as_json:
        print_json({"stopped": running})
    elif running:
        out.print("stopped the embedded PostgreSQL")
    else:
        out.print("the embedded PostgreSQL is not running")


def web(
    bind: str = typer.Option(None, "--bind", help="host:port to listen on (default: COPRODUCE_WEB_BIND)."),
) -> None:
    """Run the web app alone (for a deployment, behind a proxy that terminates TLS): sign-in and the
    approvers' pages, at COPRODUCE_WEB_URL, against the configured PostgreSQL and Temporal."""
    config = settings()
    configure_logging(config)
    address = bind or config.web_bind
    try:
        host, _ = bind_of(address)
    except ValueError:
        fail(f"the web app cannot listen on '{address}': give host:port, like 0.0.0.0:8000")
    if not config.web_url and not _loopback(host):
        fail(
            f"the web app would listen on {host}, beyond this machine, but COPRODUCE_WEB_URL is not set: "
            "set it to the public https address people open (sign-in links and passkeys need it), "
            "like https://votes.example.org"
        )
    attempt(lambda: trusted_proxies(config))
    public = config.web_url or f"http://{address}"

    async def body() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        out.print(f"web app on {address} (public address {public}); Ctrl-C stops it", highlight=False)
        await serve_web(config, public, stop, bind=address)

    run(body)


def _loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (a name other than localhost may be anywhere)."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
