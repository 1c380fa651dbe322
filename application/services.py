"""What the use cases talk to: Temporal, the event log and the people register, opened when first needed.

An entrance builds one ``Services`` from its settings (``workers.services.services_from_settings``) and
passes it to every use case it calls; the use cases never read settings or environment themselves, so
the command line, the web app, the tests and the benchmarks can give them whatever servers they use.
Nothing is connected until a use case asks: ``audit timeline`` never needs Temporal, ``engagement
status`` never needs the register. ``close()`` releases what was opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from temporalio.client import Client

from eventlog import EventLog, Signer, Verifier
from eventlog.writers import trusted_writers

from .audit.history import open_log
from .mail import SmtpServer
from .privacy.master_keys import MasterKeys
from .privacy.register import PeopleRegister


@dataclass
class Services:
    """The servers an installation's use cases run against.

    - ``connect_temporal``: a connected Temporal client (with this installation's payload codec);
    - ``database_url``: the event log's PostgreSQL (may raise a ``UserError`` saying none is running);
    - ``load_master_key(create)``: the key that wraps the people register's data keys; made on first
      use when ``create`` (a writer), else None where this process has none (a reader, who then sees
      personal text as withheld);
    - ``load_previous_master_keys()``: older master keys that still open data keys wrapped before a
      rotation (``COPRODUCE_PREVIOUS_MASTER_KEYS``), newest first;
    - ``load_writer_key()``: the key that signs the events a use case appends itself (forgetting
      someone), the same key the workers sign with;
    - ``load_writer_verifiers()``: the public keys of the installation's writers, whose events are its
      own (None where this process knows none: then writer signatures cannot be checked);
    - ``task_queue``: where engagement workflows run;
    - ``web_url``: the web app's public address (links in mail point there);
    - ``smtp_url``: the mail server (None: mail cannot be sent), ``mail_from``: the sender.

    A long-running process (the web app) calls ``open()`` once: then one connection pool serves
    every use case until ``close()``. A command does not: each use opens and closes its own.
    """

    connect_temporal: Callable[[], Awaitable[Client]]
    database_url: Callable[[], str]
    load_master_key: Callable[[bool], bytes | None]
    load_writer_key: Callable[[], Signer]
    load_writer_verifiers: Callable[[], list[Verifier] | None]
    task_queue: str
    load_previous_master_keys: Callable[[], list[bytes]] = list
    load_checkpoint_public_key: Callable[[], str | None] = lambda: None  # for receipts: who signs checkpoints
    web_url: str = "http://localhost:8000"
    smtp_url: str | None = None
    mail_from: str = "coproduce <coproduce@localhost>"
    _client: Client | None = field(default=None, init=False, repr=False)
    _log: EventLog | None = field(default=None, init=False, repr=False)

    async def open(self, max_size: int = 10) -> None:
        """Keep one pool open for every use case (a long-running process), until ``close``."""
        if self._log is None:
            self._log = await EventLog.open(
                self.database_url(), min_size=1, max_size=max_size, signer=self.load_writer_key()
            )

    async def close(self) -> None:
        if self._log is not None:
            await self._log.close()
            self._log = None

    def smtp(self) -> SmtpServer | None:
        """The mail server, or None when none is set up."""
        return SmtpServer.from_url(self.smtp_url) if self.smtp_url else None

    def mail_domain(self) -> str:
        """The domain of Message-IDs: the web app's host."""
        return urlsplit(self.web_url).hostname or "localhost"

    async def temporal(self) -> Client:
        """The Temporal client, connected on first use."""
        if self._client is None:
            self._client = await self.connect_temporal()
        return self._client

    def writers(self) -> dict[str, Verifier] | None:
        """The trusted writer keys by the name events give them, or None when none is known here."""
        found = self.load_writer_verifiers()
        return trusted_writers(found) if found is not None else None

    def master_key(self) -> MasterKeys | None:
        """This machine's master keys for reading (the current one and the previous ones), or None when
        it has no current one (never made here)."""
        key = self.load_master_key(False)
        return MasterKeys.of(key, self.load_previous_master_keys()) if key is not None else None

    def master_keys(self) -> MasterKeys:
        """This installation's master keys for writing: the current one (made on first use) and the
        previous ones."""
        key = self.load_master_key(True)
        assert key is not None  # made on first use
        return MasterKeys.of(key, self.load_previous_master_keys())

    @asynccontextmanager
    async def writer_log(self) -> AsyncIterator[EventLog]:
        """The event log as this process's own login (the writer role in production); what it appends
        is signed with the installation's writer key."""
        if self._log is not None:
            yield self._log
            return
        log = await EventLog.open(self.database_url(), min_size=1, max_size=2, signer=self.load_writer_key())
        try:
            yield log
        finally:
            await log.close()

    @asynccontextmanager
    async def reader_log(self) -> AsyncIterator[EventLog]:
        """The event log as the read-only auditor role where this login may take it."""
        log = await open_log(self.database_url())
        try:
            yield log
        finally:
            await log.close()

    def register_on(self, log: EventLog) -> PeopleRegister:
        """The people register in ``log``'s database, through its pool, with this installation's master
        key (made on first use)."""
        return PeopleRegister(log.pool, self.master_keys())

    @asynccontextmanager
    async def register(self) -> AsyncIterator[PeopleRegister]:
        """The people register of the log's database, with this installation's master key."""
        async with self.writer_log() as log:
            yield self.register_on(log)
