"""Group commit: appends that arrive while a commit is in flight share the next one.

Appends are serialised until they commit (one lock row, see ``migrations/0002_append_lock_row.sql``),
and a commit waits for its WAL flush, so appends made one transaction each go no faster together than
alone: each waits for the flushes of all those ahead of it. Like PostgreSQL's ``commit_delay`` or
EventStoreDB's writer, ``GroupCommitter`` lets the appends that queue up while one commit is in flight
(say, from many engagements served by one worker process) wait for the next commit *together*:

- an append that arrives when nothing is in flight commits at once, alone, in its caller's own task,
  on the path it always had (``eventlog.append_one``, else ``eventlog.append``): no task, no queue,
  no delay when nothing else waits;
- appends arriving meanwhile queue; when the commit in flight returns, a leader task takes up to
  ``max_group`` of them and runs them as one statement, ``eventlog.append_group`` (migration 0003),
  which is one transaction and one WAL flush. Each append still runs exactly as a lone one would
  (gapless positions, its version check, its idempotency check), inside its own subtransaction, so
  one that fails (a version conflict, say) fails alone and the others commit;
- every caller's future is resolved only after the commit returns, so an append is durable before
  ``EventLog.append`` returns, as before.

If the connection is lost mid-group (the server restarted, the backend was terminated), the outcome
of the group is unknown; the leader runs it once more on a fresh connection. That is safe because
appends are idempotent by event id: an append that did commit the first time is answered with its
stored positions (``duplicate``), one that did not is appended now, and nothing is written twice.

``max_group`` is 64 because each append in a group is a subtransaction that writes, and a transaction
with more than 64 of them overflows PostgreSQL's per-process cache of subtransaction ids, which makes
every other session's snapshots slower.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .errors import error_for
from .events import AppendResult

# Event ids and entries go in binary (%b): bytea in text form is hex-escaped on the way out, a fifth of a
# batch append's client time; binary sends the bytes as they are.
APPEND_ONE_SQL = (
    "SELECT out_position, out_stream_version, out_duplicate FROM eventlog.append_one(%s, %s, %b, %b)"
)
APPEND_SQL = "SELECT out_position, out_stream_version, out_duplicate FROM eventlog.append(%s, %s, %b, %b)"
APPEND_GROUP_SQL = (
    "SELECT out_positions, out_stream_version, out_duplicate, out_sqlstate, out_message, out_detail"
    " FROM eventlog.append_group(%s::text[], %s::bigint[], %s::integer[], %b::uuid[], %b::bytea[])"
    " ORDER BY out_append"
)


@dataclass
class PendingAppend:
    """One caller's append, waiting in the queue for its commit."""

    stream_id: str
    expected_version: int | None
    event_ids: Sequence[uuid.UUID]
    entries: Sequence[bytes]
    future: asyncio.Future[AppendResult] = field(repr=False)


@dataclass
class GroupStats:
    """What the committer has done so far (for benchmarks and tests)."""

    commits: int = 0  # transactions committed (a lone append or a group)
    appends: int = 0  # appends answered (stored, found stored, or refused alone)
    largest_group: int = 0
    retries: int = 0  # groups run again after their connection was lost


