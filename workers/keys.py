"""The secret keys of an installation, and where they come from.

- The **master key** wraps the per-person data keys of the people register (``application.privacy.register``).
  Whoever holds it and may read the register can read personal text; it never enters the database.
  It can be replaced (``coproduce keys rotate-master``): the new key becomes ``COPRODUCE_MASTER_KEY``
  and the old ones go to ``COPRODUCE_PREVIOUS_MASTER_KEYS`` (or the key file ``master-previous.keys``),
  which only open data keys wrapped before the rotation (``master_keys``).
- The **codec server's token** (``codec_token``): the codec server decrypts Temporal payloads only for
  a caller who sends it (``COPRODUCE_CODEC_TOKEN``, else the key file ``codec-server.token``).
- The **payload keys** encrypt every Temporal payload (``workers.codec``): workflow inputs, updates,
  results, activity inputs and outputs, so a Temporal server (possibly someone else's cloud) never sees
  a name or a reason in clear. Several may be given; the first encrypts, all decrypt, so a key is
  rotated by putting a new one first and keeping the old ones while histories still use them.

- The **checkpoint signing key** signs checkpoints of the log and evidence bundles
  (``checkpoint_signer``). It never goes into the database: whoever controls the database must not
  be able to re-sign a rewritten log. Auditors hold its public half (``coproduce audit key``), given
  by a route the log's operators do not control, so a checkpoint signed by anyone else fails their
  check (``trusted_verifiers``).
- The **writer key** signs every event this installation appends (``writer_signer``; see
  ``eventlog.writers``), so an event appended by someone holding only a database login is known as
  foreign. Every writer process of an installation uses the same key; its public half is what workers
  adopt events by, and what auditors check events with (``trusted_writer_verifiers``).

Each comes from, in order: its setting (``COPRODUCE_MASTER_KEY``, ``COPRODUCE_PAYLOAD_KEYS``, e.g. from a
secret store or ``COPRODUCE_SECRETS_DIR``), or a key file in ``<state dir>/keys/`` (mode 0600) made on
first use, which suits one machine. Every process of an installation must use the same keys.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path
from typing import overload

from pydantic import SecretStr

from application.privacy.master_keys import MasterKeys
from eventlog import Signer, Verifier

from .settings import Settings

KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeySettingError(ValueError):
    """A key setting or key file is not usable (one sentence saying which and what to do)."""


def _decode(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeySettingError(f"{what} is not base64; make one with `coproduce keys new`") from None
    if len(key) != KEY_BYTES:
        raise KeySettingError(f"{what} must be {KEY_BYTES} bytes (base64 of 32 random bytes), not {len(key)}")
    return key


def new_key_text() -> str:
    """A fresh random key, as base64 (what the settings and key files hold)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _key_file(path: Path, make: str) -> str:
    """The text of a key file, written with ``make`` (mode 0600) when there is none yet."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(make + "\n")
    return path.read_text()


@overload
def master_key(settings: Settings) -> bytes: ...
@overload
def master_key(settings: Settings, *, create: bool) -> bytes | None: ...
def master_key(settings: Settings, *, create: bool = True) -> bytes | None:
    """The master key that wraps the people register's data keys; made in the key file on first use
    unless ``create`` is False (a reader: None when this machine has none)."""
    if settings.master_key is not None:
        return _decode(settings.master_key.get_secret_value(), "COPRODUCE_MASTER_KEY")
    path = settings.master_key_file
    if not create and not path.exists():
        return None
    return _decode(_key_file(path, new_key_text()), f"the master key file {path}")


def previous_master_keys(settings: Settings) -> list[bytes]:
    """Earlier master keys, newest first, which still open data keys wrapped before a rotation:
    ``COPRODUCE_PREVIOUS_MASTER_KEYS`` (base64 keys separated by commas), else the key file
    ``<state dir>/keys/master-previous.keys`` (one per line) when there is one, else none."""
    if settings.previous_master_keys is not None:
        text, what = settings.previous_master_keys.get_secret_value(), "COPRODUCE_PREVIOUS_MASTER_KEYS"
    elif settings.previous_master_keys_file.exists():
        path = settings.previous_master_keys_file
        text, what = path.read_text(), f"the previous master keys file {path}"
    else:
        return []
    entries = [e.strip() for e in text.replace("\n", ",").split(",") if e.strip()]
    return [_decode(entry, f"key {n} of {what}") for n, entry in enumerate(entries, 1)]


def master_keys(settings: Settings) -> MasterKeys:
    """The master key ring: the current key (made in the key file on first use) and the previous ones."""
    return MasterKeys.of(master_key(settings), previous_master_keys(settings))


CODEC_TOKEN_CHARS = 32


def codec_token(settings: Settings) -> str:
    """The bearer token the codec server asks for: ``COPRODUCE_CODEC_TOKEN`` (at least 32 characters),
    else the key file ``<state dir>/keys/codec-server.token`` (mode 0600), made on first use and
    reused by every codec server of this state directory (``coproduce codec-server``, ``coproduce up``)."""
    if settings.codec_token is not None:
        token, what = settings.codec_token.get_secret_value().strip(), "COPRODUCE_CODEC_TOKEN"
    else:
        path = settings.codec_token_file
        token, what = _key_file(path, secrets.token_urlsafe(32)).strip(), f"the codec token file {path}"
    if len(token) < CODEC_TOKEN_CHARS:
        raise KeySettingError(
            f"{what} must be at least {CODEC_TOKEN_CHARS} characters, not {len(token)}; "
            "make one with `coproduce keys new`"
        )
    if any(c.isspace() or not c.isprintable() for c in token):
        raise KeySettingError(f"{what} must be one word of printable characters (no spaces)")
    return token


def payload_keys(settings: Settings) -> dict[str, bytes]:
    """The payload keys by id, the one that encrypts first: ``id=base64`` entries separated by commas."""
    if settings.payload_keys is not None:
        text, what = settings.payload_keys.get_secret_value(), "COPRODUCE_PAYLOAD_KEYS"
    else:
        path = settings.state_dir / "keys" / "payload.keys"
        text, what = _key_file(path, f"k1={new_key_text()}"), f"the payload key file {path}"
    keys: dict[str, bytes] = {}
    for entry in (e.strip() for e in text.replace("\n", ",").split(",")):
        if not entry:
            continue
        key_id, sep, value = entry.partition("=")
        if not sep or not _KEY_ID.match(key_id.strip()):
            raise KeySettingError(f"{what} must be entries like `k2=<base64 key>` separated by commas")
        if key_id.strip() in keys:
            raise KeySettingError(f"{what} names key id {key_id.strip()!r} twice")
        keys[key_id.strip()] = _decode(value, f"key {key_id.strip()!r} of {what}")
    if not keys:
        raise KeySettingError(f"{what} holds no key")
    return keys


def _signer(setting: SecretStr | None, variable: str, path: Path, name: str, create: bool) -> Signer | None:
    """A signing key from its setting, else its key file (made there when ``create``), else None."""
    if setting is not None:
        try:
            return Signer.from_key_string(setting.get_secret_value())
        except ValueError as exc:
            raise KeySettingError(f"{variable} is not a signing key ({exc})") from None
    if path.exists():
        try:
            return Signer.from_key_string(path.read_text())
        except ValueError as exc:
            raise KeySettingError(
                f"the signing key in {path} is not usable ({exc}); restore it from its backup"
            ) from None
    if not create:
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Signer.generate(name.replace(" ", "-").replace("+", "-"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago: use theirs
        return _signer(None, variable, path, name, create=False)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.key_string() + "\n")
    return key


def checkpoint_signer(settings: Settings, *, create: bool) -> Signer | None:
    """The checkpoint signing key: ``COPRODUCE_CHECKPOINT_KEY`` (``PRIVATE+KEY+...``), else the key file
    ``<state dir>/keys/checkpoint-signer.key``, made there when there is none and ``create`` is set."""
    return _signer(
        settings.checkpoint_key,
        "COPRODUCE_CHECKPOINT_KEY",
        settings.checkpoint_key_file,
        settings.log_origin,
        create,
    )


@overload
def writer_signer(settings: Settings) -> Signer: ...
@overload
def writer_signer(settings: Settings, *, create: bool) -> Signer | None: ...
def writer_signer(settings: Settings, *, create: bool = True) -> Signer | None:
    """The key this installation signs its events with: ``COPRODUCE_WRITER_KEY``, else the key file
    ``<state dir>/keys/event-writer.key``, made there on first use unless ``create`` is False."""
    name = settings.log_origin + "/writer"
    return _signer(settings.writer_key, "COPRODUCE_WRITER_KEY", settings.writer_key_file, name, create)


def _verifiers(text: str, what: str) -> list[Verifier]:
    try:
        return [Verifier.from_key_string(part) for part in text.replace("\n", ",").split(",") if part.strip()]
    except ValueError as exc:
        raise KeySettingError(
            f"{what} is not a list of public keys ({exc}); `coproduce audit key` prints one"
        ) from None


def trusted_writer_verifiers(settings: Settings, given: list[str] = ()) -> list[Verifier] | None:  # type: ignore[assignment]
    """The writer keys whose events are trusted: those given (``--writer-key``), else this installation's
    own writer key and ``COPRODUCE_TRUSTED_WRITER_KEYS``; None when there is none to check with."""
    if given:
        return _verifiers(",".join(given), "--writer-key")
    found = (
        _verifiers(settings.trusted_writer_keys, "COPRODUCE_TRUSTED_WRITER_KEYS")
        if settings.trusted_writer_keys
        else []
    )
    own = writer_signer(settings, create=False)
    if own is not None:
        found.insert(0, own.verifier)
    return found or None


def trusted_verifiers(settings: Settings, given: list[str]) -> list[Verifier]:
    """The public keys to trust: those given (``--key``), else this machine's own signing key's."""
    if given:
        try:
            return [Verifier.from_key_string(text) for text in given]
        except ValueError as exc:
            raise KeySettingError(
                f"--key is not a public key ({exc}); `coproduce audit key` prints one"
            ) from None
    own = checkpoint_signer(settings, create=False)
    return [own.verifier] if own else []
