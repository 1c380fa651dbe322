"""Evidence bundles: one engagement's record, with everything needed to check it offline.

A bundle is a folder an auditor can keep, copy and check years later with no database and no Temporal:

| file | holds |
|---|---|
| ``events.jsonl`` | the engagement's events, one per line, in the exact canonical bytes that were hashed |
| ``proofs.json`` | for each line: its position in the log and its Merkle inclusion proof (RFC 9162) |
| ``checkpoint.txt`` | a signed checkpoint (log size and Merkle root) the proofs lead to |
| ``public-key.txt`` | the key that signed it (get the same key from its owner by another route) |
| ``writer-keys.txt`` | the public keys of the installation's writers, which sign each event (same caution) |
| ``report.html`` | the report for people (timeline, votes, comfort, indicators, ladder, recognition) |
| ``README.md`` | what the files are and how to check them |
| ``SHA256SUMS`` | the SHA-256 of every file above (``sha256sum -c SHA256SUMS`` works) |
| ``SHA256SUMS.sig`` | the signature of ``SHA256SUMS`` by the same key: one line, ``— <key name> <base64(key id || Ed25519 signature of the bytes of SHA256SUMS)>`` |

``verify_bundle`` checks every byte: the signature over ``SHA256SUMS``, each file's hash, that the folder
holds no file the signed list does not name, the checkpoint's signature, each event's inclusion in the
signed tree at the position it claims, positions strictly increasing, the engagement's event count as
signed, each event's writer signature (an event without a valid one is *foreign*: it passes only when
an ``event_disowned`` the writers signed names it, and it is never replayed), and that the other
events replay under the domain rules.

Bundles written before writers signed events have no ``writer-keys.txt``; they still verify, and their
events' writers are checked only when the auditor gives writer keys.
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

from domain.engagement import EMPTY_STATE
from domain.errors import DomainError, RecordError
from domain.events import event_from_record
from domain.events.incidents import EventDisowned
from domain.state import apply
from eventlog import (
    Checkpoint,
    CheckpointError,
    RecordedEvent,
    Signer,
    Verifier,
    WitnessVerifier,
    cosignatures,
    open_checkpoint,
)
from eventlog.merkle import MerkleTree, ProofError, leaf_hash, verify_inclusion
from eventlog.writers import check_writer, is_signed, trusted_writers

SUMS = "SHA256SUMS"
SUMS_SIGNATURE = "SHA256SUMS.sig"
WRITER_KEYS = "writer-keys.txt"
COVERED = (
    "events.jsonl", "proofs.json", "checkpoint.txt", "public-key.txt", WRITER_KEYS, "report.html", "README.md",
)  # fmt: skip
OPTIONAL = frozenset({WRITER_KEYS})  # absent from bundles written before writers signed events

README = """# Evidence bundle: engagement {engagement_id}

Exported {exported_at} from the coproduce event log `{origin}`.
It holds the engagement's {count} events, as recorded, and the means to check that they are exactly
what the log holds, in its order, with nothing removed.

- `events.jsonl`: one event per line, the exact bytes that were hashed (canonical JSON, RFC 8785).
- `proofs.json`: each event's position in the whole log and its Merkle inclusion proof (RFC 9162).
- `checkpoint.txt`: the log's size ({size}) and Merkle root, signed with Ed25519 (a C2SP signed note).
- `public-key.txt`: the key that signed the checkpoint and `SHA256SUMS`. Do not trust it because it is
  here: ask the log's keeper for the public key by another route, and compare.
- `writer-keys.txt`: the public keys of the installation's writers; each event carries a signature by
  one of them in `metadata.writer` (events from position {writers_signed_from} of the log on). The same
  caution applies: get them by another route (`coproduce audit key --writer`) and compare.
- `report.html`: the report for people. Open it in a browser; it prints well.
- `SHA256SUMS` and `SHA256SUMS.sig`: the hash of every file, and their signature.

Check the bundle, offline, with the coproduce command:

    coproduce audit verify-bundle . --key "<the public key you were given>" --writer-key "<the writer key>"