class GroupCommitter:
    """Runs the appends of one process through as few commits as the database's serialisation allows."""

    def __init__(self, pool: AsyncConnectionPool, max_group: int = 64) -> None:
        self.pool = pool
        self.max_group = max_group
        self.stats = GroupStats()
        self._queue: deque[PendingAppend] = deque()
        self._leader: asyncio.Task[None] | None = None
        self._alone = False  # a lone append is committing in its caller's task

    async def append(
        self,
        stream_id: str,
        expected_version: int | None,
        event_ids: Sequence[uuid.UUID],
        entries: Sequence[bytes],
    ) -> AppendResult:
        """Append in the next commit (at once if none is in flight); returns once it is durable."""
        loop = asyncio.get_running_loop()
        pending = PendingAppend(stream_id, expected_version, event_ids, entries, loop.create_future())
        if not self._alone and (self._leader is None or self._leader.done()):
            # Nothing in flight: commit now, in this task. Appends arriving meanwhile queue for the
            # leader, which starts when this one is done (its cancellation cannot touch theirs).
            self._alone = True
            try:
                await self._commit([pending])
            finally:
                self._alone = False
                if self._queue:
                    self._leader = loop.create_task(self._lead())
        else:  # the commit in flight, alone or a group, starts or is the leader that will take it
            self._queue.append(pending)
        return await pending.future

    async def drain(self) -> None:
        """Wait until every queued append is answered (before closing the pool)."""
        while self._leader is not None and not self._leader.done():
            await asyncio.shield(self._leader)

    async def _lead(self) -> None:
        """Commit queued appends, a group at a time, until the queue is empty."""
        group: list[PendingAppend] = []
        try:
            while self._queue:
                group = []
                while self._queue and len(group) < self.max_group:
                    pending = self._queue.popleft()
                    if not pending.future.done():  # a caller cancelled before its append was sent
                        group.append(pending)
                if group:
                    await self._commit(group)
        except BaseException as exc:  # the loop is closing: no caller may wait for ever
            for pending in (*group, *self._queue):
                if not pending.future.done():
                    pending.future.set_exception(exc)
            self._queue.clear()
            raise

    async def _commit(self, group: list[PendingAppend]) -> None:
        outcomes: list[AppendResult | BaseException]
        try:
            outcomes = await self._run(group)
        except psycopg.OperationalError:
            # The connection was lost, and with it the answer: the group may or may not have committed.
            # Idempotent event ids make running it again safe (see the module's docstring).
            self.stats.retries += 1
            try:
                outcomes = await self._run(group)
            except psycopg.Error as exc:
                outcomes = [_translate(exc, p) for p in group]
        except psycopg.Error as exc:
            outcomes = [_translate(exc, p) for p in group]
        self.stats.commits += 1
        self.stats.appends += len(group)
        self.stats.largest_group = max(self.stats.largest_group, len(group))
        for pending, outcome in zip(group, outcomes, strict=True):
            if pending.future.done():  # its caller was cancelled meanwhile; the outcome stands
                continue
            if isinstance(outcome, BaseException):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)

    async def _run(self, group: list[PendingAppend]) -> list[AppendResult | BaseException]:
        async with self.pool.connection() as conn:
            if len(group) == 1:
                return [await _run_alone(conn, group[0])]
            cur = await conn.execute(
                APPEND_GROUP_SQL,
                (
                    [p.stream_id for p in group],
                    [p.expected_version for p in group],
                    [len(p.entries) for p in group],
                    [event_id for p in group for event_id in p.event_ids],
                    [entry for p in group for entry in p.entries],
                ),
            )
            rows = await cur.fetchall()
        return [_outcome(row, pending) for row, pending in zip(rows, group, strict=True)]


async def _run_alone(
    conn: psycopg.AsyncConnection[Any], pending: PendingAppend
) -> AppendResult | BaseException:
    """One append in its own transaction (autocommit): the path of a lone append."""
    try:
        rows: list[Any] = []
        if len(pending.entries) == 1:  # the cheap path; it returns no row for a stored id
            cur = await conn.execute(
                APPEND_ONE_SQL,
                (pending.stream_id, pending.expected_version, pending.event_ids[0], pending.entries[0]),
            )
            rows = await cur.fetchall()
        if not rows:
            cur = await conn.execute(
                APPEND_SQL,
                (pending.stream_id, pending.expected_version, list(pending.event_ids), list(pending.entries)),
            )
            rows = await cur.fetchall()
    except psycopg.OperationalError:
        raise  # the connection's fault, not the append's: the caller decides whether to run it again
    except psycopg.Error as exc:
        return _translate(exc, pending)
    return AppendResult(
        positions=tuple(sorted(r[0] for r in rows)),
        stream_version=max(r[1] for r in rows),
        duplicate=rows[0][2],
    )


def _outcome(row: tuple[Any, ...], pending: PendingAppend) -> AppendResult | BaseException:
    positions, stream_version, duplicate, sqlstate, message, detail = row
    if sqlstate is None:
        return AppendResult(positions=tuple(positions), stream_version=stream_version, duplicate=duplicate)
    own = error_for(sqlstate, message, detail, pending.stream_id, pending.expected_version)
    if own is not None:
        return own
    error_class = psycopg.errors.lookup(sqlstate) if sqlstate else psycopg.DatabaseError
    return error_class(message)


def _translate(exc: psycopg.Error, pending: PendingAppend) -> BaseException:
    own = error_for(
        exc.sqlstate,
        exc.diag.message_primary or str(exc),
        exc.diag.message_detail,
        pending.stream_id,
        pending.expected_version,
    )
    return own if own is not None else exc
