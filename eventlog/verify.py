"""Verify the log: recompute every hash from the stored bytes and compare with signed checkpoints.

What ``verify_database`` checks, stopping at the first failure and naming its position:

1. positions run 1, 2, 3, ... with no gap;
2. each ``leaf_hash`` is SHA-256(0x00 || entry) of the stored canonical bytes;
3. each ``chain_hash`` is SHA-256(0x02 || position || previous chain hash || leaf hash);
4. only with ``check_columns=True``: the columns people query (stream, version, type, ids, times, the
   jsonb copies) say what the hashed bytes say, and stream versions run 1, 2, 3, ... within each
   stream. This is an index check, not part of the cryptographic proof: every read in this package
   takes its content from the hashed bytes, so an altered column can mislead only an SQL query on that
   column. It parses every event in the database, so it costs about three times the rest;
5. every checkpoint stored in the database, and every checkpoint note given by the caller (the copies
   kept elsewhere), has a valid signature from a trusted key and the Merkle root the log has at that
   size. This is what catches a superuser who rewrote the events *and* all their hashes;
6. only when writer keys are given (``writers``): each event carries a valid signature by one of them
   (``writers.check_writer``). An event that does not is *foreign*: appended with a database login but
   without a writer's key. Foreign events are listed in ``VerifyReport.foreign`` rather than failing
   the report, because what to make of one (for example, an event an operator has disowned) is for
   the layers above to decide. Events before the log's first signed event carry no signature because
   they were written before writers signed (``unsigned_before`` counts them): nothing can be inserted
   before an existing position, so none of them can be a later forgery.

``verify_entries`` does 1-3 and 5 on entries from anywhere, which is how ``verify_jsonl`` checks an
exported file without any database: line ``n`` of the file is the canonical entry at position ``n``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from .checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    UntrustedCheckpoint,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
)
from .merkle import EMPTY_ROOT, RootAccumulator
from .writers import check_writer, is_signed, trusted_writers

ZERO_HASH = bytes(32)
_pack_position = struct.Struct(">Q").pack


@dataclass
class VerifyReport:
    """The outcome: OK with the size and root, or the first failing position and what failed there."""

    size: int = 0
    root: bytes = EMPTY_ROOT
    chain_hash: bytes = ZERO_HASH
    checkpoints_checked: int = 0
    failed_position: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    writers_checked: bool = False
    foreign: list[tuple[int, str]] = field(default_factory=list)  # (position, why it is not a writer's)
    unsigned_before: int = 0  # events before the first signed one (written before writers signed)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def fail(self, position: int | None, problem: str) -> None:
        if self.problem is None:
            self.failed_position = position
            self.problem = problem

    def summary(self) -> str:
        if self.ok:
            return (
                f"OK: {self.size} events, Merkle root {base64.b64encode(self.root).decode()}, "
                f"{self.checkpoints_checked} checkpoint(s) verified"
            )
        where = f"at position {self.failed_position}: " if self.failed_position is not None else ""
        return f"FAILED {where}{self.problem}"


class ChainChecker:
    """Feeds on (position, entry, leaf_hash, chain_hash) rows in order and recomputes everything.

    Remembers the Merkle root at each size in ``root_sizes``, so checkpoints can be compared after.
    """

    def __init__(
        self, report: VerifyReport, root_sizes: Iterable[int] = (), writers: Sequence[Verifier] | None = None
    ) -> None:
        self.report = report
        self._writers = trusted_writers(writers) if writers is not None else None
        self._seen_signed = False
        report.writers_checked = writers is not None
        self._acc = RootAccumulator()
        self._root_sizes = set(root_sizes)
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in self._root_sizes else {}

    def feed(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Check the rows; False once a problem was found (the report says which).

        The hot loop of verification: locals only, the Merkle accumulator's ``add`` inlined.
        """
        report = self.report
        if not report.ok:
            return False
        sha256 = hashlib.sha256
        pack = _pack_position
        acc = self._acc
        stack = acc.stack
        root_sizes = self._root_sizes
        position = acc.size
        chain = report.chain_hash
        writers = self._writers
        try:
            for stored_position, entry, stored_leaf, stored_chain in rows:
                position += 1
                if stored_position != position:
                    report.fail(position, f"position {position} is missing (found {stored_position} instead)")
                    return False
                leaf = sha256(b"\x00" + entry).digest()
                if leaf != stored_leaf:
                    report.fail(
                        position, "the event's bytes do not match its leaf hash: the event was altered"
                    )
                    return False
                chain = sha256(b"\x02" + pack(position) + chain + leaf).digest()
                if chain != stored_chain:
                    report.fail(
                        position, "the chain hash does not follow from the previous one: history was altered"
                    )
                    return False
                stack.append(leaf)
                count = position
                while not count & 1:
                    right = stack.pop()
                    stack[-1] = sha256(b"\x01" + stack[-1] + right).digest()
                    count >>= 1
                if position in root_sizes:
                    acc.size = position
                    self.roots[position] = acc.root()
                if writers is not None:
                    self._check_writer(position, bytes(entry), writers)
        finally:
            if report.ok:
                acc.size = report.size = position
                report.chain_hash = chain
            else:
                acc.size = report.size = position - 1
        return True

    def _check_writer(self, position: int, entry: bytes, writers: dict[str, Verifier]) -> None:
        if not self._seen_signed and not is_signed(entry):
            self.report.unsigned_before += 1
            return
        self._seen_signed = True
        problem = check_writer(entry, writers)
        if problem is not None:
            self.report.foreign.append((position, problem))

    def finish(self) -> None:
        self.report.root = self._acc.root()


