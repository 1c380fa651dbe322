"""Encrypting every Temporal payload, so the Temporal server never holds personal data in clear.

``EncryptionCodec`` is a Temporal ``PayloadCodec``: each payload (already made JSON by the pydantic
converter) is serialised and sealed with AES-256-GCM under the current payload key, with a fresh random
nonce; the key id travels in the payload's metadata (``encryption-key-id``), so decoding picks the right
key and keys can be rotated by adding a new one first (``workers.keys.payload_keys``). Payloads that are
not encrypted (histories recorded before encryption, or input typed into the stock ``temporal`` CLI)
pass through decoding unchanged; the worker decodes them as before.

Two kinds of payload are left readable, because they hold no personal data by construction and
approvers read them with the stock ``temporal`` CLI: an update's result (``UpdateResult``: event types
and positions) and the ``status`` query's answer (``EngagementStatus``: the engagement's state, which
names people by id and holds no free text). ``MarkingPayloadConverter`` marks exactly those types
(metadata ``coproduce-public``), by their Python type, so no caller can mark anything else.

An update's input is read with no type (its handler takes ``*inputs``) by ``InputJsonConverter``, which
keeps what a plain JSON reading loses: a key given twice (``messages.read_json``), so that the workflow's
validator can refuse it (the last value would win otherwise, silently).

Search attributes are not payloads the codec sees: they must never hold personal data (they do not).
``codec_server`` serves ``/decode`` (and ``/encode``) for the Temporal web UI and CLI
(``--codec-endpoint``), so people allowed to see decrypted payloads can.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import (
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
    pydantic_data_converter,
)
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
)

from workflows.messages import EngagementStatus, UpdateResult, read_json

from .keys import payload_keys
from .settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


PUBLIC = "coproduce-public"
PUBLIC_TYPES: tuple[type, ...] = (UpdateResult, EngagementStatus)


class InputJsonConverter(PydanticJSONPlainPayloadConverter):
    """Pydantic's JSON converter, except for JSON read with no type (an update's inputs): that is read
    by ``read_json``, which remembers keys given twice."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        if type_hint is None:
            return read_json(payload.data)
        return super().from_payload(payload, type_hint)


class MarkingPayloadConverter(PydanticPayloadConverter):
    """The pydantic payload converter, marking the payloads of ``PUBLIC_TYPES`` to be left unencrypted,
    and reading untyped JSON with ``InputJsonConverter``."""

    def __init__(self) -> None:
        json_converter = InputJsonConverter()
        CompositePayloadConverter.__init__(
            self,
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            ),
        )

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        payloads = super().to_payloads(values)
        for value, payload in zip(values, payloads, strict=True):
            if isinstance(value, PUBLIC_TYPES):
                payload.metadata[PUBLIC] = b"1"
        return payloads


class PayloadKeyMissing(ValueError):
    """A payload was encrypted under a key this process does not have."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads; the first key encrypts, every key decrypts."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("the payload codec needs at least one key")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = next(iter(keys))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get(PUBLIC) == b"1":  # a result or a status: no personal data
            public = Payload()
            public.CopyFrom(payload)
            del public.metadata[PUBLIC]  # plain JSON, as the stock CLI and web UI read it
            return public
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._current.encode()
        sealed = self._keys[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not encrypted: recorded before encryption, or typed into the stock CLI
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise PayloadKeyMissing(
                f"a Temporal payload is encrypted with key id {key_id!r}, which this process does not "
                "have; add it to COPRODUCE_PAYLOAD_KEYS (after the current key)"
            )
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise PayloadKeyMissing(
                f"a Temporal payload does not open with key {key_id!r}: the key with that id is not "
                "the one it was encrypted with"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def codec(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec(payload_keys(settings))


def data_converter(settings: Settings | None = None) -> DataConverter:
    """The converter every client, worker, test environment and replayer uses: pydantic (marking the
    public types), then the encryption codec with this installation's payload keys."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=MarkingPayloadConverter,
        payload_codec=codec(settings or Settings()),
    )
