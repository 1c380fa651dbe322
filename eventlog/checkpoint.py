"""Signed checkpoints: the log's size and Merkle root, signed with Ed25519, in C2SP signed-note form.

A checkpoint commits to the whole log up to a size. Kept *outside* the database (a file handed to an
auditor, a second organisation, a write-once store), it catches even a superuser who rewrites every
event and every hash consistently: the rewritten log no longer has the signed root.

Formats (C2SP ``signed-note`` and ``tlog-checkpoint``)::

    body       = "<origin>\\n<size>\\n<base64 root>\\n"
    note       = body + "\\n" + one line per signature: "— <key name> <base64(key id || signature)>\\n"
    key id     = SHA-256(<key name> || "\\n" || 0x01 || public key)[:4]
    verifier   = "<key name>+<hex key id>+<base64(0x01 || public key)>"
    signer key = "PRIVATE+KEY+<key name>+<hex key id>+<base64(0x01 || private seed)>"

The key strings are those of Go's ``golang.org/x/mod/sumdb/note``, so other tools can check our notes.

Witness cosignatures (C2SP ``tlog-cosignature``, ``cosignature/v1``): a second party's Ed25519 key,
whose strings carry key type 0x04 instead of 0x01 (so a witness key is never taken for a log key)::

    key id      = SHA-256(<name> || "\n" || 0x04 || public key)[:4]
    cosignature = "— <name> <base64(key id || u64 big-endian POSIX seconds || signature)>\n"
    signed      = "cosignature/v1\ntime <seconds>\n" + the whole checkpoint body
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from .errors import IntegrityError

_ED25519 = b"\x01"
_COSIGNATURE_V1 = b"\x04"
_DASH = "\u2014"


class CheckpointError(IntegrityError):
    """A checkpoint note is malformed or carries no valid signature from a trusted key."""


class UntrustedCheckpoint(CheckpointError):
    """A well-formed checkpoint that no trusted key signed."""


def _key_id(name: str, public_key: bytes, key_type: bytes = _ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + key_type + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint says: this log (origin) had ``size`` entries with Merkle ``root``."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise ValueError("a checkpoint origin is one non-empty line")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse_body(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("a checkpoint body is origin, size and root, each on its own line")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise CheckpointError("a checkpoint needs an origin and a decimal size")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error as exc:
            raise CheckpointError("the checkpoint root is not base64") from exc
        if len(root) != 32:
            raise CheckpointError("the checkpoint root is not a 32-byte hash")
        return cls(origin=origin, size=int(size_text), root=root)


class Verifier:
    """A public key that checks signatures in notes (``name+keyid+base64``)."""

    KEY_TYPE = _ED25519
    KIND = "verifier"

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        self.name = name
        self.public_key = public_key
        self.key_id = _key_id(name, public_key, self.KEY_TYPE)
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    @classmethod
    def from_key_string(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # the base64 key may itself hold '+'
        if len(parts) != 3:
            raise ValueError(f"a {cls.KIND} key looks like <name>+<8 hex digits>+<base64 key>")
        name, key_id_hex, data = parts
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"the {cls.KIND} key is not base64") from exc
        if raw[:1] != cls.KEY_TYPE or len(raw) != 33:
            raise ValueError(_wrong_type(cls.KIND, raw[:1], cls.KEY_TYPE))
        verifier = cls(name, raw[1:])
        if verifier.key_id.hex() != key_id_hex:
            raise ValueError(f"the {cls.KIND} key's id does not match its name and key")
        return verifier

    def key_string(self) -> str:
        raw = self.KEY_TYPE + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """A private Ed25519 key that signs notes; keep its key string out of the database."""

    VERIFIER: type[Verifier] = Verifier
    KIND = "signer"

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = self.VERIFIER(name, public)

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise ValueError(f"a {cls.KIND} key looks like PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"the {cls.KIND} key is not base64") from exc
        if raw[:1] != cls.VERIFIER.KEY_TYPE or len(raw) != 33:
            raise ValueError(_wrong_type(cls.KIND, raw[:1], cls.VERIFIER.KEY_TYPE))
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id.hex() != parts[3]:
            raise ValueError(f"the {cls.KIND} key's id does not match its name and key")
        return signer

    def key_string(self) -> str:
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return (
            f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+"
            f"{base64.b64encode(self.VERIFIER.KEY_TYPE + seed).decode()}"
        )

    def sign_bytes(self, message: bytes) -> bytes:
        """The raw Ed25519 signature of ``message`` (callers domain-separate what they sign)."""
        return self._key.sign(message)

    def sign_line(self, text: str) -> str:
        signature = self._key.sign(text.encode())
        return f"{_DASH} {self.name} {base64.b64encode(self.verifier.key_id + signature).decode()}\n"


def _wrong_type(kind: str, got: bytes, want: bytes) -> str:
    names = {_ED25519: "a log (signed-note Ed25519) key", _COSIGNATURE_V1: "a witness (cosignature/v1) key"}
    if got in names and got != want:
        return f"this is {names[got]}, not a {kind} key"
    return f"only Ed25519 {kind} keys are supported"


class WitnessVerifier(Verifier):
    """A witness's public key: checks ``cosignature/v1`` lines (key type 0x04)."""

    KEY_TYPE = _COSIGNATURE_V1
    KIND = "witness"

    def verify_cosignature(self, body: str, timestamp: int, signature: bytes) -> bool:
        return self.verify(cosigned_message(body, timestamp), signature)


