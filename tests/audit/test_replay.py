"""Replaying the whole log gives every engagement the timeline the auditor sees for it alone."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from application.audit.history import decode, timeline
from application.audit.replay import decode_entry, replay_timelines
from domain.events import event_to_record
from domain.plan import plan_from_yaml
from eventlog import AUDITOR_ROLE, EventLog, NewEvent, canonical_json
from tests.domain.plans import EXAMPLE_FILES, example_yaml
from tests.domain.scenario import scripted_history


def _records(engagement_id: str, seed: int) -> list[NewEvent]:
    name = EXAMPLE_FILES[seed % len(EXAMPLE_FILES)]
    events = []
    for event in scripted_history(plan_from_yaml(example_yaml(name), name), seed):
        kind, version, payload = event_to_record(event)
        if kind == "engagement_started":
            payload = {**payload, "engagement_id": engagement_id}
        events.append(
            NewEvent(
                type=kind,
                schema_version=version,
                payload=payload,
                occurred_at=event.occurred_at,
                actor=payload.get("person_id") or "coproduce",
                correlation_id=engagement_id,
            )
        )
    return events


@pytest.fixture
async def three_engagements(log: EventLog) -> list[str]:
    """Three whole engagements appended in interleaved chunks, as concurrent engagements are."""
    streams = {f"eng-{name}": _records(f"eng-{name}", seed) for seed, name in enumerate(("b", "c", "a"))}
    done = dict.fromkeys(streams, 0)
    while any(done[s] < len(events) for s, events in streams.items()):
        for stream_id, events in streams.items():
            chunk = events[done[stream_id] : done[stream_id] + 97]
            if chunk:
                await log.append(stream_id, chunk, expected_version=done[stream_id])
                done[stream_id] += len(chunk)
    return sorted(streams)


async def test_replay_gives_each_engagement_its_own_timeline_in_order(
    database_url: str, log: EventLog, three_engagements: list[str]
) -> None:
    replayed = list(replay_timelines(database_url, role=AUDITOR_ROLE, batch_size=50))
    assert [s for s, _ in replayed] == sorted(s for s, _ in replayed)  # engagements one after another
    for stream_id in three_engagements:
        alone = [e.as_json() for e in timeline(decode(await log.read_stream(stream_id)))]
        assert alone and alone[-1]["event"] == "engagement_completed"
        assert [e.as_json() for s, e in replayed if s == stream_id] == alone


async def test_replay_of_an_empty_log_yields_nothing(database_url: str) -> None:
    assert list(replay_timelines(database_url)) == []


@pytest.mark.parametrize(
    "metadata, payload",
    [
        ({"actor": "u1"}, {"note": 'she said ","payload": and ,"schema_version": 9,"type":"x"}'}),
        ({"actor": "u1", "nested": {"occurred_at": "x", "payload": {"a": 1}}}, {"list": [{"b": "}"}]}),
        ({}, {"name": 'Zoë \\ " \u2028', "n": 1}),
    ],
)
def test_the_payload_is_cut_from_the_bytes_exactly(
    metadata: dict[str, object], payload: dict[str, object]
) -> None:
    event = NewEvent("check_in_recorded", payload, schema_version=2, metadata=metadata)
    entry = canonical_json(event.envelope('s "odd" \\ "type":"y"', datetime(2026, 1, 1, tzinfo=UTC)))
    kind, version, meta, cut = decode_entry(entry)
    assert (kind, version, meta) == ("check_in_recorded", 2, metadata)
    assert isinstance(cut, str) and json.loads(cut) == payload


def test_an_envelope_of_another_shape_is_parsed_whole() -> None:
    entry = json.dumps(
        {"type": "x", "schema_version": 1, "payload": {"a": 1}, "metadata": {}, "event_id": str(uuid.uuid4())}
    ).encode()
    assert decode_entry(entry) == ("x", 1, {}, {"a": 1})