def check_checkpoint(
    report: VerifyReport,
    roots: dict[int, bytes],
    note: str,
    verifiers: Sequence[Verifier],
    origin: str | None,
    where: str,
    *,
    require_signature: bool = True,
) -> None:
    """Compare one checkpoint note with the roots the log actually has."""
    try:
        if verifiers or require_signature:
            checkpoint = open_checkpoint(note, verifiers)
        else:  # no keys given: the root still has to match, the signature cannot be checked
            checkpoint = Checkpoint.parse_body(note.partition("\n\n")[0] + "\n")
    except UntrustedCheckpoint:
        if require_signature:
            report.fail(None, f"{where}: the checkpoint carries no signature from a trusted key")
            return
        # a stored checkpoint signed by a key not given here (an older or another party's key): its
        # root must still match; a signature by a given key that does not verify fails above
        checkpoint = Checkpoint.parse_body(note.partition("\n\n")[0] + "\n")
        report.notes.append(f"{where} is signed by a key not given here; only its root was checked")
    except CheckpointError as exc:
        report.fail(None, f"{where}: {exc}")
        return
    if origin is not None and checkpoint.origin != origin:
        report.fail(None, f"{where} is for log {checkpoint.origin!r}, not {origin!r}")
        return
    if checkpoint.size > report.size:
        report.fail(
            report.size + 1,
            f"{where} was signed for {checkpoint.size} events but the log holds {report.size}: events were removed",
        )
        return
    if roots.get(checkpoint.size) != checkpoint.root:
        report.fail(
            checkpoint.size,
            f"{where} does not match the log at size {checkpoint.size}: events up to there were rewritten",
        )
        return
    report.checkpoints_checked += 1


def verify_entries(
    rows: Iterable[Sequence[Any]],
    *,
    notes: Sequence[str] = (),
    verifiers: Sequence[Verifier] = (),
    origin: str | None = None,
    writers: Sequence[Verifier] | None = None,
) -> VerifyReport:
    """Verify (position, entry, leaf_hash, chain_hash) rows against each other and against checkpoints,
    and each entry's writer signature when ``writers`` are given."""
    report = VerifyReport()
    sizes = [_note_size(n) for n in notes]
    checker = ChainChecker(report, [s for s in sizes if s is not None], writers)
    checker.feed(rows)
    checker.finish()
    for index, note in enumerate(notes, 1):
        if report.ok:
            check_checkpoint(report, checker.roots, note, verifiers, origin, f"checkpoint #{index}")
    return report


def verify_jsonl(
    path: Path,
    *,
    notes: Sequence[str] = (),
    verifiers: Sequence[Verifier] = (),
    origin: str | None = None,
    writers: Sequence[Verifier] | None = None,
) -> VerifyReport:
    """Verify an exported log file with no database: line n holds the canonical entry at position n."""

    def rows() -> Iterable[tuple[int, bytes, bytes, bytes]]:
        chain = ZERO_HASH
        with open(path, "rb") as handle:
            for position, line in enumerate(handle, 1):
                entry = line.rstrip(b"\n")
                leaf = hashlib.sha256(b"\x00" + entry).digest()
                chain = hashlib.sha256(b"\x02" + _pack_position(position) + chain + leaf).digest()
                yield position, entry, leaf, chain

    report = verify_entries(rows(), notes=notes, verifiers=verifiers, origin=origin, writers=writers)
    if report.ok and not notes:
        report.notes.append("no checkpoint was given: the file is self-consistent, but nothing anchors it")
    return report


def _note_size(note: str) -> int | None:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else None


