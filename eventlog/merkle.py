"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification (SHA-256).

Leaves and interior nodes are domain-separated, so a node can never pass for a leaf:

    leaf  = SHA-256(0x00 || entry)
    node  = SHA-256(0x01 || left || right)
    empty = SHA-256("")

A tree over ``n`` leaves splits at ``k``, the largest power of two smaller than ``n``. The event log
numbers positions from 1; the tree numbers leaves from 0, so the event at position ``p`` is leaf
``p - 1``.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 literally, and check proof lengths and
indices before trusting anything: verification code is security code, so it is tested with the
transparency-dev vectors and with adversarial proofs (wrong index, wrong size, swapped siblings, extra
or missing hashes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (for ``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class RootAccumulator:
    """Computes the tree root over leaf hashes fed one at a time, in O(log n) memory.

    ``stack`` holds the roots of the perfect subtrees that make up the tree so far, largest first
    (one per set bit of ``size``). Adding leaf number ``size + 1`` merges as many subtrees as that
    number has trailing zero bits. The root folds the stack right to left, which is exactly RFC
    6962's left-heavy split. ``verify`` inlines ``add`` in its hot loop, using ``stack`` directly.
    """

    __slots__ = ("size", "stack")

    def __init__(self) -> None:
        self.stack: list[bytes] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        stack = self.stack
        stack.append(leaf)
        self.size += 1
        count = self.size
        while not count & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            count >>= 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.add(leaf)

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        h = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            h = _sha256(b"\x01" + left + h).digest()
        return h


def root_of(leaves: Iterable[bytes]) -> bytes:
    """The Merkle tree hash (MTH) over the given leaf hashes."""
    acc = RootAccumulator()
    acc.extend(leaves)
    return acc.root()


class MerkleTree:
    """A tree over a fixed list of leaf hashes, answering roots and proofs for any prefix size.

    Perfect, aligned subtrees are computed once per level, so a root or a proof costs O(log^2 n) hash
    look-ups after an O(n) build.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        levels = [list(leaves)]
        while len(levels[-1]) > 1:
            below = levels[-1]
            levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
        self._levels = levels
        self.size = len(leaves)

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); ``start`` is always a multiple of a power of two >= the range size."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:  # perfect subtree: stored at level log2(n)
            level = n.bit_length() - 1
            return self._levels[level][start >> level]
        k = _split(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")
        return self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[size]): the sibling hashes from the leaf up to the root."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[new_size]): shows the new tree extends the old one."""
        new_size = self.size if new_size is None else new_size
        if not 0 < old_size <= new_size <= self.size:
            raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
        proof: list[bytes] = []
        start, end, m, complete = 0, new_size, old_size, True
        while True:
            n = end - start
            if m == n:
                if not complete:
                    proof.append(self._subtree(start, end))
                break
            k = _split(n)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
                m -= k
                complete = False
        proof.reverse()
        return proof


class ProofError(ValueError):
    """A Merkle proof does not prove what it claims."""


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2: raise ``ProofError`` unless ``proof`` shows leaf ``index`` is in the tree."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if any(len(h) != HASH_SIZE for h in (leaf, root, *proof)):
        raise ProofError("every hash in an inclusion proof must be 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("inclusion proof does not lead to the given root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: raise ``ProofError`` unless the tree of ``new_size`` extends that of ``old_size``."""
    if any(len(h) != HASH_SIZE for h in (old_root, new_root, *proof)):
        raise ProofError("every hash in a consistency proof must be 32 bytes")
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"a tree of size {new_size} cannot extend one of size {old_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("a tree is consistent with itself only with an empty proof")
        if old_root != new_root:
            raise ProofError("same size but different roots: the log was rewritten")
        return
    if old_size == 0:
        if proof:
            raise ProofError("consistency with the empty tree needs an empty proof")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than needed")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")
