"""The table of transitions: which function applies each event type, and which may happen while paused.

Each handler takes the state and its event, checks the event is possible (raising a `DomainError`
subclass that says why not) and returns the top-level state fields it changes. Handlers never mutate.

`HANDLERS` follows the event catalogue (`domain.events.EVENT_CLASSES`, in its order): the transition of
event type `x` is the function `on_x` in one of `MODULES`. A type without one has no entry, and `apply`
refuses its events; tests/domain/test_catalogue.py fails for it.
"""

from collections.abc import Callable
from types import ModuleType
from typing import Any

from domain.engagement import EngagementState
from domain.events import (
    EVENT_CLASSES,
    AssessmentRecorded,
    AuthorisationExpired,
    AuthorisationGranted,
    BaselineRecorded,
    ChangeCosigned,
    ChangeDeclined,
    ChangeProposed,
    CheckInRecorded,
    ConsentWithdrawn,
    ContributionLogged,
    DecisionRecorded,
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    EvaluationStrategyAgreed,
    Event,
    EventDisowned,
    FollowUpReviewed,
    LawfulBasisRecorded,
    MeasurementRecorded,
    MilestoneDue,
    OutputRecorded,
    ParticipantJoined,
    PlanAmended,
    RecognitionPaid,
    ReminderSent,
    RungChanged,
    TrainingCompleted,
)
from domain.transitions import (
    changes,
    evaluation,
    gates,
    incidents,
    ledger,
    lifecycle,
    outputs,
    pace,
    people,
    phases,
)

Handler = Callable[[EngagementState, Any], dict[str, Any]]

# The modules that hold transitions, one concern each.
MODULES: tuple[ModuleType, ...] = (
    lifecycle,
    changes,
    evaluation,
    people,
    phases,
    gates,
    pace,
    ledger,
    outputs,
    incidents,
)


def handler_name(event_type: str) -> str:
    """The name of the function that applies events of ``event_type``."""
    return f"on_{event_type}"


def _handlers() -> dict[type[Event], Handler]:
    found: dict[type[Event], Handler] = {}
    for event_type, cls in EVENT_CLASSES.items():
        for module in MODULES:
            handler = getattr(module, handler_name(event_type), None)
            if handler is not None:
                found[cls] = handler
                break
    return found


HANDLERS: dict[type[Event], Handler] = _handlers()

# During a follow-up period (every phase complete, domain.evaluation.FollowUp) facts are still recorded:
# measurements for the milestones that fall due, check-ins, training, money, outputs, decisions and
# ladder moves.
ALLOWED_IN_FOLLOW_UP: frozenset[type[Event]] = frozenset(
    {
        FollowUpReviewed,
        EngagementCompleted,
        LawfulBasisRecorded,
        ConsentWithdrawn,
        BaselineRecorded,
        MeasurementRecorded,
        MilestoneDue,
        TrainingCompleted,
        AuthorisationGranted,
        AuthorisationExpired,
        CheckInRecorded,
        ReminderSent,
        ContributionLogged,
        RecognitionPaid,
        OutputRecorded,
        DecisionRecorded,
        RungChanged,
        EventDisowned,
    }
)

# While paused, facts keep being recorded (training, check-ins, measurements, money, amendments), but
# nothing moves the engagement on: no phase starts or ends, no gate opens or is decided, no timers fire.
ALLOWED_WHILE_PAUSED: frozenset[type[Event]] = frozenset(
    {
        EngagementPaused,
        EngagementResumed,
        PlanAmended,
        ChangeProposed,
        ChangeCosigned,
        ChangeDeclined,
        AssessmentRecorded,
        EvaluationStrategyAgreed,
        BaselineRecorded,
        MeasurementRecorded,
        MilestoneDue,
        ParticipantJoined,
        LawfulBasisRecorded,
        ConsentWithdrawn,
        TrainingCompleted,
        AuthorisationGranted,
        AuthorisationExpired,
        CheckInRecorded,
        ContributionLogged,
        RecognitionPaid,
        OutputRecorded,
        DecisionRecorded,
        EventDisowned,
    }
)
