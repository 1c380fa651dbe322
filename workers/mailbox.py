"""The embedded stack's own mail server: SMTP on 127.0.0.1 that keeps every message in a Maildir.

On one machine with no mail set up, ``coproduce up`` runs it so invitations and sign-in links can be
sent and read (``coproduce mail``) with nothing installed. It delivers nothing onwards: set
``COPRODUCE_SMTP_URL`` to a real server to reach people's inboxes.
"""

from __future__ import annotations

import mailbox
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class LocalMailServer:
    """An SMTP server on ``127.0.0.1:port`` storing what it receives in ``folder`` (a Maildir)."""

    def __init__(self, folder: Path, port: int) -> None:
        _maildir(folder)
        self.folder = folder
        self.controller = Controller(Mailbox(str(folder)), hostname="127.0.0.1", port=port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def _maildir(folder: Path) -> mailbox.Maildir:
    """The Maildir at ``folder``, with its new/, cur/ and tmp/ made when missing."""
    for sub in ("new", "cur", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(str(folder), create=False)


def read_mail(folder: Path) -> list[tuple[str, Message]]:
    """Every message in the Maildir ``folder``, oldest first, with its key."""
    if not folder.exists():
        return []
    box = _maildir(folder)
    found = [(key, box[key]) for key in box.iterkeys()]
    return sorted(found, key=lambda item: item[1].get_date())
