"""The event catalogue: every domain event, the discriminated union, and conversion to and from records.

`DomainEvent`, the union below, is the catalogue: the one list of event types, in the order they are
read about. Everything else follows it: `EVENT_CLASSES` (each class by its type name, in that order),
the transitions (`domain.transitions.HANDLERS`: `on_<type>` for each), the auditor's timeline (a sentence
for each type). To add an event type: its class with a docstring saying what happened, a place in the
union, its transition and its timeline sentence; tests/domain/test_catalogue.py says what is missing.

The event store keeps each event as `(type, schema_version, payload)`. `event_to_record` gives that
triple, with a JSON-compatible payload; `event_from_record` (a dict payload) and `event_from_json`
(payload bytes, the fast path) rebuild the event, upcasting older schema versions first. The round trip
is exact. Plans inside events are read back with `STRUCTURE_ONLY` validation (see `domain.plan`).
`personal_data_paths()` lists, per event type, the payload fields that may hold personal data.
"""

import json
from typing import Annotated, Any, get_args

from pydantic import Field, TypeAdapter, ValidationError

from domain.errors import RecordError
from domain.events.base import Event, PersonId
from domain.events.changes import ChangeCosigned, ChangeDeclined, ChangeKind, ChangeProposed
from domain.events.evaluation import (
    AssessmentRecorded,
    BaselineRecorded,
    EvaluationStrategyAgreed,
    MeasurementRecorded,
    MilestoneDue,
    OricScores,
)
from domain.events.gates import (
    GateDecided,
    GateOpened,
    GateOutcome,
    GatePolicy,
    RosterEntry,
    VoteCast,
    VoteChoice,
)
from domain.events.incidents import EventDisowned
from domain.events.ledger import ContributionLogged, RecognitionPaid, RungChanged
from domain.events.lifecycle import (
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    EngagementStarted,
    FollowUpReviewed,
    FollowUpStarted,
    PauseRequested,
    PlanAmended,
)
from domain.events.outputs import DecisionRecorded, OutputKind, OutputRecorded, OutputStage
from domain.events.pace import (
    CheckInRecorded,
    PaceHoldRecorded,
    PaceHoldReleased,
    PaceOverridden,
    ReminderSent,
)
from domain.events.people import (
    AuthorisationExpired,
    AuthorisationGranted,
    CohortWidened,
    ConsentWithdrawn,
    LawfulBasis,
    LawfulBasisRecorded,
    ParticipantJoined,
    TrainingCompleted,
)
from domain.events.phases import GateEscalated, PhaseCompleted, PhaseStarted, SessionHeld
from domain.personal import PersonalField, personal_fields
from domain.plan import STRUCTURE_ONLY
from domain.upcasters import upcast_payload

DomainEvent = Annotated[
    EngagementStarted
    | PlanAmended
    | ChangeProposed
    | ChangeCosigned
    | ChangeDeclined
    | PauseRequested
    | EngagementPaused
    | EngagementResumed
    | FollowUpStarted
    | FollowUpReviewed
    | EngagementCompleted
    | AssessmentRecorded
    | EvaluationStrategyAgreed
    | BaselineRecorded
    | MeasurementRecorded
    | MilestoneDue
    | ParticipantJoined
    | LawfulBasisRecorded
    | ConsentWithdrawn
    | CohortWidened
    | TrainingCompleted
    | AuthorisationGranted
    | AuthorisationExpired
    | PhaseStarted
    | PhaseCompleted
    | SessionHeld
    | GateEscalated
    | GateOpened
    | VoteCast
    | GateDecided
    | CheckInRecorded
    | PaceHoldRecorded
    | PaceHoldReleased
    | PaceOverridden
    | ReminderSent
    | OutputRecorded
    | DecisionRecorded
    | RungChanged
    | ContributionLogged
    | RecognitionPaid
    | EventDisowned,
    Field(discriminator="type"),
]

# Validates any event dict that carries its `type` (e.g. a workflow's message).
DOMAIN_EVENT_ADAPTER: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)

# Every event class by its type name, in catalogue order (derived from the union: never listed again).
EVENT_CLASSES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(DomainEvent)[0])
}


def event_to_record(event: Event) -> tuple[str, int, dict[str, Any]]:
    """`(type, schema_version, payload)` for the event store; the payload is JSON-compatible and has no `type`."""
    return event.type, event.SCHEMA_VERSION, event.model_dump(mode="json", exclude={"type"})


