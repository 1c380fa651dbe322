"""A witness's rule (C2SP tlog-witness): it cosigns only checkpoints the log signed that extend, by a
consistency proof, the last one it cosigned; it never cosigns N+K and later N; a refusal changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from application.audit import witness
from eventlog import Checkpoint, Signer, WitnessSigner, cosignatures, sign_checkpoint
from eventlog.merkle import MerkleTree, leaf_hash

ORIGIN = "example.org/coproduce"
LEAVES = [leaf_hash(f"event {i}".encode()) for i in range(20)]
TREE = MerkleTree(LEAVES)
LOG = Signer.generate("coproduce-log")
WITNESS = WitnessSigner.generate("funder.example/witness")


def note(size: int, signer: Signer = LOG, tree: MerkleTree = TREE) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), signer)


def request(old: int, size: int, signer: Signer = LOG, tree: MerkleTree = TREE) -> str:
    proof = tree.consistency_proof(old, size) if 0 < old < size else []
    return witness.request_text(old, proof, note(size, signer, tree))


def cosign(text: str, state: Path) -> str:
    return witness.add_checkpoint(text, witness=WITNESS, log_keys=[LOG.verifier], state_file=state, now=1234)


def test_first_use_accepts_old_0_and_cosigns(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cosigned = cosign(request(0, 5), state)
    assert cosigned.startswith(note(5))
    assert cosignatures(cosigned, [WITNESS.verifier]) == {WITNESS.verifier.key_string(): 1234}
    assert '"size": 5' in state.read_text()


def test_a_growing_log_is_cosigned_step_by_step(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cosign(request(0, 5), state)
    cosign(request(5, 13), state)
    cosign(request(13, 13), state)  # same size, same root: fine
    cosign(request(13, 20), state)
    assert '"size": 20' in state.read_text()


def _refused(text: str, state: Path, match: str) -> None:
    before = state.read_bytes() if state.exists() else None
    with pytest.raises(witness.WitnessRefusal, match=match):
        cosign(text, state)
    assert (state.read_bytes() if state.exists() else None) == before
    assert [p.name for p in state.parent.iterdir()] == ([state.name] if before is not None else [])


def test_rolling_back_from_n_plus_k_to_n_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cosign(request(0, 13), state)
    _refused(request(13, 5), state, "rolled back")
    _refused(request(0, 5), state, "size 13")


def test_a_stale_old_size_is_refused_with_the_size_the_witness_knows(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cosign(request(0, 5), state)
    with pytest.raises(witness.StaleSize) as caught:
        cosign(request(3, 13), state)
    assert caught.value.known == 5
    assert "--old 5" in str(caught.value)


def test_a_bad_consistency_proof_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cosign(request(0, 5), state)
    proof = TREE.consistency_proof(5, 13)
    proof[0] = hashlib.sha256(b"not it").digest()
    _refused(witness.request_text(5, proof, note(13)), state, "not consistent")
    _refused(witness.request_text(5, [], note(13)), state, "not consistent")


def test_a_rewritten_log_of_the_same_size_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cosign(request(0, 13), state)
    rewritten = MerkleTree([leaf_hash(b"rewritten"), *LEAVES[1:]])
    _refused(request(13, 13, tree=rewritten), state, "not consistent")
    _refused(request(13, 20, tree=rewritten), state, "not consistent")


def test_a_checkpoint_the_log_did_not_sign_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    forger = Signer.generate("coproduce-log")  # same name, another key
    _refused(request(0, 5, signer=forger), state, "not signed by the log")
    altered = request(0, 5).replace("\n5\n", "\n6\n", 1)
    _refused(altered, state, "not signed by the log")


@pytest.mark.parametrize("text", ["", "old x\n\n", "new 0\n\n", "old 0\nnot base64!\n\n"])
def test_malformed_requests_are_refused(tmp_path: Path, text: str) -> None:
    _refused(text + note(5), tmp_path / "state.json", "request|base64")
