"""The embedded stack: PostgreSQL, the Temporal dev server and a worker, on one machine, in one command.

Everything lives under the state directory (``COPRODUCE_STATE_DIR``)::

    postgres/            the embedded PostgreSQL (see embedded_postgres.py)
    temporal/temporal.db the dev server's database: engagements survive a restart
    ports.json           the ports chosen the first time, kept so URLs never change (the usual
                         7233, 8233 and 8089 when free, or any free ones with COPRODUCE_STACK_PORTS=any)
    stack.json           while a stack runs: its pid and where everything is
    stack.lock           held (flock) by the process running the stack
    logs/                temporal.log, stack.log

Only one stack runs per state directory: ``up`` takes the lock, and a second ``up`` finds it taken
and says so. The kernel drops the lock when the process dies, even by SIGKILL; the next ``up`` then
finds what the dead one left (a stale ``stack.json``, a dev server still running) and cleans it up
before starting again. PostgreSQL and the dev server's database file are durable, so nothing
recorded is lost.

Other commands find the servers through ``stack.json`` (``running_stack``), unless
``COPRODUCE_DATABASE_URL`` / ``COPRODUCE_TEMPORAL_ADDRESS`` point elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO

import structlog
from temporalio.client import Client

from .codec import codec, data_converter
from .codec_server import make_server
from .database import EMBEDDED_DATABASE, ensure_database, migrate_database
from .embedded_postgres import EmbeddedPostgres
from .keys import codec_token
from .mailbox import LocalMailServer
from .running import StackInfo, StackPaths, alive, lock_is_free, running_stack
from .settings import Settings
from .temporal_binaries import temporal_cli

log = structlog.get_logger(__name__)

SEARCH_ATTRIBUTES = ("EngagementStatus", "EngagementPhase", "Organisation")


class StackError(RuntimeError):
    """The stack cannot be started, found or stopped; the message says what to do."""


def _free_ports(preferred: dict[str, int], taken: Iterable[int] = ()) -> dict[str, int]:
    """A free port for each name: the preferred one when free, else any. The sockets stay bound until
    every port is chosen, so no two names get the same one."""
    chosen: dict[str, int] = {}
    with contextlib.ExitStack() as held:
        for name, port in preferred.items():
            for candidate in (port, 0):
                if candidate and candidate in taken:
                    continue
                sock = held.enter_context(socket.socket())
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", candidate))
                except OSError:
                    continue
                chosen[name] = sock.getsockname()[1]
                break
            else:
                raise StackError("no free port on 127.0.0.1")
    return chosen


USUAL_PORTS = {"temporal": 7233, "ui": 8233, "codec": 8089, "web": 8000, "smtp": 8025}


def _ports(paths: StackPaths, usual: bool = True) -> dict[str, int]:
    """The stack's ports: chosen once (the usual ones when free and ``usual``, else any free ones), then
    kept."""
    if paths.ports.exists():
        ports = {k: int(v) for k, v in json.loads(paths.ports.read_text()).items()}
        missing = {name: 0 for name in USUAL_PORTS if name not in ports}  # chosen by an older version
        if missing:
            ports |= _free_ports(missing, taken=ports.values())
            paths.ports.write_text(json.dumps(ports))
        return ports
    ports = _free_ports(USUAL_PORTS if usual else dict.fromkeys(USUAL_PORTS, 0))
    paths.ports.write_text(json.dumps(ports))
    return ports


def _dev_servers_of(db_file: Path) -> list[int]:
    """Pids of Temporal dev servers running on this database file (left behind by a dead stack)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start-dev" in args and str(db_file).encode() in args:
            found.append(int(entry.name))
    return found