or by hand: `sha256sum -c SHA256SUMS`; then for each line of `events.jsonl`, the leaf hash is
SHA-256(0x00 || line) and, with the proof in `proofs.json`, it must lead to the root in `checkpoint.txt`
(RFC 9162, section 2.1.3.2). docs/eventlog.md gives every format, for a verifier of your own.

Personal text was {personal}.
"""


class BundleError(Exception):
    """A bundle that cannot be written."""


class BundleKeyError(ValueError):
    """A key given to check a bundle with is not a public key (the message says which, in one sentence)."""


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
    writers: Sequence[Verifier] | None = None,
    writers_signed_from: int | None = None,
) -> Path:
    """Write the bundle for ``events`` (the engagement's events up to the checkpoint) into ``out``.

    ``leaves`` are the leaf hashes of the whole log up to the checkpoint's size, in position order; the
    caller has verified them (a log that does not verify is never exported). ``writers`` are the
    installation's writer keys (None: it knows none), and ``writers_signed_from`` the log's first
    position written after writers began signing (every event from there on must carry a signature).
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
             "writers_signed_from": writers_signed_from, "proofs": proofs},
            indent=1,
        ) + "\n"
    )  # fmt: skip
    (out / "checkpoint.txt").write_text(note)
    (out / "public-key.txt").write_text(signer.verifier.key_string() + "\n")
    (out / WRITER_KEYS).write_text("".join(f"{v.key_string()}\n" for v in writers or ()))
    (out / "report.html").write_text(report_html, encoding="utf-8")
    (out / "README.md").write_text(
        README.format(
            engagement_id=engagement_id, exported_at=exported_at, origin=origin, count=len(proofs),
            size=checkpoint.size, personal=personal, writers_signed_from=writers_signed_from or "?",
        )
    )  # fmt: skip
    sums = "".join(f"{_sha256_file(out / name)}  {name}\n" for name in COVERED)
    (out / SUMS).write_text(sums)
    (out / SUMS_SIGNATURE).write_text(signer.sign_line(sums))
    return out


def public_keys(keys: Sequence[str | Verifier], what: str = "--key") -> list[Verifier]:
    """The public keys given to check a bundle with, parsed; ``BundleKeyError`` names the one that is not
    a public key (``what``: where it was given)."""
    parsed = []
    for key in keys:
        if isinstance(key, Verifier):
            parsed.append(key)
            continue
        try:
            parsed.append(Verifier.from_key_string(key))
        except ValueError as exc:
            raise BundleKeyError(
                f"{what} is not a public key ({exc}); `coproduce audit key` prints one"
            ) from None
    return parsed


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


def verify_bundle(
    folder: Path,
    *,
    keys: Sequence[str | Verifier] = (),
    writer_keys: Sequence[str | Verifier] = (),
    witness_keys: Sequence[WitnessVerifier] = (),
) -> BundleReport:
    """Check a bundle offline. ``keys`` are trusted public keys (key strings); without them the bundle's
    own key is used, which proves integrity but not who signed (a note says so). ``writer_keys`` check
    each event's writer signature; without them, the bundle's own ``writer-keys.txt`` (likewise)."""
    report = BundleReport()
    try:
        verifiers = public_keys(keys, "--key")
        writers = public_keys(writer_keys, "--writer-key")
    except BundleKeyError as exc:
        report.problem = str(exc)
        return report
    try:
        _verify(folder, verifiers, writers, report)
        if report.ok and witness_keys:
            note = (folder / "checkpoint.txt").read_text()
            for key, at in cosignatures(note, witness_keys).items():
                if at is None:
                    report.problem = (
                        f"witness {key.split('+', 1)[0]} did not cosign the bundle's checkpoint.txt: "
                        "no second party vouches for its root"
                    )
                    break
    except FileNotFoundError as exc:
        report.problem = f"the bundle has no {Path(exc.filename).name}; it is incomplete"
    except OSError as exc:
        report.problem = f"cannot read {Path(exc.filename or folder).name} of the bundle ({exc.strerror})"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, CheckpointError, ProofError) as exc:
        if report.problem is None:
            report.problem = f"the bundle is malformed: {exc}"
    return report


