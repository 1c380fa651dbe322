"""Verification on every core: the log cut into aligned ranges, each checked in a process of its own.

Checking a log is reading every row and hashing it three times (the leaf, the chain link, about one
Merkle node), all in Python, so one process keeps one core busy. Here the positions ``1..size`` are
cut into ranges of ``chunk`` positions (a power of two), and a pool of processes checks them, each
range on its own connection, exactly as ``ChainChecker`` checks the whole log:

- **positions** must run ``start + 1 .. end`` with no gap. ``size`` is the last position when the
  check begins; positions are given out in commit order under one lock, so every position up to it
  is committed, and a missing one is a real gap;
- **leaf and chain hashes** are recomputed from the stored bytes. A range starts from the *stored*
  chain hash of the position before it, which is safe because the range before checks that very
  row's stored chain hash against the one it computed: the links are checked at every boundary;
- **the Merkle tree**: a range that starts at a multiple of ``chunk`` and holds ``chunk`` leaves is a
  perfect subtree of the log's tree (RFC 6962 splits at powers of two), so its root stands for all
  its leaves; the last, shorter range gives the subtrees it holds. ``combine`` stacks them as
  ``RootAccumulator`` stacks single leaves and folds the stack into the root. A checkpoint's size
  inside a range is answered by the subtrees before the range plus the range's own state at that
  size;
- **writer signatures** are checked in the ranges; only "is this before the first signed event" needs
  the ranges before, so each range reports its first signed position and how many unsigned events
  came before it, and ``combine`` decides.

The first failing range, in position order, decides the report, so it names the same first failing
position as the one-process check. Nothing computed by the database is trusted: the rows are read
and every hash is computed here, in the worker processes.

``verify_jsonl`` does the same on an exported file, whose ranges are found by counting lines.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from .chain import ZERO_HASH, ChainChecker, VerifyReport
from .checkpoint import Verifier
from .merkle import EMPTY_ROOT, RootAccumulator
from .writers import check_writer, trusted_writers

CHUNK = 1 << 16  # positions per range: 65,536 (about 40 MB of rows), a power of two
MIN_PARALLEL_SIZE = 2 * CHUNK  # below this, starting processes costs more than it saves

_READ_RANGE = (
    "SELECT position, entry, leaf_hash, chain_hash FROM eventlog.audit_events "
    "WHERE position >= %s AND position <= %s ORDER BY position"
)
_READ_ENTRIES = "SELECT position, entry FROM eventlog.audit_events WHERE position > %s AND position <= %s ORDER BY position"


def default_processes() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ranges(size: int, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """``(start, end)`` for each range: positions ``start + 1 .. end``, ``start`` a multiple of ``chunk``."""
    if chunk < 1 or chunk & (chunk - 1):
        raise ValueError(f"the range size must be a power of two, not {chunk}")
    return [(start, min(start + chunk, size)) for start in range(0, size, chunk)]


@dataclass
class RangeOutcome:
    """What checking one range found: sent back from a worker process, so plain data only."""

    start: int
    end: int
    size: int = 0  # the last position that checked out, in order
    chain_hash: bytes = b""
    stack: list[bytes] = field(default_factory=list)  # the range's perfect subtrees, largest first
    stacks: dict[int, list[bytes]] = field(default_factory=dict)  # the same at checkpoint sizes
    failed_position: int | None = None
    problem: str | None = None
    first_signed: int | None = None
    unsigned_before: int = 0  # unsigned events before the range's first signed one
    foreign: list[tuple[int, str]] = field(default_factory=list)


def _outcome(start: int, end: int, checker: ChainChecker, report: VerifyReport) -> RangeOutcome:
    return RangeOutcome(
        start=start,
        end=end,
        size=report.size,
        chain_hash=report.chain_hash,
        stack=list(checker._acc.stack),
        stacks=checker.stacks,
        failed_position=report.failed_position,
        problem=report.problem,
        first_signed=checker.first_signed,
        unsigned_before=report.unsigned_before,
        foreign=report.foreign,
    )


def _verifiers(keys: Sequence[tuple[str, bytes]] | None) -> list[Verifier] | None:
    return None if keys is None else [Verifier(name, key) for name, key in keys]


def check_database_range(
    conninfo: str,
    role: str | None,
    start: int,
    end: int,
    root_sizes: Sequence[int],
    writer_keys: Sequence[tuple[str, bytes]] | None,
    batch_size: int,
) -> RangeOutcome:
    """Check positions ``start + 1 .. end`` of the log in the database (run in a worker process)."""
    report = VerifyReport()
    checker = ChainChecker(report, root_sizes, _verifiers(writer_keys), start=start)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if role:
            conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        rows = conn.cursor(binary=True).stream(_READ_RANGE, (start, end), size=batch_size)
        try:
            if start:  # the row before the range: where its chain starts (checked by the range before)
                first = next(rows, None)
                if first is None or first[0] != start:
                    report.fail(start, f"position {start} is missing")
                    return _outcome(start, end, checker, report)
                report.chain_hash = bytes(first[3])
            else:
                report.chain_hash = ZERO_HASH
            checker.feed(rows)
        finally:
            rows.close()
    if report.ok and report.size < end:
        report.fail(report.size + 1, f"position {report.size + 1} is missing")
    return _outcome(start, end, checker, report)


def check_file_range(
    path: str,
    start: int,
    end: int,
    offset: int,
    root_sizes: Sequence[int],
    writer_keys: Sequence[tuple[str, bytes]] | None,
) -> RangeOutcome:
    """Check lines ``start + 1 .. end`` of an exported log, the first at byte ``offset`` (in a worker)."""
    report = VerifyReport()
    checker = ChainChecker(report, root_sizes, _verifiers(writer_keys), start=start)
    with open(path, "rb") as handle:
        handle.seek(offset)
        checker.feed_entries(line.rstrip(b"\n") for _, line in zip(range(end - start), handle, strict=False))
    return _outcome(start, end, checker, report)


def fold(stack: Sequence[bytes]) -> bytes:
    """The root of a tree made of these perfect subtrees, largest first."""
    acc = RootAccumulator()
    acc.stack = list(stack)
    return acc.root()


def combine(
    outcomes: Iterable[RangeOutcome],
    report: VerifyReport,
    root_sizes: Iterable[int],
    chunk: int,
    unsigned_problems: Callable[[int, int], list[tuple[int, str]]] | None = None,
) -> dict[int, bytes]:
    """Fold the ranges' outcomes, in position order, into ``report`` (a ``VerifyReport``); returns the
    Merkle root at each of ``root_sizes`` reached.

    ``unsigned_problems(start, end)`` says why each event in ``start + 1 .. end`` is not a writer's:
    called only for unsigned events that follow a signed one in an earlier range.
    """
    roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in set(root_sizes) else {}
    stack: list[bytes] = []  # perfect subtrees of the ranges so far, largest first
    ranges_done = 0
    seen_signed = False
    for outcome in outcomes:
        for size, local in outcome.stacks.items():
            roots[size] = fold(stack + local)
        if report.writers_checked:
            if not seen_signed:
                report.unsigned_before += outcome.unsigned_before
            elif outcome.unsigned_before and unsigned_problems is not None:
                leading_end = outcome.start + outcome.unsigned_before
                report.foreign.extend(unsigned_problems(outcome.start, leading_end))
            seen_signed = seen_signed or outcome.first_signed is not None
            report.foreign.extend(outcome.foreign)
        if outcome.problem is not None:
            report.fail(outcome.failed_position, outcome.problem)
            report.size = outcome.size
            break
        report.size, report.chain_hash = outcome.end, outcome.chain_hash
        if outcome.end - outcome.start == chunk:  # one perfect subtree: merge as a leaf would be
            stack.append(fold(outcome.stack))
            ranges_done += 1
            count = ranges_done
            while not count & 1:
                right = stack.pop()
                stack[-1] = fold([stack[-1], right])
                count >>= 1
        else:  # the last range: its smaller subtrees follow
            stack.extend(outcome.stack)
    report.root = fold(stack)
    return roots


def run_ranges(
    work: Callable[..., RangeOutcome], arguments: Sequence[tuple[Any, ...]], processes: int
) -> Iterator[RangeOutcome]:
    """``work(*args)`` for each of ``arguments`` on a pool of ``processes``, yielded in order; stops
    the rest once a range fails (or the caller stops reading)."""
    # "spawn": a fresh interpreter per worker. Forking a process that runs threads (asyncio's, the
    # Temporal SDK's) can copy a lock held by another thread and hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures: list[Future[RangeOutcome]] = [pool.submit(work, *args) for args in arguments]
        try:
            for future in futures:
                outcome = future.result()
                yield outcome
                if outcome.problem is not None:
                    break
        finally:
            for future in futures:
                future.cancel()


def file_ranges(path: Path, size: int, chunk: int) -> list[tuple[int, int, int]]:
    """``(start, end, offset)`` for each range of a file of ``size`` lines: ``offset`` is where line
    ``start + 1`` begins. Newlines are counted a block at a time; only the last block before each
    range's start is searched line by line."""
    result: list[tuple[int, int, int]] = []
    lines = offset = 0  # newlines before byte `offset`, where `block` begins
    block = b""
    with open(path, "rb") as handle:
        for start, end in ranges(size, chunk):
            while lines + block.count(b"\n") < start:
                lines += block.count(b"\n")
                offset += len(block)
                block = handle.read(1 << 16)
                if not block:
                    raise ValueError(f"the file holds fewer than {start} lines")
            at = -1
            for _ in range(start - lines):
                at = block.index(b"\n", at + 1)
            lines, offset, block = start, offset + at + 1, block[at + 1 :]
            result.append((start, end, offset))
    return result


