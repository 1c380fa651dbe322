"""RFC 6962 / 9162 Merkle trees: known answers, every proof for small trees, and adversarial proofs.

Known answers: the eight reference leaves of Certificate Transparency's tests and the roots of their
prefixes; the transparency-dev/merkle happy-path vectors (inclusion of leaf 0 in the tree of 8,
consistency 1 -> 8 and 2 -> 5). A verifier is security code, so each kind of forged proof must fail.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
HASHES = [leaf_hash(x) for x in LEAVES]
TREE = MerkleTree(HASHES)


def b64(*values: str) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_the_empty_tree_hashes_the_empty_string() -> None:
    assert root_of([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert MerkleTree([]).root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_rfc6962_reference_values(size: int) -> None:
    assert TREE.root(size).hex() == ROOTS[size - 1]
    assert root_of(HASHES[:size]).hex() == ROOTS[size - 1]


def test_inclusion_proof_matches_transparency_dev_vector() -> None:
    proof = b64(
        "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
        "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
        "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
    )
    assert TREE.inclusion_proof(0, 8) == proof
    verify_inclusion(0, 8, HASHES[0], proof, TREE.root(8))


@pytest.mark.parametrize(
    ("old", "new", "proof"),
    [
        (1, 8, ["lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=", "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="]),
        (2, 5, ["Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=", "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms="]),
    ],
)  # fmt: skip
def test_consistency_proofs_match_transparency_dev_vectors(old: int, new: int, proof: list[str]) -> None:
    assert TREE.consistency_proof(old, new) == b64(*proof)
    verify_consistency(old, new, TREE.root(old), TREE.root(new), b64(*proof))


def test_every_proof_in_every_small_tree_verifies() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(33)]
    tree = MerkleTree(leaves)
    for size in range(1, 34):
        root = tree.root(size)
        for index in range(size):
            verify_inclusion(index, size, leaves[index], tree.inclusion_proof(index, size), root)
        for old in range(1, size + 1):
            verify_consistency(old, size, tree.root(old), root, tree.consistency_proof(old, size))


def _inclusion_forgeries() -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:
    index, size = 2, 7
    proof = TREE.inclusion_proof(index, size)
    root = TREE.root(size)
    leaf = HASHES[index]
    flipped = bytes([proof[1][0] ^ 1]) + proof[1][1:]
    return [
        ("wrong index", index + 1, size, leaf, proof, root),
        ("index - 1", index - 1, size, leaf, proof, root),
        ("index beyond size", size, size, leaf, proof, root),
        ("wrong size (bigger)", index, size * 2, leaf, proof, root),
        ("wrong size (smaller)", index, size - 3, leaf, proof, root),
        ("swapped siblings", index, size, leaf, [proof[1], proof[0], *proof[2:]], root),
        ("a flipped bit", index, size, leaf, [proof[0], flipped, *proof[2:]], root),
        ("extra hash at the end", index, size, leaf, [*proof, proof[0]], root),
        ("extra hash at the start", index, size, leaf, [root, *proof], root),
        ("missing hash", index, size, leaf, proof[:-1], root),
        ("wrong leaf", index, size, HASHES[index + 1], proof, root),
        ("wrong root", index, size, leaf, proof, TREE.root(size - 1)),
        ("empty root", index, size, leaf, proof, EMPTY_ROOT),
        ("short hash", index, size, leaf, [proof[0][:31], *proof[1:]], root),
    ]


@pytest.mark.parametrize(("case", "index", "size", "leaf", "proof", "root"), _inclusion_forgeries())
def test_forged_inclusion_proofs_fail(
    case: str, index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, proof, root)


def _consistency_forgeries() -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    old, new = 3, 7
    proof = TREE.consistency_proof(old, new)
    r1, r2 = TREE.root(old), TREE.root(new)
    return [
        ("old size + 1", old + 1, new, r1, r2, proof),
        ("old size - 1", old - 1, new, r1, r2, proof),
        ("new size * 2", old, new * 2, r1, r2, proof),
        ("new size / 2", old, new // 2, r1, r2, proof),
        ("swapped roots", old, new, r2, r1, proof),
        ("swapped proof hashes", old, new, r1, r2, [proof[1], proof[0], *proof[2:]]),
        ("truncated proof", old, new, r1, r2, proof[:-1]),
        ("trailing garbage", old, new, r1, r2, [*proof, proof[0]]),
        ("preceding garbage", old, new, r1, r2, [r1, *proof]),
        ("empty proof", old, new, r1, r2, []),
        ("wrong old root", old, new, TREE.root(old - 1), r2, proof),
        ("wrong new root", old, new, r1, TREE.root(new - 1), proof),
        ("shrinking log", new, old, r2, r1, proof),
        ("same size, different roots", old, old, r1, r2, []),
        ("same size with a proof", old, old, r1, r1, proof),
    ]


@pytest.mark.parametrize(("case", "old", "new", "old_root", "new_root", "proof"), _consistency_forgeries())
def test_forged_consistency_proofs_fail(
    case: str, old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, new_root, proof)


def test_an_interior_node_cannot_pass_for_a_leaf() -> None:
    """Domain separation: without the 0x00/0x01 prefixes, a node over two leaves would be a 'leaf'."""
    two = MerkleTree(HASHES[:2])
    interior = node_hash(HASHES[0], HASHES[1])
    assert two.root() == interior
    forged_entry = HASHES[0] + HASHES[1]  # the bytes the interior node hashes, offered as an entry
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, leaf_hash(forged_entry), [], two.root())


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=300),
    data=st.data(),
)
def test_proofs_verify_and_any_single_bit_flip_breaks_them(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old = data.draw(st.integers(min_value=1, max_value=size))
    proof = tree.inclusion_proof(index, size)
    verify_inclusion(index, size, leaves[index], proof, tree.root())
    consistency = tree.consistency_proof(old, size)
    verify_consistency(old, size, tree.root(old), tree.root(), consistency)
    assert root_of(leaves) == tree.root()

    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bit = data.draw(st.integers(min_value=0, max_value=255))
        broken = list(proof)
        broken[i] = bytes([broken[i][bit // 8] ^ (1 << bit % 8)]).join(
            [broken[i][: bit // 8], broken[i][bit // 8 + 1 :]]
        )
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[index], broken, tree.root())
