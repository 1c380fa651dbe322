"""Evidence bundles: one engagement's record, with everything needed to check it offline.

A bundle is a folder an auditor can keep, copy and check years later with no database and no Temporal:

| file | holds |
|---|---|
| ``events.jsonl`` | the engagement's events, one per line, in the exact canonical bytes that were hashed |
| ``proofs.json`` | for each line: its position in the log and its Merkle inclusion proof (RFC 9162) |
| ``checkpoint.txt`` | a signed checkpoint (log size and Merkle root) the proofs lead to |
| ``public-key.txt`` | the key that signed it (get the same key from its owner by another route) |
| ``report.html`` | the report for people (timeline, votes, comfort, indicators, ladder, recognition) |
| ``README.md`` | what the files are and how to check them |
| ``SHA256SUMS`` | the SHA-256 of every file above (``sha256sum -c SHA256SUMS`` works) |
| ``SHA256SUMS.sig`` | the signature of ``SHA256SUMS`` by the same key |

``verify_bundle`` checks every byte: the signature over ``SHA256SUMS``, each file's hash, the checkpoint's
signature, each event's inclusion in the signed tree at the position it claims, positions strictly
increasing, the engagement's event count as signed, and that the events replay under the domain rules.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.events import event_from_record
from domain.state import fold
from eventlog import Checkpoint, CheckpointError, RecordedEvent, Signer, Verifier, open_checkpoint
from eventlog.merkle import MerkleTree, ProofError, leaf_hash, verify_inclusion

SUMS = "SHA256SUMS"
SUMS_SIGNATURE = "SHA256SUMS.sig"
COVERED = ("events.jsonl", "proofs.json", "checkpoint.txt", "public-key.txt", "report.html", "README.md")

README = """# Evidence bundle: engagement {engagement_id}

Exported {exported_at} from the coproduce event log `{origin}`.
It holds the engagement's {count} events, as recorded, and the means to check that they are exactly
what the log holds, in its order, with nothing removed.

- `events.jsonl`: one event per line, the exact bytes that were hashed (canonical JSON, RFC 8785).
- `proofs.json`: each event's position in the whole log and its Merkle inclusion proof (RFC 9162).
- `checkpoint.txt`: the log's size ({size}) and Merkle root, signed with Ed25519 (a C2SP signed note).
- `public-key.txt`: the key that signed the checkpoint and `SHA256SUMS`. Do not trust it because it is
  here: ask the log's keeper for the public key by another route, and compare.
- `report.html`: the report for people. Open it in a browser; it prints well.
- `SHA256SUMS` and `SHA256SUMS.sig`: the hash of every file, and their signature.

Check the bundle, offline, with the coproduce command:

    coproduce audit verify-bundle . --key "<the public key you were given>"

or by hand: `sha256sum -c SHA256SUMS`; then for each line of `events.jsonl`, the leaf hash is
SHA-256(0x00 || line) and, with the proof in `proofs.json`, it must lead to the root in `checkpoint.txt`
(RFC 9162, section 2.1.3.2).