class Stack:
    """Start and stop the embedded stack of one state directory (used by ``coproduce up``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = StackPaths(settings.state_dir)
        self.postgres = EmbeddedPostgres(self.paths.postgres)
        self.temporal: subprocess.Popen[bytes] | None = None
        self.codec_server: ThreadingHTTPServer | None = None
        self.mail_server: LocalMailServer | None = None
        self._lock_handle: IO[str] | None = None

    # -- the single-instance lock ---------------------------------------------------------------------
    def acquire(self) -> None:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.paths.logs.mkdir(exist_ok=True)
        handle = open(self.paths.lock, "a+")  # noqa: SIM115 - held open for the stack's whole life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            other = running_stack(self.settings)
            where = f" (pid {other.pid}, Temporal at {other.temporal_address})" if other else ""
            raise StackError(
                f"a coproduce stack is already running from {self.paths.root}{where}; "
                "use it, or stop it with `coproduce down`"
            ) from None
        self._lock_handle = handle

    def release(self) -> None:
        self.paths.info.unlink(missing_ok=True)
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    # -- starting -------------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Clean up after a stack that died without stopping (SIGKILL, a crash, a power cut): a dev
        server still running on this state directory's database file is stopped (PostgreSQL, if still
        running, is reused as it is)."""
        for pid in _dev_servers_of(self.paths.temporal_db):
            log.info("stopping the dev server a dead stack left running", pid=pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        self.paths.info.unlink(missing_ok=True)

    def start_postgres(self) -> str:
        self.postgres.ensure_started()  # a postmaster left running by a dead stack is simply reused
        ensure_database(self.postgres.url(), EMBEDDED_DATABASE)
        return self.postgres.url(EMBEDDED_DATABASE)

    def start_temporal(self, ports: dict[str, int]) -> None:
        self.paths.temporal_db.parent.mkdir(parents=True, exist_ok=True)
        args = [
            str(temporal_cli()), "server", "start-dev",
            "--db-filename", str(self.paths.temporal_db),
            "--ip", "127.0.0.1", "--port", str(ports["temporal"]), "--ui-port", str(ports["ui"]),
            "--namespace", self.settings.temporal_namespace, "--ui-disable-news-fetch", "--log-level", "warn",
            "--ui-codec-endpoint", f"http://127.0.0.1:{ports['codec']}",
        ]  # fmt: skip
        for name in SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{name}=Keyword"]
        output = open(self.paths.logs / "temporal.log", "ab")  # noqa: SIM115 - the child keeps it
        self.temporal = subprocess.Popen(
            args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        output.close()

    def start_codec_server(self, ports: dict[str, int]) -> str:
        """Decrypt payloads for the stock CLI, on this machine only, and only for a caller who holds the
        token it returns (``COPRODUCE_CODEC_TOKEN``, else the 0600 key file ``keys/codec-server.token``
        that ``coproduce codec-server`` uses too; also kept in the 0600 stack.json): any process on the
        machine can reach the port, and decrypted payloads hold personal data. (The dev server's web UI
        cannot send a token, so it shows payloads encrypted.)"""
        ui = f"http://127.0.0.1:{ports['ui']}"
        token = codec_token(self.settings)
        try:
            self.codec_server = make_server(
                codec(self.settings), "127.0.0.1", ports["codec"],
                origins=[ui, ui.replace("127.0.0.1", "localhost")], token=token,
            )  # fmt: skip
        except OSError as exc:
            raise StackError(
                f"the codec server cannot listen on 127.0.0.1:{ports['codec']} ({exc.strerror}); free the port, "
                f"or delete {self.paths.ports} so the stack chooses new ones"
            ) from None
        threading.Thread(target=self.codec_server.serve_forever, name="codec-server", daemon=True).start()
        return token

    async def wait_for_temporal(self, address: str, timeout: float = 60) -> Client:
        deadline = time.monotonic() + timeout
        while True:
            if self.temporal is not None and self.temporal.poll() is not None:
                raise StackError(
                    f"the Temporal dev server exited (status {self.temporal.returncode}); "
                    f"see {self.paths.logs / 'temporal.log'}"
                )
            try:
                return await Client.connect(
                    address,
                    namespace=self.settings.temporal_namespace,
                    data_converter=data_converter(self.settings),
                )
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise StackError(
                        f"the Temporal dev server did not answer at {address} within {timeout:.0f} s"
                    ) from None
                await asyncio.sleep(0.2)

    def start_mail_server(self, ports: dict[str, int]) -> str:
        """The stack's own SMTP server (mail kept in ``<state dir>/mail``), unless COPRODUCE_SMTP_URL
        names a real one; returns the URL the stack's processes send mail to ('' for the real one)."""
        if self.settings.smtp_url:
            return ""
        self.mail_server = LocalMailServer(self.paths.mail, ports["smtp"])
        try:
            self.mail_server.start()
        except (OSError, RuntimeError) as exc:
            self.mail_server = None
            raise StackError(
                f"the mail server cannot listen on 127.0.0.1:{ports['smtp']} ({exc}); free the port, or set "
                "COPRODUCE_SMTP_URL to a mail server"
            ) from None
        return self.mail_server.url

    async def start(self) -> tuple[StackInfo, Client]:
        """Start everything (the lock must be held); returns where it is and a connected client."""
        self._recover()
        ports = _ports(self.paths, usual=self.settings.stack_ports == "usual")
        database_url = await asyncio.to_thread(self.start_postgres)
        await migrate_database(database_url)
        codec_token = self.start_codec_server(ports)
        smtp_url = self.start_mail_server(ports)
        self.start_temporal(ports)
        address = f"127.0.0.1:{ports['temporal']}"
        client = await self.wait_for_temporal(address)
        assert self.temporal is not None
        info = StackInfo(
            pid=os.getpid(),
            temporal_address=address,
            temporal_ui=f"http://127.0.0.1:{ports['ui']}",
            temporal_pid=self.temporal.pid,
            database_url=database_url,
            namespace=self.settings.temporal_namespace,
            codec_endpoint=f"http://127.0.0.1:{ports['codec']}",
            codec_token=codec_token,
            web_url=self.settings.web_url or f"http://localhost:{ports['web']}",
            smtp_url=smtp_url,
        )
        tmp = self.paths.info.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(info)))
        tmp.chmod(0o600)  # it holds the database password
        tmp.replace(self.paths.info)
        return info, client

    # -- stopping -------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the dev server, the codec and mail servers and PostgreSQL, cleanly; give up the lock."""
        if self.mail_server is not None:
            with contextlib.suppress(Exception):
                self.mail_server.stop()
            self.mail_server = None
        if self.codec_server is not None:
            self.codec_server.shutdown()
            self.codec_server.server_close()
            self.codec_server = None
        if self.temporal is not None and self.temporal.poll() is None:
            self.temporal.send_signal(signal.SIGTERM)
            try:
                self.temporal.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.temporal.kill()
                self.temporal.wait()
        with contextlib.suppress(Exception):
            self.postgres.stop()
        self.release()


def stop_running_stack(settings: Settings, timeout: float = 60) -> StackInfo | None:
    """Ask the stack running from this state directory to stop, and wait until it has (``down``)."""
    info = running_stack(settings)
    if info is None:
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    paths = StackPaths(settings.state_dir)
    while time.monotonic() < deadline:
        if not alive(info.pid) and lock_is_free(paths):
            return info
        time.sleep(0.1)
    raise StackError(f"the stack (pid {info.pid}) did not stop within {timeout:.0f} s; see {paths.logs}")
