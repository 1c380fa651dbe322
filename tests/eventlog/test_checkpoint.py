"""Signed checkpoints in the C2SP signed-note format, checked against Go's reference vectors."""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventlog import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    WitnessSigner,
    WitnessVerifier,
    cosign,
    cosignatures,
    open_checkpoint,
    sign_checkpoint,
)
from eventlog.checkpoint import cosigned_message

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


# --- witness cosignatures (C2SP tlog-cosignature, cosignature/v1) ---

SEED = bytes(range(32))  # a fixed witness seed, so the answers below are known


def _witness() -> WitnessSigner:
    return WitnessSigner("witness.example/w1", Ed25519PrivateKey.from_private_bytes(SEED))


def test_a_witness_key_id_and_key_strings_use_key_type_0x04() -> None:
    witness = _witness()
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    key_id = hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    assert witness.verifier.key_id == key_id
    public_b64 = base64.b64encode(b"\x04" + public).decode()
    seed_b64 = base64.b64encode(b"\x04" + SEED).decode()
    assert witness.verifier.key_string() == f"witness.example/w1+{key_id.hex()}+{public_b64}"
    assert witness.key_string() == f"PRIVATE+KEY+witness.example/w1+{key_id.hex()}+{seed_b64}"
    assert WitnessSigner.from_key_string(witness.key_string()).verifier.key_id == key_id
    assert WitnessVerifier.from_key_string(witness.verifier.key_string()).key_id == key_id


def test_log_keys_and_witness_keys_are_never_taken_for_one_another() -> None:
    witness = _witness()
    log = Signer.generate("log")
    with pytest.raises(ValueError, match="witness"):
        Verifier.from_key_string(witness.verifier.key_string())
    with pytest.raises(ValueError, match="witness"):
        Signer.from_key_string(witness.key_string())
    with pytest.raises(ValueError, match="log"):
        WitnessVerifier.from_key_string(log.verifier.key_string())
    with pytest.raises(ValueError, match="log"):
        WitnessSigner.from_key_string(log.key_string())


def test_the_cosigned_message_is_header_time_and_the_whole_body() -> None:
    body = "example.org/coproduce\n42\n" + base64.b64encode(bytes(32)).decode() + "\n"
    assert cosigned_message(body, 1700000000) == b"cosignature/v1\ntime 1700000000\n" + body.encode()


def test_a_cosignature_matches_one_derived_by_hand() -> None:
    signer, note = _signed(42)
    body = note.partition("\n\n")[0] + "\n"
    timestamp = 1_765_000_000
    # By hand: Ed25519 is deterministic, so the line is fixed by the seed, the time and the body.
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    key_id = hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    message = b"cosignature/v1\ntime 1765000000\n" + body.encode()
    signature = Ed25519PrivateKey.from_private_bytes(SEED).sign(message)
    blob = key_id + struct.pack(">Q", timestamp) + signature
    expected = f"— witness.example/w1 {base64.b64encode(blob).decode()}\n"
    cosigned = cosign(note, _witness(), timestamp)
    assert cosigned == note + expected
    witness_key = _witness().verifier
    assert cosignatures(cosigned, [witness_key]) == {witness_key.key_string(): timestamp}
    # the log's own check still opens the note, ignoring the cosignature
    assert open_checkpoint(cosigned, [signer.verifier]).size == 42


def test_a_missing_cosignature_is_reported_and_unknown_ones_ignored() -> None:
    _, note = _signed()
    other = WitnessSigner.generate("witness.example/other")
    cosigned = cosign(note, other, 1)
    mine = _witness().verifier
    assert cosignatures(cosigned, [mine]) == {mine.key_string(): None}


@pytest.mark.parametrize(
    "alter",
    [
        lambda n: n.replace("\n42\n", "\n43\n", 1),  # size
        lambda n: n.replace("example.org", "example.com", 1),  # body
    ],
)
def test_an_altered_body_breaks_the_cosignature(alter: Callable[[str], str]) -> None:
    _, note = _signed(42)
    cosigned = cosign(note, _witness(), 1000)
    with pytest.raises(CheckpointError, match="altered"):
        cosignatures(alter(cosigned), [_witness().verifier])


def test_an_altered_time_breaks_the_cosignature() -> None:
    _, note = _signed(42)
    cosigned = cosign(note, _witness(), 1000)
    line = cosigned.rstrip("\n").rsplit("\n", 1)[1]
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[4:12] = struct.pack(">Q", 1001)
    forged = cosigned.replace(line, f"— witness.example/w1 {base64.b64encode(bytes(blob)).decode()}")
    with pytest.raises(CheckpointError, match="altered"):
        cosignatures(forged, [_witness().verifier])


def test_a_witness_key_only_cosigns() -> None:
    with pytest.raises(TypeError, match="only cosigns"):
        _witness().sign_line("example.org/coproduce\n1\nAAAA\n")
    with pytest.raises(ValueError, match="time"):
        _witness().cosign_line("no final newline", 1)
