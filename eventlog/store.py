"""The event store: append events to streams and read them back, on PostgreSQL through psycopg 3.

``EventLog`` wraps an async connection pool whose connections act as ``coproduce_writer`` (the pool sets
the role on every new connection, so even an administrator's URL appends with the writer's rights).
Every append is one call of ``eventlog.append()`` in the database, which serialises appends, assigns
positions, checks the expected version, de-duplicates event ids and extends the hash chain (see
``migrations/0001_event_log.sql``). ``EventLog.append`` goes through the log's group committer
(``group_commit``): appends that arrive while a commit is in flight share the next commit, each still
checked and answered on its own, none waiting when nothing else is in flight.

After an append commits, a background task sends ``NOTIFY eventlog_appended`` on its own connection,
coalescing bursts: subscribers use it only to wake up early, and the append transaction never holds
the global notification lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from .canonical import canonical_json
from .checkpoint import Signer
from .errors import EventLogError, error_for
from .events import AppendResult, NewEvent, RecordedEvent, stored_events
from .group_commit import APPEND_ONE_SQL, APPEND_SQL, GroupCommitter
from .migrate import WRITER_ROLE
from .upcasting import UpcasterRegistry
from .writers import signed

NOTIFY_CHANNEL = "eventlog_appended"

# Columns every read selects, in the order stored_events() expects. Reads go through the auditors' view
# (the writer may read it too), so a log opened with the read-only auditor role reads the same way.
_COLUMNS = "position, stream_version, recorded_at, entry, leaf_hash, chain_hash"


def encode_batch(
    stream_id: str, events: Sequence[NewEvent], now: datetime | None = None, signer: Signer | None = None
) -> list[bytes]:
    """The canonical entries for a batch, as ``eventlog.append()`` receives them; each signed by
    ``signer`` when given (see ``writers``)."""
    now = now or datetime.now(UTC)
    if signer is None:
        return [canonical_json(event.envelope(stream_id, now)) for event in events]
    return [canonical_json(signed(event.envelope(stream_id, now), signer)) for event in events]


class EventLog:
    """Append to and read from the log. Open with ``await EventLog.open(url)``; close when done.

    With a ``signer`` (a writer's key, see ``writers``), every event this log appends is signed."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        upcasters: UpcasterRegistry | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.pool = pool
        self.upcasters = upcasters
        self.signer = signer
        self.committer = GroupCommitter(pool)
        self.notify_interval = 0.02  # seconds between wake-ups at most: coalesces bursts of appends
        self._notify_wanted = asyncio.Event()
        self._notifier: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        role: str | None = WRITER_ROLE,
        upcasters: UpcasterRegistry | None = None,
        min_size: int = 1,
        max_size: int = 10,
        signer: Signer | None = None,
    ) -> EventLog:
        """Connect a pool; every connection acts as ``role`` (``None`` keeps the login's own rights)."""

        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            if role:
                await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            await conn.commit()

        pool = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            configure=configure,
            open=False,
            kwargs={"row_factory": tuple_row, "autocommit": True},
        )
        await pool.open(wait=True, timeout=30)
        return cls(pool, upcasters, signer)

    async def close(self) -> None:
        await self.committer.drain()
        if self._notifier is not None:
            self._notifier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._notifier
            self._notifier = None
        await self.pool.close()

    async def __aenter__(self) -> EventLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- appending ------------------------------------------------------------------------------------
    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None = None,
        *,
        signer: Signer | None = None,
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` in one transaction, durably before it returns.

        ``expected_version`` is the version the caller last saw (0 for a stream not yet written), or
        ``None`` to append whatever the version. Raises ``ConcurrencyError`` when the stream moved on;
        re-appending events whose ids are all stored returns their stored positions, appending nothing.
        Each event is signed by ``signer`` (else the log's own, if it has one; see ``writers``).

        Appends made while another is committing share the next commit with each other (group commit,
        see ``group_commit``); each is checked, refused or stored as if it were alone.
        """
        entries = encode_batch(stream_id, events, signer=signer or self.signer)
        result = await self.committer.append(
            stream_id, expected_version, [e.event_id for e in events], entries
        )
        if not result.duplicate:
            self._wake_subscribers()
        return result

    async def append_in(
        self,
        conn: psycopg.AsyncConnection[Any],
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None = None,
        *,
        signer: Signer | None = None,
    ) -> AppendResult:
        """Append on ``conn``, inside the caller's transaction when one is open (the caller commits).

        For writes that must commit together with the append, such as a projection's own rows.
        """
        entries = encode_batch(stream_id, events, signer=signer or self.signer)
        try:
            rows = []
            if len(events) == 1:  # the cheap path; it returns no row for a stored id
                cur = await conn.execute(
                    APPEND_ONE_SQL, (stream_id, expected_version, events[0].event_id, entries[0])
                )
                rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute(
                    APPEND_SQL, (stream_id, expected_version, [e.event_id for e in events], entries)
                )
                rows = await cur.fetchall()
        except psycopg.Error as exc:
            raise _translate(exc, stream_id, expected_version) from exc
        return AppendResult(
            positions=tuple(sorted(r[0] for r in rows)),
            stream_version=max(r[1] for r in rows),
            duplicate=rows[0][2],
        )

    def _wake_subscribers(self) -> None:
        self._notify_wanted.set()
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.get_running_loop().create_task(self._notify_loop())

    async def _notify_loop(self) -> None:
        """Send one NOTIFY per burst of appends, outside any append transaction.

        NOTIFY gives its transaction an id, so its commit would wait for a WAL flush like an append;
        a wake-up is worthless after a crash, so this connection commits with ``synchronous_commit``
        off and never makes appends wait for its flush.
        """
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            while True:
                await self._notify_wanted.wait()
                self._notify_wanted.clear()
                try:
                    if conn is None or conn.closed:
                        conn = await psycopg.AsyncConnection.connect(self.pool.conninfo, autocommit=True)
                        await conn.execute("SET synchronous_commit = off")
                    await conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(NOTIFY_CHANNEL)))
                except psycopg.Error:
                    conn = None  # a missed wake-up only delays subscribers until their next poll
                await asyncio.sleep(self.notify_interval)
        finally:
            if conn is not None:
                await conn.close()

    # -- reading --------------------------------------------------------------------------------------
    async def stream_version(self, stream_id: str) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT coalesce(max(stream_version), 0) FROM eventlog.audit_events WHERE stream_id = %s",
                (stream_id,),
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def read_stream(
        self,
        stream_id: str,
        *,
        up_to_version: int | None = None,
        as_of: datetime | None = None,
        after_version: int = 0,
    ) -> list[RecordedEvent]:
        """A stream's events in order; optionally only those after a version, up to a version, or those
        that occurred by ``as_of``."""
        query = f"SELECT {_COLUMNS} FROM eventlog.audit_events WHERE stream_id = %s"
        params: list[Any] = [stream_id]
        if after_version:
            query += " AND stream_version > %s"
            params.append(after_version)
        if up_to_version is not None:
            query += " AND stream_version <= %s"
            params.append(up_to_version)
        if as_of is not None:
            query += " AND occurred_at <= %s"
            params.append(as_of)
        query += " ORDER BY stream_version"
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(query, params, binary=True)).fetchall()
        return stored_events(rows, self.upcasters)

    async def read_all(self, after: int = 0, *, batch_size: int = 1000) -> AsyncIterator[list[RecordedEvent]]:
        """Every event after position ``after``, in position order, in batches."""
        position = after
        while True:
            batch = await self.read_batch(position, batch_size)
            if not batch:
                return
            yield batch
            position = batch[-1].position

    async def read_batch(
        self, after: int, limit: int, conn: psycopg.AsyncConnection[Any] | None = None
    ) -> list[RecordedEvent]:
        query = f"SELECT {_COLUMNS} FROM eventlog.audit_events WHERE position > %s ORDER BY position LIMIT %s"
        if conn is not None:
            rows = await (await conn.execute(query, (after, limit), binary=True)).fetchall()
        else:
            async with self.pool.connection() as own:
                rows = await (await own.execute(query, (after, limit), binary=True)).fetchall()
        return stored_events(rows, self.upcasters)

    async def head(self) -> tuple[int, bytes]:
        """The log's size (its last position) and its last chain hash."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute("SELECT size, chain_hash_hex FROM eventlog.audit_head")
            ).fetchone()
        if row is None:
            raise EventLogError("the event log's views are missing: run `coproduce db migrate` first")
        return int(row[0]), bytes.fromhex(row[1])


def _translate(exc: psycopg.Error, stream_id: str, expected: int | None) -> Exception:
    own = error_for(
        exc.sqlstate, exc.diag.message_primary or str(exc), exc.diag.message_detail, stream_id, expected
    )
    return own if own is not None else exc
