"""The checkpoint signing key: where it lives, how it is made, and how auditors get the public half.

The private key signs checkpoints (and evidence bundles). It never goes into the database: a person who
controls the database must not be able to re-sign a rewritten log. It comes from, in order:

1. ``COPRODUCE_CHECKPOINT_KEY``: the key string (``PRIVATE+KEY+...``), e.g. from a secret store;
2. the key file ``<state dir>/keys/checkpoint-signer.key`` (mode 0600), created by the first
   ``coproduce audit checkpoint`` or ``export`` on a machine without a key.

The public key (``coproduce audit key``) is not secret: give it to auditors by a route the log's
operators do not control (a board paper, a letter, the funder's own records), so a checkpoint or bundle
signed by anyone else fails their check.
"""

from __future__ import annotations

import os
from pathlib import Path

from eventlog import Signer, Verifier
from workers.settings import Settings

from ..common import CommandError


def _read(path: Path) -> Signer:
    try:
        return Signer.from_key_string(path.read_text())
    except ValueError as exc:
        raise CommandError(
            f"the signing key in {path} is not usable ({exc}); restore it from its backup"
        ) from None


def signer(settings: Settings, *, create: bool) -> Signer | None:
    """The signing key; a new one in the key file when there is none and ``create`` is set."""
    if settings.checkpoint_key is not None:
        try:
            return Signer.from_key_string(settings.checkpoint_key.get_secret_value())
        except ValueError as exc:
            raise CommandError(f"COPRODUCE_CHECKPOINT_KEY is not a signing key ({exc})") from None
    path = settings.checkpoint_key_file
    if path.exists():
        return _read(path)
    if not create:
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Signer.generate(settings.log_origin.replace(" ", "-").replace("+", "-"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.key_string() + "\n")
    return key


def trusted(settings: Settings, given: list[str]) -> list[Verifier]:
    """The public keys to trust: those given on the command line, else this machine's own key."""
    if given:
        try:
            return [Verifier.from_key_string(text) for text in given]
        except ValueError as exc:
            raise CommandError(
                f"--key is not a public key ({exc}); `coproduce audit key` prints one"
            ) from None
    own = signer(settings, create=False)
    return [own.verifier] if own else []
