"""The table of transitions: which function applies each event type, and which may happen while paused.

Each handler takes the state and its event, checks the event is possible (raising a `DomainError`
subclass that says why not) and returns the top-level state fields it changes. Handlers never mutate.
"""

from collections.abc import Callable
from typing import Any

from domain.engagement import EngagementState
from domain.events import (
    AssessmentRecorded,
    AuthorisationExpired,
    AuthorisationGranted,
    BaselineRecorded,
    CheckInRecorded,
    CohortWidened,
    ContributionLogged,
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    EngagementStarted,
    EvaluationStrategyAgreed,
    Event,
    GateDecided,
    GateEscalated,
    GateOpened,
    MeasurementRecorded,
    MilestoneDue,
    PaceHoldRecorded,
    PaceHoldReleased,
    PaceOverridden,
    ParticipantJoined,
    PhaseCompleted,
    PhaseStarted,
    PlanAmended,
    RecognitionPaid,
    ReminderSent,
    RungChanged,
    SessionHeld,
    TrainingCompleted,
    VoteCast,
)
from domain.transitions import evaluation, gates, ledger, lifecycle, pace, people, phases

Handler = Callable[[EngagementState, Any], dict[str, Any]]

HANDLERS: dict[type[Event], Handler] = {
    EngagementStarted: lifecycle.on_engagement_started,
    PlanAmended: lifecycle.on_plan_amended,
    EngagementPaused: lifecycle.on_engagement_paused,
    EngagementResumed: lifecycle.on_engagement_resumed,
    EngagementCompleted: lifecycle.on_engagement_completed,
    AssessmentRecorded: evaluation.on_assessment_recorded,
    EvaluationStrategyAgreed: evaluation.on_evaluation_strategy_agreed,
    BaselineRecorded: evaluation.on_baseline_recorded,
    MeasurementRecorded: evaluation.on_measurement_recorded,
    MilestoneDue: evaluation.on_milestone_due,
    ParticipantJoined: people.on_participant_joined,
    CohortWidened: people.on_cohort_widened,
    TrainingCompleted: people.on_training_completed,
    AuthorisationGranted: people.on_authorisation_granted,
    AuthorisationExpired: people.on_authorisation_expired,
    PhaseStarted: phases.on_phase_started,
    PhaseCompleted: phases.on_phase_completed,
    SessionHeld: phases.on_session_held,
    GateEscalated: phases.on_gate_escalated,
    GateOpened: gates.on_gate_opened,
    VoteCast: gates.on_vote_cast,
    GateDecided: gates.on_gate_decided,
    CheckInRecorded: pace.on_check_in_recorded,
    PaceHoldRecorded: pace.on_pace_hold_recorded,
    PaceHoldReleased: pace.on_pace_hold_released,
    PaceOverridden: pace.on_pace_overridden,
    ReminderSent: pace.on_reminder_sent,
    RungChanged: ledger.on_rung_changed,
    ContributionLogged: ledger.on_contribution_logged,
    RecognitionPaid: ledger.on_recognition_paid,
}

# While paused, facts keep being recorded (training, check-ins, measurements, money, amendments), but
# nothing moves the engagement on: no phase starts or ends, no gate opens or is decided, no timers fire.
ALLOWED_WHILE_PAUSED: frozenset[type[Event]] = frozenset(
    {
        EngagementPaused,
        EngagementResumed,
        PlanAmended,
        AssessmentRecorded,
        EvaluationStrategyAgreed,
        BaselineRecorded,
        MeasurementRecorded,
        MilestoneDue,
        ParticipantJoined,
        TrainingCompleted,
        AuthorisationGranted,
        AuthorisationExpired,
        CheckInRecorded,
        ContributionLogged,
        RecognitionPaid,
    }
)
