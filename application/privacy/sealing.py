"""Sealing personal text in event payloads before they reach the log, and opening it for readers.

The domain marks the fields that may hold personal data (``domain.personal``): reasons, notes,
assessment findings, and the names in a plan. Before an event is appended, each such field that holds
text is replaced by a *sealed* string::

    sealed:v1:<owner>:<base64url(nonce || AES-256-GCM ciphertext and tag)>

under the data key of ``owner``, the person the text belongs to (the voter for a vote's reason), or the
engagement's own key (owner ``-``) for text with no single owner. The hash chain covers the sealed
string, so the log verifies whatever becomes of the keys. Destroying a person's key (``coproduce people
forget``) makes their text unreadable for good: crypto-shredding.

Sealing is deterministic: the nonce is derived from the key, the event id and the field's path, so a
retried append produces the same bytes (the log's idempotent append compares them), while no two
fields ever share a nonce under one key. The associated data binds each sealed string to its event and
field, so a sealed string moved elsewhere fails to open.

Readers open payloads before the domain reads them: each sealed string becomes its text, or
``ERASED`` when the owner's key was destroyed, or ``WITHHELD`` when the reader may not see it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.events import EVENT_CLASSES
from domain.events.people import PersonForgotten, PersonOptedToStay, PersonStayWithdrawn, RetentionApplied
from domain.personal import PersonalField, personal_fields

PREFIX = "sealed:v1:"
ENGAGEMENT_OWNER = "-"  # the owner of text with no single owner: sealed under the engagement's key
ERASED = "(erased)"
WITHHELD = "(withheld)"
KEY_BYTES = 32
NONCE_BYTES = 12


def new_data_key() -> bytes:
    """A fresh random AES-256 key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


@cache
def fields_of(event_type: str) -> tuple[PersonalField, ...]:
    """The personal fields of an event type (none for types the domain does not know)."""
    cls = EVENT_CLASSES.get(event_type) or _OTHER_RECORDS.get(event_type)
    return personal_fields(cls) if cls is not None else ()


_OTHER_RECORDS = {  # records kept in the log beside engagements
    record.TYPE: record
    for record in (PersonForgotten, PersonOptedToStay, PersonStayWithdrawn, RetentionApplied)
}


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_owner(value: str) -> str:
    """The owner a sealed string was sealed for."""
    return value[len(PREFIX) :].rsplit(":", 1)[0]


class Site:
    """One place in a payload that holds personal text: ``container[key]``, owned by ``owner``."""

    __slots__ = ("container", "key", "owner", "path")

    def __init__(self, container: dict[str, Any], key: str, path: str, owner: str) -> None:
        self.container, self.key, self.path, self.owner = container, key, path, owner

    @property
    def value(self) -> Any:
        return self.container[self.key]


def sites(event_type: str, payload: dict[str, Any]) -> Iterator[Site]:
    """Every personal field of ``payload`` that holds a value, with its concrete path
    (``plan.people[3].display_name``) and its owner's id."""
    for found in fields_of(event_type):
        parts = found.path.split(".")
        owner = found.owner.split(".") if found.owner else []
        # Where the owner is in the same list item as the text (`people[].id` for `people[].display_name`),
        # each item names its own owner; otherwise the owner is a field of the whole payload.
        shared = 0
        for i, (step, owner_step) in enumerate(zip(parts[:-1], owner[:-1], strict=False)):
            if step != owner_step:
                break
            if step.endswith("[]"):
                shared = i + 1
        whole = _owner(payload, owner)
        for base, base_path in _nodes(payload, parts[:shared], ""):
            who = _owner(base, owner[shared:]) if shared else whole
            for container, path in _nodes(base, parts[shared:-1], base_path):
                last = parts[-1]
                if isinstance(container, dict) and container.get(last) is not None:
                    yield Site(container, last, f"{path}.{last}" if path else last, who)


def _nodes(node: Any, steps: list[str], prefix: str) -> Iterator[tuple[Any, str]]:
    """Each node reached by following ``steps`` (a step ``x[]`` goes into every item of list ``x``)."""
    if not steps:
        yield node, prefix
        return
    step = steps[0]
    name = step.removesuffix("[]")
    if not isinstance(node, dict) or node.get(name) is None:
        return
    here = f"{prefix}.{name}" if prefix else name
    if step.endswith("[]"):
        for i, item in enumerate(node[name] if isinstance(node[name], list) else ()):
            yield from _nodes(item, steps[1:], f"{here}[{i}]")
    else:
        yield from _nodes(node[name], steps[1:], here)


