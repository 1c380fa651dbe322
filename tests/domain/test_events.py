"""The event catalogue: records round-trip exactly, bad records are refused clearly, personal data is marked."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain.errors import RecordError
from domain.events import (
    EVENT_CLASSES,
    CheckInRecorded,
    EngagementStarted,
    Event,
    PaceHoldRecorded,
    PaceOverridden,
    VoteCast,
    event_from_json,
    event_from_record,
    event_to_record,
    personal_data_fields,
    personal_data_paths,
)
from domain.events.incidents import EventDisowned
from domain.personal import PersonalField
from domain.plan import plan_sha256
from domain.rules.pace import pace_check
from tests.domain.helpers import Story
from tests.domain.plans import small_plan
from tests.domain.scenario import scripted_history
from tests.domain.test_changes import cosign_story
from tests.domain.test_consent import consent_story
from tests.domain.test_follow_up import follow_up_history


def override_story() -> Story:
    """The pilot is ready but comfort is low: the pace policy holds it, then a facilitator overrides; and
    a facilitator disowns an event someone appended with the database login (no script meets one)."""
    story = Story().pilot_ready().check_ins(u1=2, u2=3, u3=2)
    waiting = pace_check(story.state, "pilot", story.now).waiting_for
    story.record(PaceHoldRecorded(occurred_at=story.now, phase_id="pilot", waiting_for=waiting))
    story.on(16).record(
        PaceOverridden(occurred_at=story.now, phase_id="pilot", overridden_by="f1", reason="Agreed to go on.")
    )
    return story.record(
        EventDisowned(
            occurred_at=story.now,
            position=999,
            event_id=uuid.uuid4(),
            event_type="vote_cast",
            disowned_by="f1",
            reason="Appended with the database login, not by us.",
        )
    )


def catalogue_sample() -> list[Event]:
    """Events of every type: forty scripted small engagements, a pace override, co-signed changes, a
    withdrawal of consent and a follow-up period."""
    plan = small_plan()
    scripted = [e for seed in range(40) for e in scripted_history(plan, seed)]
    stories = override_story().events + cosign_story().events + consent_story().events
    return scripted + stories + list(follow_up_history())


@pytest.fixture(scope="module")
def sample() -> list[Event]:
    return catalogue_sample()


def test_the_sample_covers_every_event_type(sample: list[Event]) -> None:
    assert {event.type for event in sample} == set(EVENT_CLASSES)
    assert len(EVENT_CLASSES) == 41


def test_every_event_round_trips_exactly_through_a_json_record(sample: list[Event]) -> None:
    for event in sample:
        kind, version, payload = event_to_record(event)
        assert kind == event.type and version == type(event).SCHEMA_VERSION
        assert "type" not in payload
        stored = json.dumps(payload)  # what the event store keeps
        assert event_from_record(kind, version, json.loads(stored)) == event
        assert event_from_json(kind, version, stored.encode()) == event
        assert event_to_record(event_from_json(kind, version, stored)) == (kind, version, payload)


def test_times_must_be_aware_and_utc() -> None:
    base = {"person_id": "u1", "comfort": 4}
    assert CheckInRecorded(occurred_at=datetime(2025, 1, 6, 9, tzinfo=UTC), **base).occurred_at.tzinfo
    with pytest.raises(ValidationError, match="timezone info"):
        CheckInRecorded(occurred_at=datetime(2025, 1, 6, 9), **base)
    with pytest.raises(ValidationError, match="offset of 0 required"):
        CheckInRecorded(occurred_at=datetime(2025, 1, 6, 9, tzinfo=timezone(timedelta(hours=1))), **base)
    record = event_to_record(CheckInRecorded(occurred_at=datetime(2025, 1, 6, 9, tzinfo=UTC), **base))
    assert record[2]["occurred_at"] == "2025-01-06T09:00:00Z"


def test_unknown_type_newer_version_and_bad_payload_are_clear_record_errors() -> None:
    payload = {"occurred_at": "2025-01-06T09:00:00Z", "person_id": "u1", "comfort": 4, "note": None}
    with pytest.raises(RecordError, match="unknown event type 'comfort_measured'"):
        event_from_record("comfort_measured", 1, payload)
    with pytest.raises(RecordError, match="schema version 3 but this code reads up to 2; upgrade coproduce"):
        event_from_record("check_in_recorded", 3, payload)
    with pytest.raises(
        RecordError, match=r"check_in_recorded \(schema version 2\): the payload does not validate: comfort"
    ):
        event_from_json("check_in_recorded", 2, json.dumps({**payload, "comfort": "very"}))
    with pytest.raises(RecordError, match="unknown event type"):
        event_from_json("comfort_measured", 1, b"{}")


def test_events_are_immutable_and_reject_unknown_fields() -> None:
    event = CheckInRecorded(occurred_at=datetime(2025, 1, 6, 9, tzinfo=UTC), person_id="u1", comfort=4)
    with pytest.raises(ValidationError):
        event.comfort = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        CheckInRecorded(occurred_at=event.occurred_at, person_id="u1", comfort=4, name="Uma User")  # type: ignore[call-arg]


def test_people_appear_only_as_opaque_ids() -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        VoteCast(
            occurred_at=datetime(2025, 1, 6, tzinfo=UTC),
            phase_id="p",
            round=1,
            person_id="Uma User",
            choice="approve",
        )


def test_personal_data_paths_per_event_type() -> None:
    paths = personal_data_paths()
    assert set(paths) == set(EVENT_CLASSES)
    assert paths["vote_cast"] == ("reason",)
    assert paths["check_in_recorded"] == ("note",)
    assert paths["session_held"] == ("notes",)
    assert paths["gate_decided"] == ("reason",)
    assert paths["pace_overridden"] == ("reason",)
    assert paths["engagement_started"] == ("plan.people[].display_name", "plan.people[].contact")
    assert set(paths["assessment_recorded"]) == {
        "past_co_production",
        "what_worked",
        "what_did_not_work",
        "approach_to_change",
    }
    assert paths["phase_started"] == () and paths["gate_opened"] == ()
    assert personal_data_fields("vote_cast") == (PersonalField("reason", "person_id"),)
    assert personal_data_fields("engagement_started") == (
        PersonalField("plan.people[].display_name", "plan.people[].id"),
        PersonalField("plan.people[].contact", "plan.people[].id"),
    )


def test_every_free_text_field_in_the_catalogue_is_marked_personal() -> None:
    """A new free-text field must be marked (or consciously listed here as not personal)."""
    # generated by the rules, never typed by a person (event_type: the type a foreign record claims;
    # weakens: what an amendment weakens, in the rules' words)
    not_personal = {"waiting_for", "event_type", "weakens"}
    marked = {path.split(".")[-1] for paths in personal_data_paths().values() for path in paths}
    free_text = set()
    for name, cls in EVENT_CLASSES.items():
        for field, spec in cls.model_json_schema()["properties"].items():
            options = [
                spec,
                *spec.get("anyOf", []),
                *spec.get("items", {}).get("anyOf", [spec.get("items", {})]),
            ]
            if any(o.get("type") == "string" and "maxLength" in o for o in options):  # text, not ids
                free_text.add(field)
                assert field in marked | not_personal, (
                    f"{name}.{field} holds free text but is not marked personal"
                )
            if field in marked:
                assert spec.get("personal_data") is True, f"{name}.{field} not marked in the JSON schema"
    assert free_text >= {"reason", "note", "notes", "what_worked", "waiting_for"}


def test_engagement_started_refuses_a_plan_hash_that_does_not_match() -> None:
    plan = small_plan()
    good = EngagementStarted(
        occurred_at=datetime(2025, 1, 6, tzinfo=UTC),
        engagement_id="e",
        plan=plan,
        plan_sha256=plan_sha256(plan),
        started_by="f1",
    )
    with pytest.raises(ValidationError, match="plan_sha256 is not the SHA-256 of the plan"):
        EngagementStarted(**{**dict(good), "plan_sha256": "0" * 64})