Personal text was {personal}.
"""


class BundleError(Exception):
    """A bundle that cannot be written."""


@dataclass
class BundleReport:
    """What ``verify_bundle`` found: OK, or the first problem."""

    engagement_id: str | None = None
    events: int = 0
    size: int = 0
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.ok:
            return (
                f"OK: the bundle's {self.events} events of engagement {self.engagement_id} are in the signed "
                f"log of {self.size} events, in order, with nothing removed or changed"
            )
        return f"FAILED: {self.problem}"


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bundle(
    out: Path,
    *,
    engagement_id: str,
    events: list[RecordedEvent],
    leaves: list[bytes],
    note: str,
    signer: Signer,
    origin: str,
    report_html: str,
    personal: str = "redacted: report.html shows no reasons, notes or findings; events.jsonl keeps them sealed",
) -> Path:
    """Write the bundle for ``events`` (the engagement's events up to the checkpoint) into ``out``.

    ``leaves`` are the leaf hashes of the whole log up to the checkpoint's size, in position order; the
    caller has verified them (a log that does not verify is never exported).
    """
    checkpoint = open_checkpoint(note, [signer.verifier])
    if checkpoint.size != len(leaves):
        raise BundleError(
            f"the checkpoint is for {checkpoint.size} events but {len(leaves)} leaves were read"
        )
    tree = MerkleTree(leaves)
    if tree.root() != checkpoint.root:
        raise BundleError("the leaves read do not give the checkpoint's root; run `coproduce audit verify`")
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not empty; choose a new folder for the bundle")
    out.mkdir(parents=True, exist_ok=True)
    proofs = []
    lines = []
    for event in events:
        if event.position > checkpoint.size:
            break
        if leaf_hash(event.entry) != leaves[event.position - 1]:
            raise BundleError(f"the event at position {event.position} does not match its leaf hash")
        lines.append(event.entry + b"\n")
        proofs.append(
            {
                "position": event.position,
                "stream_version": event.stream_version,
                "recorded_at": event.recorded_at.isoformat(),
                "proof": [base64.b64encode(h).decode() for h in tree.inclusion_proof(event.position - 1)],
            }
        )
    exported_at = datetime.now(UTC).isoformat(timespec="seconds")
    (out / "events.jsonl").write_bytes(b"".join(lines))
    (out / "proofs.json").write_text(
        json.dumps(
            {"engagement_id": engagement_id, "origin": origin, "size": checkpoint.size,
             "events": len(proofs), "exported_at": exported_at, "personal_text": personal,
             "proofs": proofs},
            indent=1,
        ) + "\n"
    )  # fmt: skip
    (out / "checkpoint.txt").write_text(note)
    (out / "public-key.txt").write_text(signer.verifier.key_string() + "\n")
    (out / "report.html").write_text(report_html, encoding="utf-8")
    (out / "README.md").write_text(
        README.format(
            engagement_id=engagement_id, exported_at=exported_at, origin=origin, count=len(proofs),
            size=checkpoint.size, personal=personal,
        )
    )  # fmt: skip
    sums = "".join(f"{_sha256_file(out / name)}  {name}\n" for name in COVERED)
    (out / SUMS).write_text(sums)
    (out / SUMS_SIGNATURE).write_text(signer.sign_line(sums))
    return out


def _check_sums_signature(folder: Path, verifiers: list[Verifier]) -> str | None:
    """None when SHA256SUMS carries a valid signature from one of ``verifiers``; else the problem."""
    sums = (folder / SUMS).read_bytes()
    text = (folder / SUMS_SIGNATURE).read_text()
    parts = text.removesuffix("\n").split(" ")
    if not text.endswith("\n") or "\n" in text[:-1] or len(parts) != 3 or parts[0] != "\u2014":
        return f"{SUMS_SIGNATURE} is not one signature line (\u2014 <key name> <signature>)"
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except ValueError:
        return f"{SUMS_SIGNATURE} is not base64"
    for verifier in verifiers:
        if verifier.name == parts[1] and verifier.key_id == blob[:4]:
            if verifier.verify(sums, blob[4:]):
                return None
            return f"the signature over {SUMS} does not match: a file list or hash was changed"
    return f"{SUMS} is not signed by a trusted key"


def verify_bundle(folder: Path, *, keys: Sequence[str] = ()) -> BundleReport:
    """Check a bundle offline. ``keys`` are trusted public keys (key strings); without them the bundle's
    own key is used, which proves integrity but not who signed (a note says so)."""
    report = BundleReport()
    try:
        _verify(folder, keys, report)
    except FileNotFoundError as exc:
        report.problem = f"the bundle has no {Path(exc.filename).name}; it is incomplete"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, CheckpointError, ProofError) as exc:
        if report.problem is None:
            report.problem = f"the bundle is malformed: {exc}"
    return report


def _verify(folder: Path, keys: Sequence[str], report: BundleReport) -> None:
    if not folder.is_dir():
        report.problem = f"{folder} is not a folder; give the folder `coproduce audit export` wrote"
        return
    own_key = (folder / "public-key.txt").read_text().strip()
    if keys:
        verifiers = [Verifier.from_key_string(k) for k in keys]
    else:
        verifiers = [Verifier.from_key_string(own_key)]
        report.notes.append(
            "checked with the key inside the bundle: this proves the bundle is intact, not who made it; "
            "pass --key with the public key you got from the log's keeper"
        )
    problem = _check_sums_signature(folder, verifiers)
    if problem:
        report.problem = problem
        return
    listed = {}
    for line in (folder / SUMS).read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    if set(listed) != set(COVERED):
        report.problem = f"{SUMS} does not list exactly the bundle's files"
        return
    for name in COVERED:
        if _sha256_file(folder / name) != listed[name]:
            report.problem = f"{name} was changed after export (its SHA-256 is not the one signed)"
            return
    checkpoint: Checkpoint = open_checkpoint((folder / "checkpoint.txt").read_text(), verifiers)
    meta: dict[str, Any] = json.loads((folder / "proofs.json").read_text())
    lines = (folder / "events.jsonl").read_bytes().splitlines(keepends=True)
    report.problem = check_events(lines, meta, checkpoint, report)


def check_events(
    lines: list[bytes], meta: dict[str, Any], checkpoint: Checkpoint, report: BundleReport
) -> str | None:
    """Check the events against their proofs and the signed checkpoint, whatever ``SHA256SUMS`` says:
    each line is in the signed log at the position it claims, positions only go up, the engagement's
    versions run 1, 2, 3, ... with none missing, and the events replay. The problem, or None."""
    proofs = meta["proofs"]
    report.engagement_id, report.size = meta["engagement_id"], checkpoint.size
    if meta["size"] != checkpoint.size or meta["origin"] != checkpoint.origin:
        return "proofs.json is for another checkpoint than checkpoint.txt"
    if len(lines) != len(proofs) or len(lines) != meta["events"]:
        return (
            f"the bundle declares {meta['events']} events but events.jsonl has {len(lines)} lines "
            f"and proofs.json {len(proofs)} proofs: events were removed or added"
        )
    previous = 0
    events = []
    for number, (line, proof) in enumerate(zip(lines, proofs, strict=True), 1):
        position = proof["position"]
        if position <= previous or proof["stream_version"] != number:
            return f"event {number} (position {position}) is out of order: events were reordered or removed"
        previous = position
        entry = line.removesuffix(b"\n")
        try:
            verify_inclusion(
                position - 1,
                checkpoint.size,
                leaf_hash(entry),
                [base64.b64decode(h, validate=True) for h in proof["proof"]],
                checkpoint.root,
            )
        except ProofError:
            return (
                f"event {number} (position {position}) is not the event the signed log holds there: "
                "it was altered or moved"
            )
        doc = json.loads(entry)
        if doc["stream_id"] != report.engagement_id:
            return f"event {number} belongs to {doc['stream_id']!r}, not to the bundle's engagement"
        events.append(event_from_record(doc["type"], doc["schema_version"], doc["payload"]))
    state = fold(events)
    report.events = len(events)
    report.notes.append(f"the events replay under the domain rules: engagement {state.status}")
    return None
