"""Where a running stack is: the state directory's files, read without starting anything.

``coproduce up`` (``workers.stack``) writes ``stack.json`` once everything answers and holds
``stack.lock`` while it runs; every other process finds the stack's servers here (``running_stack``).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .settings import Settings


@dataclass(frozen=True)
class StackInfo:
    """Where a running stack is: written to ``stack.json`` once everything answers."""

    pid: int
    temporal_address: str
    temporal_ui: str
    temporal_pid: int
    database_url: str
    namespace: str = "default"
    codec_endpoint: str = ""  # decrypts payloads for the stock CLI (--codec-endpoint), to holders of:
    codec_token: str = ""  # the bearer token it asks for (--codec-auth "Bearer TOKEN"); stack.json is 0600
    web_url: str = ""  # the web app (sign-in, approvers' pages)
    smtp_url: str = ""  # the stack's own mail server, when no COPRODUCE_SMTP_URL is set


class StackPaths:
    """The files of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir
        self.postgres = state_dir / "postgres"
        self.temporal_db = state_dir / "temporal" / "temporal.db"
        self.ports = state_dir / "ports.json"
        self.info = state_dir / "stack.json"
        self.lock = state_dir / "stack.lock"
        self.logs = state_dir / "logs"
        self.mail = state_dir / "mail"


def running_stack(settings: Settings) -> StackInfo | None:
    """The stack running from this state directory, or None (a stale ``stack.json`` counts as none)."""
    paths = StackPaths(settings.state_dir)
    try:
        info = StackInfo(**json.loads(paths.info.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    if not alive(info.pid) or lock_is_free(paths):
        return None
    return info


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_is_free(paths: StackPaths) -> bool:
    if not paths.lock.exists():
        return True
    with open(paths.lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True