def _verify(folder: Path, keys: list[Verifier], writer_keys: list[Verifier], report: BundleReport) -> None:
    if not folder.is_dir():
        report.problem = f"{folder} is not a folder; give the folder `coproduce audit export` wrote"
        return
    if keys:
        verifiers = keys
    else:
        own_key = (folder / "public-key.txt").read_text().strip()
        verifiers = [Verifier.from_key_string(own_key)]
        report.notes.append(
            "checked with the key inside the bundle: this proves the bundle is intact, not who made it; "
            "pass --key with the public key you got from the log's keeper"
        )
    problem = _check_sums_signature(folder, verifiers)
    if problem:
        report.problem = problem
        return
    report.problem = _check_files(folder)
    if report.problem:
        return
    checkpoint: Checkpoint = open_checkpoint((folder / "checkpoint.txt").read_text(), verifiers)
    meta: dict[str, Any] = json.loads((folder / "proofs.json").read_text())
    lines = (folder / "events.jsonl").read_bytes().splitlines(keepends=True)
    report.problem = check_events(
        lines, meta, checkpoint, report, writers=_writers(folder, writer_keys, report)
    )


def _check_files(folder: Path) -> str | None:
    """The signed file list names exactly the bundle's files, and each has the hash signed; else the problem."""
    listed = {}
    for line in (folder / SUMS).read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name in listed:
        if name not in COVERED:
            return f"{SUMS} lists {name!r}, which is not a file of an evidence bundle"
    for name in COVERED:
        if name not in listed and name not in OPTIONAL:
            return f"{SUMS} does not list {name}, which every bundle holds"
    for path in sorted(folder.iterdir()):
        if path.name not in listed and path.name not in (SUMS, SUMS_SIGNATURE):
            return (
                f"the bundle holds {path.name}, which {SUMS} does not list: it was added after export, "
                "and nothing vouches for it"
            )
    for name in listed:
        if not _as_signed(folder / name, listed[name]):
            return f"{name} was changed after export (its SHA-256 is not the one signed)"
    return None


