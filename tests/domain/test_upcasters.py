"""Upcasters: old payloads read back as current events; current payloads pass through untouched."""

import json

import pytest

from domain.errors import RecordError
from domain.events import (
    EVENT_CLASSES,
    AssessmentRecorded,
    CheckInRecorded,
    event_from_json,
    event_from_record,
)
from domain.upcasters import UPCASTERS, Upcaster, upcast_payload

V1_CHECK_IN = {"occurred_at": "2025-02-03T10:00:00Z", "person_id": "u1", "comfort": 2}
V1_ASSESSMENT = {
    "occurred_at": "2025-01-08T11:30:00Z",
    "recorded_by": "f1",
    "past_co_production": "A forum that faded.",
    "what_worked": "Walkabouts.",
    "what_did_not_work": "Office-hours meetings.",
    "approach_to_change": "Cautious.",
    "oric_items": [4, 4, 3, 4, 5, 3, 3, 4, 3, 4, 3, 3],
}


def test_a_version_1_check_in_reads_as_a_current_one_without_a_note() -> None:
    event = event_from_record("check_in_recorded", 1, dict(V1_CHECK_IN))
    assert isinstance(event, CheckInRecorded)
    assert (event.person_id, event.comfort, event.note) == ("u1", 2, None)
    assert event_from_json("check_in_recorded", 1, json.dumps(V1_CHECK_IN)) == event


def test_a_version_1_assessment_gets_its_oric_subscales_and_means() -> None:
    event = event_from_record("assessment_recorded", 1, dict(V1_ASSESSMENT))
    assert isinstance(event, AssessmentRecorded)
    assert event.oric.commitment_items == (4, 4, 3, 4, 5)
    assert event.oric.efficacy_items == (3, 3, 4, 3, 4, 3, 3)
    assert (event.oric.commitment_mean, event.oric.efficacy_mean) == (4.0, 3.29)
    assert event.oric.respondents is None


def test_upcasters_never_change_their_input() -> None:
    original = json.dumps(V1_ASSESSMENT, sort_keys=True)
    payload = json.loads(original)
    upcast_payload("assessment_recorded", 1, payload, 2)
    assert json.dumps(payload, sort_keys=True) == original


def test_a_malformed_old_payload_is_a_clear_record_error() -> None:
    with pytest.raises(RecordError, match="expected 12 ORIC item scores, got 3"):
        event_from_record("assessment_recorded", 1, {**V1_ASSESSMENT, "oric_items": [1, 2, 3]})


def test_upcasters_have_the_shape_the_event_store_registers() -> None:
    registered: list[tuple[str, int]] = []

    class Registry:  # the event store's registry takes exactly (event_type, from_version, fn)
        def register(self, event_type: str, from_version: int, fn: object) -> None:
            registered.append((event_type, from_version))
            assert callable(fn)

    registry = Registry()
    for upcaster in UPCASTERS:
        assert isinstance(upcaster, Upcaster)
        registry.register(upcaster.event_type, upcaster.from_version, upcaster.upcast)
    assert ("check_in_recorded", 1) in registered and ("assessment_recorded", 1) in registered


def test_every_event_type_has_an_unbroken_chain_up_to_its_current_version() -> None:
    steps = {(u.event_type, u.from_version) for u in UPCASTERS}
    assert len(steps) == len(UPCASTERS), "two upcasters for the same step"
    for event_type, from_version in steps:
        assert event_type in EVENT_CLASSES
        assert from_version < EVENT_CLASSES[event_type].SCHEMA_VERSION, "an upcaster from the current version"
    for name, cls in EVENT_CLASSES.items():
        for version in range(1, cls.SCHEMA_VERSION):
            assert (name, version) in steps, f"{name} cannot be read from schema version {version}"


def test_upcasting_a_current_payload_changes_nothing() -> None:
    payload = {**V1_CHECK_IN, "note": "fine"}
    assert upcast_payload("check_in_recorded", 2, payload, 2) is payload


def test_the_event_stores_registry_accepts_them_and_reads_old_records_to_current() -> None:
    registry_module = pytest.importorskip("eventlog.upcasting")
    registry = registry_module.UpcasterRegistry(UPCASTERS)
    version, payload = registry.upcast("check_in_recorded", 1, dict(V1_CHECK_IN))
    assert version == CheckInRecorded.SCHEMA_VERSION
    assert event_from_record("check_in_recorded", version, payload) == event_from_record(
        "check_in_recorded", 1, dict(V1_CHECK_IN)
    )
    assert (
        registry.upcast("assessment_recorded", 1, dict(V1_ASSESSMENT))[0] == AssessmentRecorded.SCHEMA_VERSION
    )
