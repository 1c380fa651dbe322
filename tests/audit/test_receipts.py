"""A voter's receipt, checked offline: it verifies against the log's key, and any change to it is caught.

The receipts here are made from a real Merkle tree of event-shaped entries and a real signed checkpoint
(Ed25519), the same way the web app makes them; the end-to-end test in tests/web makes one from a live
log and checks it with the command line.
"""

from __future__ import annotations

import base64
import json

import pytest

from application.audit.receipts import make_receipt, verify_receipt
from eventlog import Signer
from eventlog.checkpoint import Checkpoint, sign_checkpoint
from eventlog.merkle import MerkleTree, leaf_hash


def entry(n: int) -> bytes:
    return json.dumps({"type": "vote_cast", "stream_id": "eng-1", "payload": {"person_id": f"t{n}"}}).encode()


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("coproduce.test/log")


def receipt_for(signer: Signer, position: int, size: int = 11) -> dict[str, object]:
    entries = [entry(n) for n in range(1, size + 1)]
    leaves = [leaf_hash(e) for e in entries]
    note = sign_checkpoint(Checkpoint(signer.name, size, MerkleTree(leaves).root()), signer)
    return make_receipt("eng-1", position, entries[position - 1], leaves, note, signer.verifier.key_string())


@pytest.mark.parametrize("position", [1, 6, 11])
def test_a_receipt_verifies_against_the_logs_key(signer: Signer, position: int) -> None:
    check = verify_receipt(json.dumps(receipt_for(signer, position)), [signer.verifier])
    assert check.ok, check.lines
    assert check.lines[-1].startswith(f"OK: the vote is entry {position} of the 11")


def tampered(receipt: dict[str, object], change: str) -> dict[str, object]:
    altered = dict(receipt)
    if change == "entry":
        altered["entry"] = base64.b64encode(entry(99)).decode()
    elif change == "position":
        altered["position"] = int(receipt["position"]) + 1  # type: ignore[call-overload]
    elif change == "proof":
        proof = list(receipt["inclusion_proof"])  # type: ignore[call-overload]
        proof[0] = "00" * 32
        altered["inclusion_proof"] = proof
    elif change == "checkpoint":
        altered["checkpoint"] = str(receipt["checkpoint"]).replace("\n11\n", "\n12\n", 1)
    return altered


@pytest.mark.parametrize("change", ["entry", "position", "proof", "checkpoint"])
def test_a_changed_receipt_fails(signer: Signer, change: str) -> None:
    check = verify_receipt(json.dumps(tampered(receipt_for(signer, 4), change)), [signer.verifier])
    assert not check.ok and any(line.startswith("FAILED") for line in check.lines), check.lines


def test_a_receipt_signed_by_another_key_fails_against_the_logs_key(signer: Signer) -> None:
    impostor = Signer.generate(signer.name)
    check = verify_receipt(json.dumps(receipt_for(impostor, 3)), [signer.verifier])
    assert not check.ok and "not signed by a trusted key" in check.lines[-1]


def test_a_receipt_without_a_checkpoint_yet_says_to_fetch_it_again(signer: Signer) -> None:
    early = make_receipt("eng-1", 3, entry(3), None, None, signer.verifier.key_string())
    check = verify_receipt(json.dumps(early), [signer.verifier])
    assert not check.ok and "download it again" in check.lines[-1]


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"format": "coproduce-receipt/v1"}', "not json"])
def test_something_that_is_not_a_receipt_says_so(text: str, signer: Signer) -> None:
    check = verify_receipt(text, [signer.verifier])
    assert not check.ok and check.lines[0].startswith("FAILED: the receipt cannot be read")