def _owner(node: Any, steps: list[str]) -> str:
    for step in steps:
        node = node.get(step) if isinstance(node, dict) else None
    return str(node) if steps and isinstance(node, str) and node else ENGAGEMENT_OWNER


def owners(event_type: str, payload: dict[str, Any]) -> set[str]:
    """Whose keys sealing this payload needs."""
    return {site.owner for site in sites(event_type, payload) if _needs_sealing(site)}


def _needs_sealing(site: Site) -> bool:
    value = site.value
    if not isinstance(value, str) or is_sealed(value) or value in (ERASED, WITHHELD):
        return False
    return not (site.path.endswith("display_name") and value == site.owner)  # a name that is just the id


def _copied(value: Any) -> Any:
    """A copy of a JSON value (dicts and lists new, leaves shared): what deepcopy does, for JSON, faster."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def _associated(event_id: UUID, path: str, owner: str) -> bytes:
    return f"coproduce/personal-text/v1|{event_id}|{path}|{owner}".encode()


def seal(
    event_type: str, payload: dict[str, Any], event_id: UUID, keys: Mapping[str, bytes | None]
) -> dict[str, Any]:
    """A copy of ``payload`` with its personal text sealed under ``keys[owner]``. An owner whose key
    is ``None`` has been forgotten: their text is not kept at all (``ERASED``). A name in a plan that
    is just the person's id is left as it is (it says nothing about them)."""
    sealed = _copied(payload)
    for site in sites(event_type, sealed):
        if not _needs_sealing(site):
            continue
        value = site.value
        site.container[site.key] = seal_text(value, keys.get(site.owner), event_id, site.path, site.owner)
    return sealed


def seal_text(value: str, key: bytes | None, event_id: UUID, path: str, owner: str) -> str:
    """One piece of personal text at ``path`` of an event, sealed under ``owner``'s ``key`` (``ERASED``
    when the owner was forgotten: there is no key)."""
    if key is None:
        return ERASED
    associated = _associated(event_id, path, owner)
    nonce = hmac.new(key, associated, hashlib.sha256).digest()[:NONCE_BYTES]
    box = AESGCM(key).encrypt(nonce, value.encode("utf-8"), associated)
    text = base64.urlsafe_b64encode(nonce + box).decode("ascii").rstrip("=")
    return f"{PREFIX}{owner}:{text}"


def open_text(value: str, keys: Mapping[str, bytes] | None, event_id: UUID, path: str) -> str:
    """A sealed string opened (its text, ``ERASED`` or ``WITHHELD``, as ``open_sealed`` does); text
    that is not sealed is returned as it is."""
    if not is_sealed(value):
        return value
    owner = sealed_owner(value)
    key = keys.get(owner) if keys is not None else None
    if key is None:
        return ERASED if keys is not None else WITHHELD
    raw = value[len(PREFIX) + len(owner) + 1 :]
    blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    try:
        return (
            AESGCM(key)
            .decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _associated(event_id, path, owner))
            .decode()
        )
    except InvalidTag:
        return ERASED


def open_sealed(
    event_type: str,
    payload: dict[str, Any],
    event_id: UUID,
    keys: Mapping[str, bytes] | None,
    forgotten: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Any]:
    """A copy of ``payload`` with sealed text opened: the text when ``keys`` holds its owner's key,
    ``ERASED`` when the owner was forgotten (or the key no longer opens it), else ``WITHHELD``
    (``keys=None``: this reader may not see personal text)."""
    if not any(is_sealed(s.value) for s in sites(event_type, payload)):
        return payload
    opened = _copied(payload)
    for site in sites(event_type, opened):
        value = site.value
        if not is_sealed(value):
            continue
        owner = sealed_owner(value)
        key = keys.get(owner) if keys is not None else None
        if key is None:
            site.container[site.key] = ERASED if owner in forgotten or keys is not None else WITHHELD
            continue
        raw = value[len(PREFIX) + len(owner) + 1 :]
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        try:
            plain = AESGCM(key).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _associated(event_id, site.path, owner)
            )
        except InvalidTag:
            site.container[site.key] = ERASED
            continue
        site.container[site.key] = plain.decode("utf-8")
    return opened
