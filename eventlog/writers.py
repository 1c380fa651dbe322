"""Writer signatures: proof of who appended an event, made with a key the database never holds.

The hash chain proves that the log was not *changed*; it cannot prove who *added* an event, because
anyone with the writer's database login may append. So each writer of an installation (its workers,
and the few operator commands that append) holds an Ed25519 key outside the database, in a secret
store or a key file, and signs every event it appends. The signature travels inside the event's
metadata, so the hash chain covers it and an exported file carries it::

    "metadata": {..., "writer": {"key": "<name>+<key id, 8 hex digits>", "sig": "<base64>"}}

It signs ``SIGNED_CONTEXT`` followed by the event's canonical bytes (RFC 8785) *without* the
``writer`` field, that is, the whole envelope: event id, stream, type, schema version, the time it
occurred, the rest of the metadata and the payload. Anyone holding the writer's public key can check
it, offline, from the stored bytes alone (``check_writer``): the stored bytes must be canonical
themselves (so no reader can see other content in them, say the first of a key given twice where
this reader sees the last); remove the ``writer`` field, canonicalise, verify. An event appended with
the database login but without the key carries no valid signature, and every reader that checks can
tell it is not the installation's own.

Keys are C2SP note keys, as for checkpoints (``checkpoint.Signer`` and ``Verifier``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .canonical import canonical_json
from .checkpoint import Signer, Verifier

SIGNED_CONTEXT = b"coproduce/event-writer/v1\n"
WRITER_FIELD = "writer"


def key_name(verifier: Verifier) -> str:
    """How an event names the key that signed it: ``<name>+<key id hex>``."""
    return f"{verifier.name}+{verifier.key_id.hex()}"


def signed(envelope: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """``envelope`` with the writer's signature added to its metadata."""
    metadata = {k: v for k, v in envelope["metadata"].items() if k != WRITER_FIELD}
    unsigned = {**envelope, "metadata": metadata}
    signature = signer.sign_bytes(SIGNED_CONTEXT + canonical_json(unsigned))
    metadata = {
        **metadata,
        WRITER_FIELD: {"key": key_name(signer.verifier), "sig": base64.b64encode(signature).decode()},
    }
    return {**envelope, "metadata": metadata}


def trusted_writers(verifiers: Iterable[Verifier]) -> dict[str, Verifier]:
    """Verifiers by the name events give them."""
    return {key_name(v): v for v in verifiers}


def check_writer(entry: bytes, writers: Mapping[str, Verifier]) -> str | None:
    """None when ``entry`` carries a valid signature by one of ``writers``; otherwise why not, in words
    (it is not JSON, it carries no signature, it names a key not trusted here, the signature does not
    match its content)."""
    try:
        doc = json.loads(entry)
        writer = doc["metadata"].get(WRITER_FIELD)
    except (ValueError, TypeError, KeyError, AttributeError):
        return "the event is not a readable JSON entry"
    if writer is None:
        return "it carries no writer signature"
    try:
        canonical = canonical_json(doc) == bytes(entry)
    except ValueError:
        canonical = False
    if not canonical:  # e.g. a key given twice: readers that keep the first would see other content
        return "its bytes are not canonical JSON (a repeated key, spaces, or escapes), so they are not what was signed"
    if not isinstance(writer, dict) or not isinstance(writer.get("key"), str):
        return "its writer signature is malformed"
    verifier = writers.get(writer["key"])
    if verifier is None:
        return f"it is signed by key {writer['key']!r}, which is not a trusted writer key"
    try:
        signature = base64.b64decode(str(writer.get("sig", "")), validate=True)
    except (binascii.Error, ValueError):
        return "its writer signature is malformed"
    del doc["metadata"][WRITER_FIELD]
    body = canonical_json(doc)
    if not verifier.verify(SIGNED_CONTEXT + body, signature):
        return "its writer signature does not match its content"
    return None


SIGNED_MARKER = b'"writer":{"key":'  # in the canonical bytes of every signed entry


def is_signed(entry: bytes) -> bool:
    """Whether ``entry`` carries a writer signature at all (valid or not); cheap, no parsing."""
    return SIGNED_MARKER in entry