def event_from_record(event_type: str, schema_version: int, payload: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from a stored record, upcasting an older payload to the current schema first."""
    cls = _event_class(event_type)
    if schema_version != cls.SCHEMA_VERSION:
        payload = upcast_payload(event_type, schema_version, payload, cls.SCHEMA_VERSION)
    try:
        return cls.model_validate(payload, context=STRUCTURE_ONLY)  # type: ignore[return-value]
    except ValidationError as exc:
        raise RecordError(_invalid(event_type, schema_version, exc)) from None


def event_from_json(event_type: str, schema_version: int, payload_json: str | bytes) -> DomainEvent:
    """Like `event_from_record` for a payload still in JSON text: parses and validates in one step (in
    pydantic's Rust core), which is the fast path for replaying a log."""
    validate = _CURRENT_JSON_VALIDATORS.get((event_type, schema_version))
    if validate is None:  # unknown type, or an older schema version to upcast
        return event_from_record(event_type, schema_version, json.loads(payload_json))
    try:
        return validate(payload_json, context=STRUCTURE_ONLY)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise RecordError(_invalid(event_type, schema_version, exc)) from None


# (type, current schema version) -> the class's JSON validator, so the hot path is one dictionary lookup.
_CURRENT_JSON_VALIDATORS = {
    (name, cls.SCHEMA_VERSION): cls.__pydantic_validator__.validate_json
    for name, cls in EVENT_CLASSES.items()
}


def _event_class(event_type: str) -> type[Event]:
    cls = EVENT_CLASSES.get(event_type)
    if cls is None:
        raise RecordError(
            f"unknown event type {event_type!r}; is this log from a newer version of coproduce?"
        )
    return cls


def _invalid(event_type: str, schema_version: int, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(payload)"
    return (
        f"{event_type} (schema version {schema_version}): the payload does not validate: "
        f"{where}: {first['msg']} ({exc.error_count()} problem{'s' if exc.error_count() != 1 else ''})"
    )


_PERSONAL_FIELDS: dict[str, tuple[PersonalField, ...]] = {
    name: personal_fields(cls) for name, cls in EVENT_CLASSES.items()
}


def personal_data_fields(event_type: str) -> tuple[PersonalField, ...]:
    """The personal-data fields of one event type's payload, each with the path of its owner's person id."""
    return _PERSONAL_FIELDS[_event_class(event_type).model_fields["type"].default]


def personal_data_paths() -> dict[str, tuple[str, ...]]:
    """For every event type, the payload paths that may hold personal data (`[]`: every list item)."""
    return {name: tuple(field.path for field in fields) for name, fields in sorted(_PERSONAL_FIELDS.items())}


__all__ = [
    "DOMAIN_EVENT_ADAPTER",
    "EVENT_CLASSES",
    "AssessmentRecorded",
    "AuthorisationExpired",
    "AuthorisationGranted",
    "BaselineRecorded",
    "ChangeCosigned",
    "ChangeDeclined",
    "ChangeKind",
    "ChangeProposed",
    "CheckInRecorded",
    "CohortWidened",
    "ConsentWithdrawn",
    "ContributionLogged",
    "DecisionRecorded",
    "DomainEvent",
    "EngagementCompleted",
    "EngagementPaused",
    "EngagementResumed",
    "EngagementStarted",
    "EvaluationStrategyAgreed",
    "Event",
    "EventDisowned",
    "FollowUpReviewed",
    "FollowUpStarted",
    "GateDecided",
    "GateEscalated",
    "GateOpened",
    "GateOutcome",
    "GatePolicy",
    "LawfulBasis",
    "LawfulBasisRecorded",
    "MeasurementRecorded",
    "MilestoneDue",
    "OricScores",
    "OutputKind",
    "OutputRecorded",
    "OutputStage",
    "PaceHoldRecorded",
    "PaceHoldReleased",
    "PaceOverridden",
    "ParticipantJoined",
    "PauseRequested",
    "PersonId",
    "PhaseCompleted",
    "PhaseStarted",
    "PlanAmended",
    "RecognitionPaid",
    "ReminderSent",
    "RosterEntry",
    "RungChanged",
    "SessionHeld",
    "TrainingCompleted",
    "VoteCast",
    "VoteChoice",
    "event_from_json",
    "event_from_record",
    "event_to_record",
    "personal_data_fields",
    "personal_data_paths",
]
