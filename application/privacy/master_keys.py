"""The master key ring: the key that wraps new data keys, and older master keys that still open old ones.

Each data key of the people register is stored wrapped (AES-256-GCM) by a master key that never enters
the database. To replace the master key without losing anyone's text, a process is given a *ring*: the
**current** key, which wraps every data key made from now on, and the **previous** keys, which only
open data keys wrapped before the rotation (``coproduce keys rotate-master`` re-wraps those under the
current key, see ``rotation``).

Keys are known by an *id*: the first 16 hex digits of SHA-256 over a domain tag and the key. The id
says which key wraps a data key (``engagements.person_keys.master_key_id``) without saying anything
about the key, so it may be stored and printed; a row made before key ids existed has none (NULL), and
is opened by trying the ring's keys in turn.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
_ID_TAG = b"coproduce/master-key-id/v1|"


class MasterKeyError(RuntimeError):
    """A master key is missing, malformed or does not open what it should (one sentence saying which)."""


def key_id(key: bytes) -> str:
    """The public id of a master key (16 hex digits; reveals nothing about the key)."""
    return hashlib.sha256(_ID_TAG + key).hexdigest()[:16]


def _associated(engagement_id: str, owner: str) -> bytes:
    return f"{engagement_id}|{owner}".encode()


@dataclass(frozen=True)
class MasterKeys:
    """The current master key and the previous ones (newest first), each by its id."""

    current: bytes
    previous: tuple[bytes, ...] = ()
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for key in (self.current, *self.previous):
            if len(key) != MASTER_KEY_BYTES:
                raise MasterKeyError(f"a master key must be {MASTER_KEY_BYTES} bytes, not {len(key)}")
            self._ciphers.setdefault(key_id(key), AESGCM(key))

    @classmethod
    def of(cls, keys: bytes | MasterKeys, previous: Iterable[bytes] = ()) -> MasterKeys:
        """A ring from a single key (the current one, with ``previous``), or the ring itself."""
        if isinstance(keys, MasterKeys):
            return keys
        return cls(keys, tuple(k for k in previous if k != keys))

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def ids(self) -> list[str]:
        """Every key id of the ring, the current one first."""
        return list(self._ciphers)

    def wrap(self, engagement_id: str, owner: str, data_key: bytes) -> tuple[bytes, str]:
        """``data_key`` wrapped by the current key (nonce || ciphertext), and the current key's id."""
        nonce = os.urandom(NONCE_BYTES)
        box = self._ciphers[self.current_id].encrypt(nonce, data_key, _associated(engagement_id, owner))
        return nonce + box, self.current_id

    def unwrap(self, engagement_id: str, owner: str, wrapped: bytes, wrapped_by: str | None) -> bytes:
        """The data key ``wrapped`` holds, opened with the key ``wrapped_by`` names (every key of the
        ring in turn when it names none: a row made before key ids were recorded)."""
        if wrapped_by is not None and wrapped_by not in self._ciphers:
            raise MasterKeyError(
                f"the data key of {owner} in engagement {engagement_id} is wrapped by master key {wrapped_by}, "
                "which this process does not have: give it the old key in COPRODUCE_PREVIOUS_MASTER_KEYS "
                "(`coproduce keys status` lists the ids in use)"
            )
        candidates = [wrapped_by] if wrapped_by is not None else self.ids
        for candidate in candidates:
            try:
                return self._ciphers[candidate].decrypt(
                    wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _associated(engagement_id, owner)
                )
            except InvalidTag:
                continue
        raise MasterKeyError(
            f"no master key of this process opens the data key of {owner} in engagement {engagement_id}: "
            "it has a different master key from the one the keys were made with (COPRODUCE_MASTER_KEY, "
            "or the key file in the state directory); put the old key in COPRODUCE_PREVIOUS_MASTER_KEYS"
        )

    def opens(self, wrapped_by: str | None) -> bool:
        """Whether this ring has the key ``wrapped_by`` names (a row with no id: it may)."""
        return wrapped_by is None or wrapped_by in self._ciphers
