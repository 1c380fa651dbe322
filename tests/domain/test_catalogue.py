"""One event catalogue: the union ``domain.events.DomainEvent`` lists every event type once, and each type
is described completely: a docstring saying what happened, a transition that applies it, and a sentence
in the auditor's timeline. An event type added without one of them fails here, saying what is missing.
"""

from __future__ import annotations

import inspect
import uuid
from datetime import timedelta
from typing import get_args

import pytest

from application.audit.history import DESCRIBERS, DecodedEvent, TimelineEntry, timeline
from domain.events import (
    EVENT_CLASSES,
    DomainEvent,
    EngagementResumed,
    Event,
    GateDecided,
    GateOpened,
    PhaseStarted,
    event_to_record,
)
from domain.transitions import ALLOWED_WHILE_PAUSED, HANDLERS, MODULES, handler_name
from eventlog.events import RecordedEvent
from tests.domain.plans import small_plan
from tests.domain.scenario import scripted_history
from tests.domain.test_changes import cosign_story
from tests.domain.test_consent import consent_story
from tests.domain.test_events import override_story
from tests.domain.test_follow_up import follow_up_history

CATALOGUE = list(EVENT_CLASSES.items())
TYPE_IDS = [name for name, _ in CATALOGUE]


def test_the_catalogue_is_the_union_in_its_order() -> None:
    union = list(get_args(get_args(DomainEvent)[0]))
    assert list(EVENT_CLASSES.values()) == union
    assert len(set(union)) == len(union)
    assert all(cls.model_fields["type"].default == name for name, cls in CATALOGUE)


@pytest.mark.parametrize("name, cls", CATALOGUE, ids=TYPE_IDS)
def test_every_event_type_says_what_happened(name: str, cls: type[Event]) -> None:
    doc = cls.__dict__.get("__doc__")  # its own, not one inherited
    assert doc and doc.strip(), f"{cls.__name__} ({name}) needs a docstring saying what happened"


@pytest.mark.parametrize("name, cls", CATALOGUE, ids=TYPE_IDS)
def test_every_event_type_has_its_transition(name: str, cls: type[Event]) -> None:
    modules = ", ".join(module.__name__ for module in MODULES)
    handler = HANDLERS.get(cls)
    assert handler is not None, f"{name} has no transition: write {handler_name(name)} in one of {modules}"
    _state, event = list(inspect.signature(handler).parameters.values())
    assert event.annotation in (cls, cls.__name__), f"{handler.__qualname__} takes {event.annotation}"


def test_every_transition_applies_an_event_of_the_catalogue_once() -> None:
    """A handler named for a type not in the union (or misspelt) would never be called."""
    seen: dict[str, str] = {}
    for module in MODULES:
        for name, function in vars(module).items():
            if (
                name.startswith("on_")
                and inspect.isfunction(function)
                and function.__module__ == module.__name__
            ):
                event_type = name.removeprefix("on_")
                assert event_type in EVENT_CLASSES, (
                    f"{module.__name__}.{name} names no event type in the catalogue"
                )
                assert event_type not in seen, f"{name} is in both {seen[event_type]} and {module.__name__}"
                seen[event_type] = module.__name__
    assert list(HANDLERS) == list(EVENT_CLASSES.values())  # in catalogue order, one each


def test_only_catalogue_events_may_happen_while_paused() -> None:
    assert set(ALLOWED_WHILE_PAUSED) <= set(EVENT_CLASSES.values())
    assert EngagementResumed in ALLOWED_WHILE_PAUSED
    assert not {PhaseStarted, GateOpened, GateDecided} & ALLOWED_WHILE_PAUSED  # nothing moves on


@pytest.mark.parametrize("name, cls", CATALOGUE, ids=TYPE_IDS)
def test_every_event_type_has_a_timeline_describer(name: str, cls: type[Event]) -> None:
    assert cls in DESCRIBERS, f"{name} has no describer in application.audit.history.DESCRIBERS"


def test_the_timeline_describes_only_catalogue_events() -> None:
    assert set(DESCRIBERS) <= set(EVENT_CLASSES.values())


def decoded(events: list[Event]) -> list[DecodedEvent]:
    """The events as the auditor reads them back from the log (positions, times, the system as actor)."""
    history = []
    for position, event in enumerate(events, 1):
        kind, version, payload = event_to_record(event)
        record = RecordedEvent(
            position=position,
            stream_id="eng-1",
            stream_version=position,
            event_id=uuid.uuid4(),
            type=kind,
            schema_version=version,
            payload=payload,
            metadata={"actor": "coproduce"},
            occurred_at=event.occurred_at,
            recorded_at=event.occurred_at + timedelta(seconds=1),
            entry=b"",
            leaf_hash=b"",
            chain_hash=b"",
        )
        history.append(DecodedEvent(record, event))
    return history


@pytest.fixture(scope="module")
def first_entries() -> dict[str, TimelineEntry]:
    """The timeline entry of the first event of each type in scripted engagements on the small plan."""
    found: dict[str, TimelineEntry] = {}
    histories = [
        override_story().events,
        cosign_story().events,
        consent_story().events,
        list(follow_up_history()),
    ] + [scripted_history(small_plan(), seed) for seed in range(3)]
    seed = 3
    while True:
        for history in histories:
            for entry in timeline(decoded(history)):
                found.setdefault(entry.event, entry)
        if set(found) >= set(EVENT_CLASSES) or seed >= 60:
            return found
        histories, seed = [scripted_history(small_plan(), seed)], seed + 1


@pytest.mark.parametrize("name", TYPE_IDS)
def test_every_event_type_has_a_sentence_in_the_timeline(
    name: str, first_entries: dict[str, TimelineEntry]
) -> None:
    entry = first_entries.get(name)
    assert entry is not None, f"the scripted engagements never record {name}"
    assert entry.what.strip() and entry.what != name.replace("_", " "), (
        f"the timeline says only {entry.what!r} for {name}: add its describer to DESCRIBERS"
    )
