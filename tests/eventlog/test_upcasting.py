"""Schema evolution: old events are read in the current shape; the stored, hashed bytes never change."""

from __future__ import annotations

import pytest

from eventlog import EventLog, NewEvent, UpcasterRegistry, verify_database


def v1_to_v2(payload: dict) -> dict:
    """check_in v2 keeps the comfort score under a clearer name and adds the scale."""
    return {"comfort_score": payload["comfort"], "scale_max": 5, "note": payload.get("note", "")}


def v2_to_v3(payload: dict) -> dict:
    return {**payload, "anonymous": False}


REGISTRY = UpcasterRegistry([("check_in", 1, v1_to_v2), ("check_in", 2, v2_to_v3)])


async def test_old_events_read_in_the_current_shape(database_url: str) -> None:
    writer = await EventLog.open(database_url)
    await writer.append("e", [NewEvent("check_in", {"comfort": 3}, schema_version=1)], 0)
    await writer.append(
        "e", [NewEvent("check_in", {"comfort_score": 4, "scale_max": 5, "note": ""}, schema_version=2)], 1
    )
    await writer.close()

    reader = await EventLog.open(database_url, upcasters=REGISTRY)
    old, newer = await reader.read_stream("e")
    await reader.close()
    assert (old.schema_version, old.payload) == (
        3,
        {"comfort_score": 3, "scale_max": 5, "note": "", "anonymous": False},
    )
    assert (newer.schema_version, newer.payload["comfort_score"]) == (3, 4)
    assert b'"comfort":3' in old.entry  # what was hashed is what was written
    assert (await verify_database(database_url)).ok


def test_a_current_event_passes_through_unchanged() -> None:
    payload = {"comfort_score": 5, "scale_max": 5, "note": "", "anonymous": True}
    assert REGISTRY.upcast("check_in", 3, payload) == (3, payload)
    assert REGISTRY.upcast("other", 1, {"x": 1}) == (1, {"x": 1})
    assert REGISTRY.current_version("check_in", 1) == 3


def test_two_upcasters_for_the_same_step_are_refused() -> None:
    with pytest.raises(ValueError, match="registered already"):
        UpcasterRegistry([("check_in", 1, v1_to_v2), ("check_in", 1, v2_to_v3)])
