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
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg

from . import parallel
from .chain import ChainChecker, VerifyReport
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    UntrustedCheckpoint,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
)


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
    processes: int | None = None,
    chunk: int = parallel.CHUNK,
) -> VerifyReport:
    """Verify an exported log file with no database: line n holds the canonical entry at position n.

    A file of at least ``parallel.MIN_PARALLEL_SIZE`` lines is checked on every core (``processes``
    says how many; 1 checks it here, in this process): see ``eventlog.parallel``."""
    report = VerifyReport()
    sizes = [s for s in map(_note_size, notes) if s is not None]
    lines = parallel.count_lines(path)
    workers = _process_count(processes, lines, chunk)
    if workers > 1:
        spans = parallel.file_ranges(path, lines, chunk)
        keys = _writer_keys(writers)
        work = [(str(path), s, e, offset, [x for x in sizes if s < x <= e], keys) for s, e, offset in spans]
        report.writers_checked = writers is not None
        problems = (
            parallel.read_unsigned_problems_file(path, {s: o for s, _, o in spans}, writers)
            if writers is not None
            else None
        )
        outcomes = parallel.run_ranges(parallel.check_file_range, work, workers)
        roots = parallel.combine(outcomes, report, sizes, chunk, problems)
    else:
        checker = ChainChecker(report, sizes, writers)
        with open(path, "rb") as handle:
            checker.feed_entries(line.rstrip(b"\n") for line in handle)
        checker.finish()
        roots = checker.roots
    for index, note in enumerate(notes, 1):
        if report.ok:
            check_checkpoint(report, roots, note, verifiers, origin, f"checkpoint #{index}")
    if report.ok and not notes:
        report.notes.append("no checkpoint was given: the file is self-consistent, but nothing anchors it")
    return report


def _process_count(processes: int | None, size: int, chunk: int) -> int:
    """How many processes check a log of ``size`` events: 1 (here) unless there are ranges to share."""
    if processes is None:
        processes = parallel.default_processes() if size >= parallel.MIN_PARALLEL_SIZE else 1
    return max(1, min(processes, -(-size // chunk)))


def _writer_keys(writers: Sequence[Verifier] | None) -> list[tuple[str, bytes]] | None:
    return None if writers is None else [(v.name, v.public_key) for v in writers]


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


def _check_in_ranges(
    conninfo: str,
    role: str | None,
    report: VerifyReport,
    sizes: list[int],
    writers: Sequence[Verifier] | None,
    size: int,
    chunk: int,
    processes: int,
    batch_size: int,
) -> dict[int, bytes]:
    """Check the log's first ``size`` positions in ranges, on ``processes`` processes."""
    keys = _writer_keys(writers)
    work = [
        (conninfo, role, start, end, [x for x in sizes if start < x <= end], keys, min(batch_size, chunk))
        for start, end in parallel.ranges(size, chunk)
    ]
    report.writers_checked = writers is not None
    problems = parallel.read_unsigned_problems_db(conninfo, role, writers) if writers is not None else None
    outcomes = parallel.run_ranges(parallel.check_database_range, work, processes)
    return parallel.combine(outcomes, report, sizes, chunk, problems)


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
    processes: int | None = None,
    chunk: int = parallel.CHUNK,
) -> VerifyReport:
    """Verify the whole log in the database (read-only; works with the auditor role); with
    ``writers``, also each event's writer signature (foreign events are listed in the report).

    The hash recomputation runs here, in Python, so it trusts nothing the database computed; the
    optional column check runs in the database at the same time, on a second connection. A log of
    at least ``parallel.MIN_PARALLEL_SIZE`` events is checked in ranges of ``chunk`` positions on
    every core (``processes`` says how many; 1 reads it in one pass here): see ``eventlog.parallel``.
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
            last = await (
                await conn.execute("SELECT coalesce(max(position), 0) FROM eventlog.audit_events")
            ).fetchone()
        workers = _process_count(processes, int(last[0]) if last else 0, chunk)
        if workers > 1:
            roots = await asyncio.to_thread(
                _check_in_ranges, conninfo, role, report, sizes, writers, int(last[0]) if last else 0,
                chunk, workers, batch_size,
            )  # fmt: skip
        else:
            checker = ChainChecker(report, sizes, writers)
            await asyncio.to_thread(_read_and_check, conninfo, role, checker, batch_size)
            checker.finish()
            roots = checker.roots
        bad = await consistency if consistency is not None else None
        if report.ok and bad is not None:
            report.fail(
                bad, "a queried column disagrees with the hashed bytes (or a stream version is out of order)"
            )
        for size, note in stored:
            if report.ok:
                check_checkpoint(
                    report,
                    roots,
                    note,
                    verifiers,
                    origin,
                    f"stored checkpoint at size {size}",
                    require_signature=False,
                )
        for index, note in enumerate(notes, 1):
            if report.ok:
                check_checkpoint(report, roots, note, verifiers, origin, f"checkpoint file #{index}")
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