class WitnessSigner(Signer):
    """A witness's private key: cosigns checkpoints (``cosignature/v1``)."""

    VERIFIER = WitnessVerifier
    KIND = "witness private"

    def sign_line(self, text: str) -> str:
        raise TypeError("a witness key only cosigns checkpoints (cosign_line), never plain notes")

    def cosign_line(self, body: str, timestamp: int) -> str:
        """The cosignature line for checkpoint ``body`` at POSIX second ``timestamp``."""
        signature = self._key.sign(cosigned_message(body, timestamp))
        blob = self.verifier.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{_DASH} {self.name} {base64.b64encode(blob).decode()}\n"


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: a header, the time, then the whole checkpoint body."""
    if not 0 <= timestamp < 2**63 or not body.endswith("\n"):
        raise ValueError("a cosignature needs a time in [0, 2^63) and a body ending in a newline")
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body.encode()


def cosign(note: str, witness: WitnessSigner, timestamp: int) -> str:
    """``note`` (a signed checkpoint) with the witness's cosignature line appended."""
    body, _ = _split_note(note)
    return note + witness.cosign_line(body, timestamp)


def cosignatures(note: str, witnesses: Iterable[WitnessVerifier]) -> dict[str, int | None]:
    """For each witness (by key string): the POSIX time it validly cosigned ``note``, or None if it did
    not. A cosignature by a given witness that does not verify raises: the note was altered."""
    body, lines = _split_note(note)
    found: dict[str, int | None] = {}
    for witness in witnesses:
        found[witness.key_string()] = None
        for name, blob in lines:
            if name != witness.name or blob[:4] != witness.key_id:
                continue
            if len(blob) != 4 + 8 + 64:
                raise CheckpointError(f"the cosignature by {name!r} is not 76 bytes")
            timestamp = int.from_bytes(blob[4:12], "big")
            if timestamp >= 2**63 or not witness.verify_cosignature(body, timestamp, blob[12:]):
                raise CheckpointError(
                    f"the cosignature by witness {name!r} does not match the checkpoint: it was altered"
                )
            found[witness.key_string()] = timestamp
    return found


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text (with its final newline) and its signature lines as (name, blob)."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise CheckpointError("a signed note is its text, a blank line, then signature lines")
    lines = []
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise CheckpointError(f"malformed signature line {line!r}")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise CheckpointError("a signature is not base64") from exc
        if len(blob) < 5:
            raise CheckpointError("a signature is too short")
        lines.append((parts[1], blob))
    return text + "\n", lines


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note."""
    body = checkpoint.body()
    return body + "\n" + signer.sign_line(body)


def open_checkpoint(note: str, verifiers: Iterable[Verifier]) -> Checkpoint:
    """Parse a signed note and return its checkpoint if at least one trusted key signed it.

    Signatures from unknown keys are ignored (as the signed-note spec asks); a signature from a known
    key that does not verify is an error, because it means the note was altered.
    """
    text, lines = _split_note(note)
    trusted = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    for name, blob in lines:
        verifier = trusted.get((name, blob[:4]))
        if verifier is None:
            continue
        if not verifier.verify(text.encode(), blob[4:]):
            raise CheckpointError(f"the signature by {name!r} does not match the checkpoint: it was altered")
        verified = True
    if not verified:
        raise UntrustedCheckpoint("the checkpoint carries no signature from a trusted key")
    return Checkpoint.parse_body(text)