def _as_signed(path: Path, digest: str) -> bool:
    """Whether ``path`` has the signed SHA-256. ``checkpoint.txt`` may also have signature lines appended
    after export (a witness's cosignatures): those are not in the signed list, but each is checked
    against its witness's own key (``--witness-key``), and a line from an unknown key vouches for nothing."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() == digest:
        return True
    if path.name != "checkpoint.txt":
        return False
    lines = data.splitlines(keepends=True)
    while lines and lines[-1].startswith("\u2014 ".encode()):
        lines.pop()
        if hashlib.sha256(b"".join(lines)).hexdigest() == digest:
            return True
    return False


def _writers(folder: Path, given: list[Verifier], report: BundleReport) -> list[Verifier] | None:
    """The writer keys to check each event with: those given, else the bundle's own (with a note), else
    None (with a note saying why the events' writers were not checked)."""
    if given:
        return given
    path = folder / WRITER_KEYS
    if not path.exists():
        report.notes.append(
            "the bundle was written before events were signed by their writers, so who wrote them was not "
            "checked; pass --writer-key to check the events that carry a signature"
        )
        return None
    own = [Verifier.from_key_string(line) for line in path.read_text().splitlines() if line.strip()]
    if not own:
        report.notes.append(
            "the exporting installation knew no writer key, so who wrote each event was not checked; "
            "pass --writer-key (from `coproduce audit key --writer`)"
        )
        return None
    report.notes.append(
        f"each event's writer was checked with the keys in {WRITER_KEYS}: this proves the events are the "
        "exporting installation's own only if those keys are; pass --writer-key with the key you got from "
        "the log's keeper (`coproduce audit key --writer`)"
    )
    return own


def check_events(
    lines: list[bytes],
    meta: dict[str, Any],
    checkpoint: Checkpoint,
    report: BundleReport,
    *,
    writers: Sequence[Verifier] | None = None,
) -> str | None:
    """Check the events against their proofs and the signed checkpoint, whatever ``SHA256SUMS`` says:
    each line is in the signed log at the position it claims, positions only go up, the engagement's
    versions run 1, 2, 3, ... with none missing, each carries its writer's signature (with ``writers``;
    a foreign event passes only when disowned, and is not replayed), and the events replay. The
    problem, or None."""
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
    entries: list[tuple[str, int, bytes, dict[str, Any] | None]] = []  # (which, position, entry, doc)
    for number, (line, proof) in enumerate(zip(lines, proofs, strict=True), 1):
        position = proof["position"]
        if not isinstance(position, int) or position <= previous or proof["stream_version"] != number:
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
        doc = _document(entry)
        if doc is not None and doc["stream_id"] != report.engagement_id:
            return f"event {number} belongs to {doc['stream_id']!r}, not to the bundle's engagement"
        entries.append((f"event {number} (position {position})", position, entry, doc))
    foreign = _foreign(entries, writers, meta.get("writers_signed_from"))
    disowned = _disowned(entries, foreign)
    state = EMPTY_STATE
    for which, position, _, doc in entries:
        if position in foreign:
            if position not in disowned:
                return (
                    f"{which} was not written by the installation's writers ({foreign[position]}), and "
                    "no event the writers signed disowns it"
                )
            report.notes.append(
                f"{which} is a foreign event ({foreign[position]}); {disowned[position]} disowned it, "
                "so it is not replayed"
            )
            continue
        if doc is None:
            return f"{which} is not a readable event entry"
        try:
            event = event_from_record(doc["type"], doc["schema_version"], doc["payload"])
        except (RecordError, ValueError, TypeError, KeyError) as exc:
            return f"{which} cannot be read ({_first_line(exc)})"
        try:
            state = apply(state, event)
        except DomainError as exc:
            return f"{which} cannot be replayed ({_first_line(exc)})"
    report.events = len(entries)
    report.notes.append(f"the events replay under the domain rules: engagement {state.status}")
    return None


def _document(entry: bytes) -> dict[str, Any] | None:
    """The event entry as JSON, or None when it is not a readable event entry."""
    try:
        doc = json.loads(entry)
    except ValueError:
        return None
    keys = ("stream_id", "type", "schema_version", "payload", "metadata")
    if not isinstance(doc, dict) or not all(k in doc for k in keys) or not isinstance(doc["payload"], dict):
        return None
    return doc


def _foreign(
    entries: list[tuple[str, int, bytes, dict[str, Any] | None]],
    writers: Sequence[Verifier] | None,
    signed_from: Any,
) -> dict[int, str]:
    """Positions of the events without a valid writer signature, and why. From ``signed_from`` (the
    log's first position after writers began signing, as the export recorded it) every event must be
    signed; in an older bundle, every event from the engagement's first signed one."""
    if writers is None:
        return {}
    trusted = trusted_writers(writers)
    found: dict[int, str] = {}
    signed_seen = False
    for _, position, entry, _ in entries:
        if isinstance(signed_from, int):
            must = position >= signed_from
        else:
            must = signed_seen = signed_seen or is_signed(entry)
        why = check_writer(entry, trusted) if must else None
        if why is not None:
            found[position] = why
    return found


def _disowned(
    entries: list[tuple[str, int, bytes, dict[str, Any] | None]], foreign: dict[int, str]
) -> dict[int, str]:
    """Foreign positions an ``event_disowned`` (itself not foreign) names, and who disowned each."""
    found = {}
    for _, position, _, doc in entries:
        if doc is None or position in foreign or doc["type"] != EventDisowned.TYPE:
            continue
        named = doc["payload"].get("position")
        if isinstance(named, int) and named in foreign and named < position:
            found[named] = str(doc["payload"].get("disowned_by"))
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
