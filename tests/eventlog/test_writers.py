"""Writer signatures: each event the installation appends is signed over its exact canonical bytes, and
``check_writer`` says why any other entry is not the installation's own."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from eventlog import EventLog, Signer, canonical_json, checkpoint_database, verify_database
from eventlog.writers import SIGNED_CONTEXT, check_writer, is_signed, key_name, signed, trusted_writers

from .helpers import event

WRITER = Signer.generate("coproduce-test/writer")
TRUSTED = trusted_writers([WRITER.verifier])


def envelope(**changes: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=7)),
        "stream_id": "engagement-1",
        "type": "vote_cast",
        "schema_version": 1,
        "occurred_at": "2026-12-04T17:26:00.735648+00:00",
        "metadata": {"actor": "d1", "correlation_id": "engagement-1", "workflow_id": "engagement-1"},
        "payload": {"person_id": "d1", "phase_id": "setup", "choice": "abstain", "round": 1},
        **changes,
    }


def entry(doc: dict[str, Any]) -> bytes:
    return canonical_json(doc)


def test_a_signed_entry_checks_out_and_names_its_key() -> None:
    doc = signed(envelope(), WRITER)
    assert doc["metadata"]["writer"]["key"] == f"coproduce-test/writer+{WRITER.verifier.key_id.hex()}"
    assert key_name(WRITER.verifier) == doc["metadata"]["writer"]["key"]
    assert check_writer(entry(doc), TRUSTED) is None
    assert is_signed(entry(doc)) and not is_signed(entry(envelope()))


def test_the_signed_bytes_are_the_context_and_the_canonical_envelope_without_the_writer_field() -> None:
    """What docs/eventlog.md promises an auditor writing their own verifier, checked with a bare
    Ed25519 library: no coproduce code between the stored bytes and the signature."""
    stored = entry(signed(envelope(), WRITER))
    doc = json.loads(stored)
    writer = doc["metadata"].pop("writer")
    message = b"coproduce/event-writer/v1\n" + json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert SIGNED_CONTEXT == b"coproduce/event-writer/v1\n"
    Ed25519PublicKey.from_public_bytes(WRITER.verifier.public_key).verify(
        base64.b64decode(writer["sig"]), message
    )  # raises if it does not verify


@pytest.mark.parametrize(
    "field, value",
    [
        ("event_id", str(uuid.UUID(int=8))),
        ("stream_id", "engagement-2"),
        ("type", "gate_decided"),
        ("schema_version", 2),
        ("occurred_at", "2026-12-04T17:26:01.735648+00:00"),
    ],
)
def test_the_signature_covers_the_whole_envelope(field: str, value: object) -> None:
    doc = signed(envelope(), WRITER)
    doc[field] = value
    assert check_writer(entry(doc), TRUSTED) == "its writer signature does not match its content"


@pytest.mark.parametrize("where", ["payload", "metadata"])
def test_the_signature_covers_payload_and_metadata(where: str) -> None:
    doc = signed(envelope(), WRITER)
    doc[where] = {**doc[where], "person_id" if where == "payload" else "actor": "d2"}
    assert check_writer(entry(doc), TRUSTED) == "its writer signature does not match its content"


def test_an_unsigned_entry_is_not_the_installations() -> None:
    assert check_writer(entry(envelope()), TRUSTED) == "it carries no writer signature"


def test_another_key_is_not_trusted_even_under_the_installations_key_name() -> None:
    stranger = Signer.generate("coproduce-test/writer")
    why = check_writer(entry(signed(envelope(), stranger)), TRUSTED)
    assert why == (
        f"it is signed by key 'coproduce-test/writer+{stranger.verifier.key_id.hex()}', "
        "which is not a trusted writer key"
    )


def test_a_valid_signature_moved_onto_other_bytes_does_not_match() -> None:
    real = signed(envelope(), WRITER)
    forged = envelope(payload={**envelope()["payload"], "choice": "approve"})
    forged["metadata"] = real["metadata"]
    assert check_writer(entry(forged), TRUSTED) == "its writer signature does not match its content"


def test_bytes_that_are_not_canonical_are_refused_even_when_they_parse_to_the_signed_content() -> None:
    """A key given twice: this reader (and PostgreSQL's jsonb) keeps the last value, other readers the
    first, so the same bytes could show two contents; spaces or escapes likewise change the bytes."""
    stored = entry(signed(envelope(), WRITER))
    doubled = stored.replace(b'"payload":{', b'"payload":{"choice":"approve",', 1)  # first of two "choice"
    assert json.loads(doubled) == json.loads(stored)
    spaced = stored.replace(b'"type":"vote_cast"', b'"type": "vote_cast"')
    escaped = stored.replace(b'"d1"', b'"\\u0064\\u0031"', 1)
    for variant in (doubled, spaced, escaped):
        assert json.loads(variant) == json.loads(stored)
        assert check_writer(variant, TRUSTED) == (
            "its bytes are not canonical JSON (a repeated key, spaces, or escapes), so they are not what "
            "was signed"
        )


@pytest.mark.parametrize(
    "stored",
    [b"\xff not json", b"[1, 2]", b'"a string"', b'{"metadata": []}', b"{}", b'{"metadata": {"writer": 1'],
)
def test_what_is_not_an_event_entry_is_said_in_words(stored: bytes) -> None:
    assert check_writer(stored, TRUSTED) == "the event is not a readable JSON entry"


@pytest.mark.parametrize(
    "writer",
    ["a string", {"sig": "AAAA"}, {"key": 7, "sig": "AAAA"}],
)
def test_a_malformed_writer_field_is_said_so(writer: object) -> None:
    doc = envelope()
    doc["metadata"]["writer"] = writer
    assert check_writer(entry(doc), TRUSTED) == "its writer signature is malformed"


def test_a_signature_that_is_not_base64_is_malformed() -> None:
    doc = signed(envelope(), WRITER)
    doc["metadata"]["writer"]["sig"] = "not base64!"
    assert check_writer(entry(doc), TRUSTED) == "its writer signature is malformed"


async def test_the_log_signs_what_it_appends_and_verify_lists_what_it_did_not(database_url: str) -> None:
    """Events before the first signed one count as written before writers signed; after it, an
    unsigned event is foreign, and a checkpoint is refused until the layers above accept it."""
    async with await EventLog.open(database_url) as unsigned_log:
        await unsigned_log.append("s", [event(1), event(2)], 0)
    async with await EventLog.open(database_url, signer=WRITER) as writer_log:
        await writer_log.append("s", [event(3)], 2)
        stored = (await writer_log.read_stream("s"))[-1]
        assert check_writer(stored.entry, TRUSTED) is None
    async with await EventLog.open(database_url) as forger:
        await forger.append("s", [event(4)], 3)

    report = await verify_database(database_url, writers=[WRITER.verifier])
    assert report.ok and report.writers_checked
    assert report.unsigned_before == 2
    assert report.foreign == [(4, "it carries no writer signature")]
    assert (await verify_database(database_url)).foreign == []  # no keys: nothing can be said

    checkpointer = Signer.generate("coproduce-test-log")
    refused, note = await checkpoint_database(database_url, checkpointer, "o", writers=[WRITER.verifier])
    assert note is None
    assert refused.summary() == (
        "FAILED at position 4: the event was not written by this log's writers: it carries no writer signature"
    )
    accepted, note = await checkpoint_database(
        database_url, checkpointer, "o", writers=[WRITER.verifier], accepted_foreign=[4]
    )
    assert accepted.ok and note is not None


def test_signing_is_deterministic_for_the_same_envelope() -> None:
    """A retried append signs the same bytes the same way (Ed25519 is deterministic), so a retry that
    finds its event stored finds the same bytes."""
    when = datetime(2026, 12, 4, tzinfo=UTC).isoformat()
    assert entry(signed(envelope(occurred_at=when), WRITER)) == entry(
        signed(envelope(occurred_at=when), WRITER)
    )
