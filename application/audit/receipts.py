"""Vote receipts: proof, for the person who voted, that their vote went into the tamper-evident log.

A receipt is one JSON file (``FORMAT``) the voter downloads after voting and keeps:

| field | holds |
|---|---|
| ``engagement``, ``position`` | where the vote is |
| ``entry`` | the vote's canonical bytes as stored (base64): what the log hashed |
| ``leaf_hash`` | SHA-256(0x00 || entry), hex |
| ``checkpoint`` | a signed checkpoint (C2SP signed note: origin, size, Merkle root) covering the position |
| ``inclusion_proof`` | the RFC 6962 / 9162 audit path from the leaf to that root (hex, leaf to root) |
| ``public_key`` | the key that signed the checkpoint (ask the log's keeper for it by another route) |

``verify_receipt`` checks it with nothing but the file and a trusted public key: the entry hashes to
the leaf, the path leads from the leaf at ``position - 1`` to the checkpoint's root, and the checkpoint
is signed by the key. Any RFC 6962 verifier does the same. A receipt made before a checkpoint covers
the vote has no proof yet (``checkpoint`` and ``inclusion_proof`` are null); fetch it again later.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from eventlog import CheckpointError, Verifier, open_checkpoint
from eventlog.merkle import MerkleTree, ProofError, leaf_hash, verify_inclusion

FORMAT = "coproduce-receipt/v1"


def make_receipt(
    engagement_id: str,
    position: int,
    entry: bytes,
    leaves: list[bytes] | None,
    note: str | None,
    public_key: str,
) -> dict[str, Any]:
    """The receipt for the event at ``position``: with a proof against ``note`` (a signed checkpoint whose
    size is ``len(leaves)``) when there is one covering it, else without."""
    proof = None
    if note is not None and leaves is not None and position <= len(leaves):
        proof = [p.hex() for p in MerkleTree(leaves).inclusion_proof(position - 1, len(leaves))]
    return {
        "format": FORMAT,
        "engagement": engagement_id,
        "position": position,
        "entry": base64.b64encode(entry).decode(),
        "leaf_hash": leaf_hash(entry).hex(),
        "checkpoint": note if proof is not None else None,
        "inclusion_proof": proof,
        "public_key": public_key,
    }


@dataclass
class ReceiptCheck:
    """What checking a receipt found: one line per check, and whether all held."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def fail(self, line: str) -> None:
        self.lines.append(f"FAILED: {line}")
        self.ok = False


def verify_receipt(text: str, keys: list[Verifier]) -> ReceiptCheck:
    """Check a receipt's JSON text against trusted checkpoint keys (none given: the receipt's own key,
    which proves only that the receipt is consistent)."""
    check = ReceiptCheck()
    try:
        receipt = json.loads(text)
        if not isinstance(receipt, dict):
            raise ValueError("it is not a JSON object")
        if receipt.get("format") != FORMAT:
            raise ValueError(f"it is not a coproduce receipt (format {receipt.get('format')!r})")
        entry = base64.b64decode(receipt["entry"], validate=True)
        position = int(receipt["position"])
    except (ValueError, KeyError, TypeError) as exc:
        check.fail(f"the receipt cannot be read: {exc}")
        return check
    leaf = leaf_hash(entry)
    if leaf.hex() != receipt.get("leaf_hash"):
        check.fail("the vote's bytes do not hash to the receipt's leaf hash: the receipt was altered")
        return check
    try:
        event = json.loads(entry)
        what = f"{event.get('type')} at position {position} of {event.get('stream_id')}"
    except ValueError:
        what = f"the event at position {position}"
    check.lines.append(f"event: {what}")
    if receipt.get("checkpoint") is None or receipt.get("inclusion_proof") is None:
        check.fail(
            "the receipt has no inclusion proof yet; download it again once a checkpoint covers the vote"
        )
        return check
    trusted = keys
    if not trusted:
        try:
            trusted = [Verifier.from_key_string(receipt["public_key"])]
        except (ValueError, KeyError, TypeError):
            check.fail("the receipt's public key is not a key, and no --key was given")
            return check
        check.lines.append(
            "note: checked with the receipt's own key; give --key, obtained from the log's keeper"
        )
    try:
        checkpoint = open_checkpoint(receipt["checkpoint"], trusted)
    except CheckpointError as exc:
        check.fail(f"the checkpoint is not signed by a trusted key ({exc})")
        return check
    try:
        proof = [bytes.fromhex(p) for p in receipt["inclusion_proof"]]
        verify_inclusion(position - 1, checkpoint.size, leaf, proof, checkpoint.root)
    except (ValueError, ProofError) as exc:
        check.fail(f"the inclusion proof does not lead to the checkpoint's root ({exc})")
        return check
    check.lines.append(
        f"OK: the vote is entry {position} of the {checkpoint.size} in log {checkpoint.origin!r}, whose "
        "signed checkpoint it is included in"
    )
    return check
