"""Schema evolution: upcasters turn an old event payload into the current shape when it is read.

Stored bytes never change (they are hashed). Instead, each time an event type's payload changes, its
schema version goes up by one and an upcaster from the old version is registered. Reading applies them
in turn: v1 -> v2 -> v3 ... until no upcaster is registered for the version reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Payload = dict[str, Any]
UpcastFn = Callable[[Payload], Payload]


class UpcasterRegistry:
    """Upcasters keyed by (event type, the schema version they upgrade *from*)."""

    def __init__(self, upcasters: Iterable[tuple[str, int, UpcastFn]] = ()) -> None:
        self._by_key: dict[tuple[str, int], UpcastFn] = {}
        for event_type, from_version, fn in upcasters:
            self.register(event_type, from_version, fn)

    def register(self, event_type: str, from_version: int, fn: UpcastFn) -> None:
        key = (event_type, from_version)
        if key in self._by_key:
            raise ValueError(
                f"an upcaster for {event_type!r} from version {from_version} is registered already"
            )
        self._by_key[key] = fn

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def current_version(self, event_type: str, schema_version: int) -> int:
        while (event_type, schema_version) in self._by_key:
            schema_version += 1
        return schema_version

    def upcast(self, event_type: str, schema_version: int, payload: Payload) -> tuple[int, Payload]:
        """The payload brought to the newest version this registry knows, with that version."""
        by_key = self._by_key
        while (fn := by_key.get((event_type, schema_version))) is not None:
            payload = fn(payload)
            schema_version += 1
        return schema_version, payload
