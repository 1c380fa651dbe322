"""Upcasters: turn a stored payload written at an older schema version into the current shape.

Each `Upcaster(event_type, from_version, upcast)` maps a payload at `from_version` to one at
`from_version + 1`; a chain of them brings any old record up to date. They work on plain dicts (the
stored JSON), never mutate their input, and are deterministic. The event store registers them as
`registry.register(u.event_type, u.from_version, u.upcast)`; `event_from_record` applies them itself.

To change an event's payload: bump its class's `SCHEMA_VERSION`, add an upcaster here from the old
version, and add a test that an old payload reads back as the expected event.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from domain.errors import RecordError

Payload = dict[str, Any]


class Upcaster(NamedTuple):
    event_type: str
    from_version: int
    upcast: Callable[[Payload], Payload]


def check_in_v1_to_v2(payload: Payload) -> Payload:
    """check_in_recorded v1 had `person_id` and `comfort` only; v2 adds an optional free-text `note`."""
    return {**payload, "note": None}


def assessment_v1_to_v2(payload: Payload) -> Payload:
    """assessment_recorded v1 kept the 12 ORIC items in one list `oric_items` (the 5 change-commitment
    items, then the 7 change-efficacy items) and no respondent count; v2 has an `oric` object with the
    two subscales and their means."""
    upcast = {key: value for key, value in payload.items() if key != "oric_items"}
    items = [float(score) for score in payload["oric_items"]]
    if len(items) != 12:
        raise RecordError(f"assessment_recorded v1: expected 12 ORIC item scores, got {len(items)}")
    commitment, efficacy = items[:5], items[5:]
    upcast["oric"] = {
        "respondents": None,
        "commitment_items": commitment,
        "efficacy_items": efficacy,
        "commitment_mean": round(sum(commitment) / 5, 2),
        "efficacy_mean": round(sum(efficacy) / 7, 2),
    }
    return upcast


UPCASTERS: tuple[Upcaster, ...] = (
    Upcaster("check_in_recorded", 1, check_in_v1_to_v2),
    Upcaster("assessment_recorded", 1, assessment_v1_to_v2),
)

_BY_STEP: dict[tuple[str, int], Callable[[Payload], Payload]] = {
    (u.event_type, u.from_version): u.upcast for u in UPCASTERS
}


def upcast_payload(event_type: str, version: int, payload: Payload, target_version: int) -> Payload:
    """Bring `payload` from `version` up to `target_version` (unchanged when they are equal)."""
    if version > target_version:
        raise RecordError(
            f"{event_type} has schema version {version} but this code reads up to {target_version}; "
            "upgrade coproduce to read this log"
        )
    while version < target_version:
        step = _BY_STEP.get((event_type, version))
        if step is None:
            raise RecordError(f"no upcaster for {event_type} from schema version {version}")
        payload = step(payload)
        version += 1
    return payload
