"""A witness's side of cosigning (C2SP ``tlog-witness``), with no database: a funder's laptop.

The witness remembers the last checkpoint it cosigned (origin, size, root) in a small state file. It
cosigns a new checkpoint only if the log's key signed it and a consistency proof shows it extends the
remembered one, so it never cosigns size N+K and later N, nor a rewritten root of the same size.

An add-checkpoint request (the body of C2SP's ``POST add-checkpoint``)::

    old <size>
    <base64 consistency-proof hash>   (zero or more lines)
    <blank line>
    <the signed checkpoint note>
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eventlog import CheckpointError, Verifier, WitnessSigner, cosign, open_checkpoint
from eventlog.merkle import ProofError, verify_consistency

MAX_PROOF_LINES = 63


class WitnessRefusal(ValueError):
    """The witness will not cosign (the message says why, in one sentence); its state is unchanged."""


class StaleSize(WitnessRefusal):
    """The request's ``old`` size is not the one the witness remembers (C2SP: 409, body = that size)."""

    def __init__(self, known: int) -> None:
        super().__init__(
            f"the witness last cosigned size {known}, not the request's old size; ask again with --old {known}"
        )
        self.known = known


@dataclass(frozen=True)
class Request:
    old: int
    proof: list[bytes]
    note: str


def request_text(old: int, proof: Sequence[bytes], note: str) -> str:
    """An add-checkpoint request for ``note`` from size ``old`` with its consistency ``proof``."""
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return "\n".join(lines) + "\n\n" + note


def parse_request(text: str) -> Request:
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise WitnessRefusal(
            "the request is not 'old <size>', proof lines, a blank line, then the checkpoint"
        )
    size = lines[0].removeprefix("old ")
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise WitnessRefusal("the request's old size is not a decimal number")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefusal(f"the consistency proof is longer than {MAX_PROOF_LINES} hashes")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except binascii.Error:
        raise WitnessRefusal("a consistency-proof line is not base64") from None
    return Request(int(size), proof, note)


def _read_state(path: Path) -> dict[str, object] | None:
    try:
        state = json.loads(path.read_text())
        base64.b64decode(state["root"], validate=True)
        int(state["size"])
        str(state["origin"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WitnessRefusal(f"the witness state file {path} is unreadable ({exc})") from None
    return state


def _write_state(path: Path, origin: str, size: int, root: bytes) -> None:
    data = json.dumps({"origin": origin, "size": size, "root": base64.b64encode(root).decode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(data + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def add_checkpoint(
    request: str,
    *,
    witness: WitnessSigner,
    log_keys: Sequence[Verifier],
    state_file: Path,
    now: int | None = None,
) -> str:
    """Check an add-checkpoint request and return its note with the witness's cosignature appended,
    remembering the new checkpoint (atomically). Raises ``WitnessRefusal`` (state unchanged) if the log
    did not sign it, the old size is not the remembered one, or the proof does not hold."""
    parsed = parse_request(request)
    try:
        checkpoint = open_checkpoint(parsed.note, log_keys)
    except CheckpointError as exc:
        raise WitnessRefusal(f"the checkpoint is not signed by the log's key: {exc}") from None
    state = _read_state(state_file)
    if state is None:
        known_size, known_root = 0, b""
    else:
        if state["origin"] != checkpoint.origin:
            raise WitnessRefusal(
                f"the witness follows the log {state['origin']!r}, not {checkpoint.origin!r}"
            )
        known_size = int(str(state["size"]))
        known_root = base64.b64decode(str(state["root"]))
    if parsed.old != known_size:
        raise StaleSize(known_size)
    if parsed.old > checkpoint.size:
        raise WitnessRefusal(
            f"the checkpoint's size {checkpoint.size} is smaller than the {parsed.old} events already "
            "cosigned: the log was rolled back"
        )
    try:
        if known_size > 0:
            verify_consistency(known_size, checkpoint.size, known_root, checkpoint.root, parsed.proof)
        elif parsed.proof:
            raise ProofError("a first checkpoint (old 0) needs no proof")
    except ProofError as exc:
        raise WitnessRefusal(
            f"the checkpoint is not consistent with the one of size {known_size} already cosigned ({exc})"
        ) from None
    cosigned = cosign(parsed.note, witness, int(time.time()) if now is None else now)
    _write_state(state_file, checkpoint.origin, checkpoint.size, checkpoint.root)
    return cosigned
