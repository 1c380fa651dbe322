"""Signed checkpoints in the C2SP signed-note format, checked against Go's reference vectors."""

from __future__ import annotations

import hashlib

import pytest

from eventlog import Checkpoint, CheckpointError, Signer, Verifier, open_checkpoint, sign_checkpoint

# From golang.org/x/mod/sumdb/note's documentation and tests: Ed25519 signatures are deterministic,
# so our signer must reproduce the published note byte for byte.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNATURE = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def test_keys_and_signatures_match_the_go_reference_byte_for_byte() -> None:
    signer = Signer.from_key_string(GO_SKEY)
    assert signer.key_string() == GO_SKEY
    assert signer.verifier.key_string() == GO_VKEY
    assert Verifier.from_key_string(GO_VKEY).key_id == signer.verifier.key_id
    assert signer.sign_line(GO_TEXT) == GO_SIGNATURE


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # id does not match
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case id
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in the name
        "PeterNeumann+c74f20a3",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # wrong length
    ],
)
def test_malformed_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Verifier.from_key_string(bad)


def _signed(size: int = 42) -> tuple[Signer, str]:
    signer = Signer.generate("coproduce-test")
    checkpoint = Checkpoint("example.org/coproduce", size, hashlib.sha256(b"root").digest())
    return signer, sign_checkpoint(checkpoint, signer)


def test_a_signed_checkpoint_opens_to_what_was_signed() -> None:
    signer, note = _signed()
    assert note.startswith("example.org/coproduce\n42\n")
    checkpoint = open_checkpoint(note, [signer.verifier])
    assert checkpoint == Checkpoint("example.org/coproduce", 42, hashlib.sha256(b"root").digest())


def test_a_changed_checkpoint_is_caught() -> None:
    signer, note = _signed(42)
    with pytest.raises(CheckpointError, match="altered"):
        open_checkpoint(note.replace("\n42\n", "\n43\n", 1), [signer.verifier])


def test_a_checkpoint_signed_by_an_unknown_key_is_not_trusted() -> None:
    _, note = _signed()
    stranger = Signer.generate("coproduce-test")  # same name, different key
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        open_checkpoint(note, [stranger.verifier])


def test_extra_signatures_from_unknown_keys_are_ignored() -> None:
    signer, note = _signed()
    witness = Signer.generate("some-witness")
    cosigned = note + witness.sign_line(note.partition("\n\n")[0] + "\n")
    assert open_checkpoint(cosigned, [signer.verifier]).size == 42
    assert open_checkpoint(cosigned, [witness.verifier]).size == 42


@pytest.mark.parametrize(
    "note",
    [
        "example.org/coproduce\n42\nnot base64!\n\n— x AAAA\n",
        "example.org/coproduce\n42\n",
        "",
        "example.org/coproduce\n042\nAAAA\n\n— x AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    signer = Signer.generate("x")
    with pytest.raises(CheckpointError):
        open_checkpoint(note, [signer.verifier])