_CONSISTENCY_SQL = """
SELECT min(position) FROM (
    SELECT e.position, e.stream_id, e.stream_version, e.event_id, e.event_type, e.schema_version,
           e.occurred_at, e.actor, e.causation_id, e.correlation_id, {copies}
           convert_from(e.entry, 'UTF8')::jsonb AS d,
           row_number() OVER (PARTITION BY e.stream_id ORDER BY e.position) AS expected_version
    FROM {source} e
) x
WHERE stream_version <> expected_version
   OR stream_id IS DISTINCT FROM d ->> 'stream_id'
   OR event_id IS DISTINCT FROM (d ->> 'event_id')::uuid
   OR event_type IS DISTINCT FROM d ->> 'type'
   OR schema_version IS DISTINCT FROM (d ->> 'schema_version')::integer
   OR occurred_at IS DISTINCT FROM (d ->> 'occurred_at')::timestamptz
   OR actor IS DISTINCT FROM d -> 'metadata' ->> 'actor'
   OR causation_id IS DISTINCT FROM d -> 'metadata' ->> 'causation_id'
   OR correlation_id IS DISTINCT FROM d -> 'metadata' ->> 'correlation_id'
   {copy_checks}
"""


async def _first_inconsistent_position(conninfo: str, role: str | None) -> int | None:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        if role:
            await conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        can_read_table = await (
            await conn.execute("SELECT has_table_privilege('eventlog.events', 'SELECT')")
        ).fetchone()
        if can_read_table and can_read_table[0]:
            query = _CONSISTENCY_SQL.format(
                copies="e.payload, e.metadata,",
                source="eventlog.events",
                copy_checks="OR payload IS DISTINCT FROM d -> 'payload' OR metadata IS DISTINCT FROM d -> 'metadata'",
            )
        else:
            query = _CONSISTENCY_SQL.format(copies="", source="eventlog.audit_events", copy_checks="")
        try:
            row = await (await conn.execute(query)).fetchone()
        except psycopg.DataError:
            # an entry the database cannot parse (not UTF-8 JSON, or a bad id, number or time in it)
            return await _first_unparsable_position(conn, query)
        return row[0] if row else None


async def _first_unparsable_position(conn: psycopg.AsyncConnection[Any], query: str) -> int | None:
    """The first position at which the column check fails to parse an entry.

    First one pass here for what is plainly broken (not UTF-8, not a JSON object); otherwise the
    database itself says where: whether the check fails over positions 1..p only depends on those
    rows, so a binary search over p with the same query finds the first one it cannot parse.
    """
    cur = conn.cursor(binary=True)
    async for position, entry in cur.stream(
        "SELECT position, entry FROM eventlog.audit_events ORDER BY position"
    ):
        try:
            doc = json.loads(bytes(entry).decode("utf-8"), parse_constant=_refuse_constant)
        except ValueError:
            return int(position)
        if not isinstance(doc, dict) or not isinstance(doc.get("metadata", {}), dict):
            return int(position)
    row = await (
        await conn.execute("SELECT coalesce(max(position), 0) FROM eventlog.audit_events")
    ).fetchone()
    low, high = 1, int(row[0]) if row else 0
    prefix = query.replace(
        "FROM eventlog.audit_events e", "FROM eventlog.audit_events e WHERE e.position <= {}"
    )
    prefix = prefix.replace("FROM eventlog.events e", "FROM eventlog.events e WHERE e.position <= {}")
    while low < high:
        middle = (low + high) // 2
        try:
            await conn.execute(prefix.format(middle))
        except psycopg.DataError:
            high = middle
        else:
            low = middle + 1
    return high or None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_READ_LOG = "SELECT position, entry, leaf_hash, chain_hash FROM eventlog.audit_events ORDER BY position"
_READ_PAGE = (
    "SELECT position, entry, leaf_hash, chain_hash FROM eventlog.audit_events "
    "WHERE position > %s ORDER BY position LIMIT %s"
)


def _log_rows(conn: psycopg.Connection[Any], batch_size: int) -> Iterator[Sequence[Any]]:
    """Every row of the log, in position order, from one snapshot.

    One query, streamed in chunks of ``batch_size`` rows (libpq's chunked rows mode): the server walks
    the index and sends the next rows while these are hashed, and the rows are built in C a chunk at a
    time, with no query and no round trip per page. A libpq older than 17 cannot stream in chunks:
    then keyset pages of ``batch_size``, in one read-only snapshot.
    """
    if psycopg.capabilities.has_stream_chunked():
        yield from conn.cursor(binary=True).stream(_READ_LOG, size=batch_size)
        return
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        position = 0
        while rows := conn.cursor(binary=True).execute(_READ_PAGE, (position, batch_size)).fetchall():
            yield from rows
            position = rows[-1][0]