def count_lines(path: Path) -> int:
    """Lines in the file (the last may lack its newline)."""
    count = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 23):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def read_unsigned_problems_db(
    conninfo: str, role: str | None, writers: Sequence[Verifier]
) -> Callable[[int, int], list[tuple[int, str]]]:
    """``unsigned_problems`` for ``combine``, reading the events again from the database."""
    trusted = trusted_writers(writers)

    def problems(start: int, end: int) -> list[tuple[int, str]]:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if role:
                conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
            rows = conn.cursor(binary=True).execute(_READ_ENTRIES, (start, end)).fetchall()
        return [(position, check_writer(bytes(entry), trusted) or "") for position, entry in rows]

    return problems


def read_unsigned_problems_file(
    path: Path, offsets: dict[int, int], writers: Sequence[Verifier]
) -> Callable[[int, int], list[tuple[int, str]]]:
    """``unsigned_problems`` for ``combine``, reading the lines again from the file."""
    trusted = trusted_writers(writers)

    def problems(start: int, end: int) -> list[tuple[int, str]]:
        with open(path, "rb") as handle:
            handle.seek(offsets[start])
            lines = [handle.readline().rstrip(b"\n") for _ in range(end - start)]
        return [(start + n, check_writer(line, trusted) or "") for n, line in enumerate(lines, 1)]

    return problems
