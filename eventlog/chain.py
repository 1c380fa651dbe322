"""Checking a run of the log's rows: positions, leaf and chain hashes, the Merkle tree, writer signatures.

``ChainChecker`` is the hot loop every verification runs (``eventlog.verify`` over the whole log in one
process, ``eventlog.parallel`` over ranges of it in several); ``VerifyReport`` is what it finds.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checkpoint import Verifier
from .merkle import EMPTY_ROOT, RootAccumulator
from .writers import check_writer, is_signed, trusted_writers

ZERO_HASH = bytes(32)
pack_position = struct.Struct(">Q").pack


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
    With ``start``, it checks a range of the log that begins after position ``start`` (whose chain
    hash the caller puts in ``report.chain_hash``): its Merkle state then covers only the range's own
    leaves, and ``stacks`` holds that state (the subtree hashes) at each of ``root_sizes``, for
    ``eventlog.parallel`` to combine with the ranges before it. ``start`` must then be a multiple of
    a power of two at least as large as the range.
    """

    def __init__(
        self,
        report: VerifyReport,
        root_sizes: Iterable[int] = (),
        writers: Sequence[Verifier] | None = None,
        *,
        start: int | None = None,
    ) -> None:
        self.report = report
        self._writers = trusted_writers(writers) if writers is not None else None
        self._seen_signed = False
        self.first_signed: int | None = None  # position of the first event carrying a writer signature
        report.writers_checked = writers is not None
        self._acc = RootAccumulator()
        self._start = start or 0
        self._ranged = start is not None
        self._acc.size = report.size = self._start
        self._root_sizes = set(root_sizes)
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in self._root_sizes else {}
        self.stacks: dict[int, list[bytes]] = {}

    def feed(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Check the rows; False once a problem was found (the report says which).

        The hot loop of verification: locals only, the Merkle accumulator's ``add`` inlined.
        """
        report = self.report
        if not report.ok:
            return False
        sha256 = hashlib.sha256
        pack = pack_position
        acc = self._acc
        stack = acc.stack
        root_sizes = self._root_sizes
        position = acc.size
        start = self._start
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
                count = position - start
                while not count & 1:
                    right = stack.pop()
                    stack[-1] = sha256(b"\x01" + stack[-1] + right).digest()
                    count >>= 1
                if position in root_sizes:
                    self._remember(position)
                if writers is not None:
                    self._check_writer(position, bytes(entry), writers)
        finally:
            if report.ok:
                acc.size = report.size = position
                report.chain_hash = chain
            else:
                acc.size = report.size = position - 1
        return True

    def feed_entries(self, entries: Iterable[bytes]) -> None:
        """Check entries that come with no stored hashes (an exported file, line n at position n):
        their leaves, the Merkle tree and, with writers, their signatures. The chain hash is not
        computed: there is no stored one to compare it with, and the checkpoints sign the root."""
        sha256 = hashlib.sha256
        acc = self._acc
        stack = acc.stack
        root_sizes = self._root_sizes
        position = acc.size
        start = self._start
        writers = self._writers
        for entry in entries:
            position += 1
            stack.append(sha256(b"\x00" + entry).digest())
            count = position - start
            while not count & 1:
                right = stack.pop()
                stack[-1] = sha256(b"\x01" + stack[-1] + right).digest()
                count >>= 1
            if position in root_sizes:
                self._remember(position)
            if writers is not None:
                self._check_writer(position, entry, writers)
        acc.size = self.report.size = position

    def _remember(self, position: int) -> None:
        if self._ranged:
            self.stacks[position] = list(self._acc.stack)
        else:
            self.roots[position] = self._acc.root()

    def _check_writer(self, position: int, entry: bytes, writers: dict[str, Verifier]) -> None:
        if not self._seen_signed and not is_signed(entry):
            self.report.unsigned_before += 1
            return
        if not self._seen_signed:
            self._seen_signed = True
            self.first_signed = position
        problem = check_writer(entry, writers)
        if problem is not None:
            self.report.foreign.append((position, problem))

    def finish(self) -> None:
        self.report.root = self._acc.root()