def _read_and_check(conninfo: str, role: str | None, checker: ChainChecker, batch_size: int) -> None:
    """Feed every row of the log to the checker; stop reading at the first problem.

    (Reading in a second thread, as this once did, measured no faster and used more CPU: building
    rows and hashing both hold the interpreter lock; see docs/performance.md.)
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if role:
            conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        rows = _log_rows(conn, batch_size)
        try:
            checker.feed(rows)
        finally:
            rows.close()  # after a problem: cancels the query instead of reading the rest


async def verify_database(
    conninfo: str,
    *,
    role: str | None = None,
    notes: Sequence[str] = (),
    verifiers: Sequence[Verifier] = (),
    origin: str | None = None,
    check_columns: bool = False,
    batch_size: int = 20_000,
    writers: Sequence[Verifier] | None = None,
) -> VerifyReport:
    """Verify the whole log in the database (read-only; works with the auditor role); with
    ``writers``, also each event's writer signature (foreign events are listed in the report).

    The hash recomputation runs here, in Python, so it trusts nothing the database computed; the
    optional column check runs in the database at the same time, on a second connection.
    """
    report = VerifyReport()
    consistency = asyncio.create_task(_first_inconsistent_position(conninfo, role)) if check_columns else None
    try:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            if role:
                await conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
            stored = await (
                await conn.execute("SELECT size, note FROM eventlog.audit_checkpoints ORDER BY size")
            ).fetchall()
            sizes = [s for s, _ in stored] + [s for s in map(_note_size, notes) if s is not None]
            checker = ChainChecker(report, sizes, writers)
        await asyncio.to_thread(_read_and_check, conninfo, role, checker, batch_size)
        checker.finish()
        bad = await consistency if consistency is not None else None
        if report.ok and bad is not None:
            report.fail(
                bad, "a queried column disagrees with the hashed bytes (or a stream version is out of order)"
            )
        for size, note in stored:
            if report.ok:
                check_checkpoint(
                    report,
                    checker.roots,
                    note,
                    verifiers,
                    origin,
                    f"stored checkpoint at size {size}",
                    require_signature=False,
                )
        for index, note in enumerate(notes, 1):
            if report.ok:
                check_checkpoint(report, checker.roots, note, verifiers, origin, f"checkpoint file #{index}")
        if report.ok and not notes:
            report.notes.append(
                "checked against the database's own checkpoints only; give a checkpoint kept elsewhere "
                "to catch a rewrite by someone with full control of the database"
            )
    finally:
        if consistency is not None and not consistency.done():
            consistency.cancel()
    return report


async def checkpoint_database(
    conninfo: str,
    signer: Signer,
    origin: str,
    *,
    role: str | None = None,
    writers: Sequence[Verifier] | None = None,
    accepted_foreign: Iterable[int] = (),
) -> tuple[VerifyReport, str | None]:
    """Verify the whole log, then sign a checkpoint of it and store it in ``eventlog.checkpoints``.

    Returns the verification report and the signed note (``None`` when verification failed: a log
    that does not verify must not be signed). With ``writers``, a foreign event fails it too, unless
    its position is in ``accepted_foreign`` (one the layers above have dealt with, e.g. disowned).
    Keep a copy of the note outside the database.
    """
    report = await verify_database(
        conninfo, role=role, verifiers=[signer.verifier], origin=origin, writers=writers
    )
    accepted = set(accepted_foreign)
    unaccepted = [(position, why) for position, why in report.foreign if position not in accepted]
    if report.ok and unaccepted:
        position, why = unaccepted[0]
        report.fail(position, f"the event was not written by this log's writers: {why}")
    if not report.ok:
        return report, None
    note = sign_checkpoint(Checkpoint(origin=origin, size=report.size, root=report.root), signer)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        if role:
            await conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        await conn.execute(
            "INSERT INTO eventlog.checkpoints (size, root, note) VALUES (%s, %s, %s) ON CONFLICT (size) DO NOTHING",
            (report.size, report.root, note),
        )  # a checkpoint stored at this size already (maybe by another key) stays; it has the same root
    return report, note


async def export_jsonl(
    conninfo: str, path: Path, *, role: str | None = None, batch_size: int = 20_000
) -> int:
    """Write the whole log to ``path`` for ``verify_jsonl``: line n is the entry at position n."""
    count = 0
    tmp = path.with_name(path.name + ".partial")
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        if role:
            await conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        async with conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            with open(tmp, "wb") as out:
                position = 0
                while True:
                    cur = conn.cursor(binary=True)
                    await cur.execute(
                        "SELECT position, entry FROM eventlog.audit_events WHERE position > %s "
                        "ORDER BY position LIMIT %s",
                        (position, batch_size),
                    )
                    rows = await cur.fetchall()
                    if not rows:
                        break
                    out.writelines(bytes(entry) + b"\n" for _, entry in rows)
                    count += len(rows)
                    position = rows[-1][0]
    tmp.replace(path)
    return count
