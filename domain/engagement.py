"""The shape of an engagement's state: what the fold of its events knows at a point in time.

`EngagementState` and its parts are frozen records; `domain.state.apply` returns a new state that
shares every unchanged part with the old one (dictionaries are copied one level, records replaced), so
folding thousands of events stays cheap. The state holds no personal free text: reasons, notes and
findings stay in the events, where the personal-data layer can encrypt them. People appear by id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, SkipValidation, model_validator

from domain.errors import DomainError
from domain.events.gates import GatePolicy, RosterEntry, VoteChoice
from domain.events.outputs import OutputKind, OutputStage
from domain.plan import STRUCTURE_ONLY, Plan
from domain.vocabulary import Cohort, Constituency, DomainModel, Rung

# following_up: every phase is complete and the plan keeps a follow-up period (domain.evaluation.FollowUp).
EngagementStatus = Literal["not_started", "active", "paused", "following_up", "completed"]
PhaseStatus = Literal["pending", "running", "completed"]
GateStatus = Literal["open", "passed", "held", "rejected"]


class AuthorisationPeriod(DomainModel):
    """One authorisation for a module: from `granted_at` until it expires or an expiry is recorded."""

    granted_at: datetime
    expires_at: datetime | None
    ended_at: datetime | None = None
    renewal_reminded_at: datetime | None = None

    def ends(self) -> datetime | None:
        if self.ended_at is None:
            return self.expires_at
        if self.expires_at is None:
            return self.ended_at
        return min(self.ended_at, self.expires_at)

    def valid_at(self, at: datetime) -> bool:
        end = self.ends()
        return self.granted_at <= at and (end is None or at < end)


class PersonState(DomainModel):
    person_id: str
    constituency: Constituency
    roles: tuple[str, ...]
    cohort: Cohort
    joined_at: datetime
    from_plan: bool
    trained: dict[str, datetime] = Field(default_factory=dict)
    authorisations: dict[str, tuple[AuthorisationPeriod, ...]] = Field(default_factory=dict)
    lawful_basis: str | None = None
    consent_withdrawn_at: datetime | None = None


class PaceHold(DomainModel):
    since: datetime
    waiting_for: tuple[str, ...]
    comfort_average: float | None = None


class PhaseState(DomainModel):
    phase_id: str
    status: PhaseStatus = "pending"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    sessions_held: int = 0
    hold: PaceHold | None = None
    holds_recorded: int = 0
    overridden_at: datetime | None = None
    overridden_by: str | None = None
    # A co-signed override lasts for this gate round only (None: for the rest of the phase, as before).
    overridden_round: int | None = None
    escalated_at: datetime | None = None


class VoteRecord(DomainModel):
    """A vote as cast. `counted` is False when the voter was not authorised at the time, and
    `not_counted_reason` says why (e.g. an untrained service user)."""

    person_id: str
    constituency: Constituency
    choice: VoteChoice
    cast_at: datetime
    counted: bool
    not_counted_reason: str | None = None


class GateState(DomainModel):
    """The latest round of a phase's gate (a held or rejected gate may open again as a new round).
    `roster` is the snapshot taken when it opened, by person id (in id order)."""

    phase_id: str
    round: int
    status: GateStatus
    opened_at: datetime
    requested_by: str
    policy: GatePolicy
    roster: dict[str, RosterEntry]
    votes: dict[str, VoteRecord] = Field(default_factory=dict)
    decided_at: datetime | None = None
    decided_by: str | None = None
    reminded_at: datetime | None = None  # the round's "still waiting" reminder (plan: remind_after_days)


ChangeStatus = Literal["waiting", "done", "declined", "lapsed"]


class PendingChange(DomainModel):
    """A change proposed under the plan's `changes` policy, and the co-signers it has so far (by person
    id: their constituency). `plan` is the amended plan of an amendment; `base_plan_sha256` the plan it
    amends (it lapses if another amendment lands first); a proposed override lapses when its hold is
    released by itself."""

    change_id: str
    kind: Literal["amendment", "pace_override"]
    status: ChangeStatus = "waiting"
    proposed_by: str
    proposed_at: datetime
    needs: dict[Constituency, int]
    weakens: tuple[str, ...] = ()
    phase_id: str | None = None
    plan: Annotated[Plan | None, SkipValidation] = None
    plan_sha256: str | None = None
    base_plan_sha256: str | None = None
    cosigned: dict[str, Constituency] = Field(default_factory=dict)
    ended_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_plan_structure_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("plan") is not None:
            return {**data, "plan": Plan.model_validate(data["plan"], context=STRUCTURE_ONLY)}
        return data


class CheckIn(DomainModel):
    at: datetime
    comfort: int


class MeasurementPoint(DomainModel):
    at: datetime
    value: float
    milestone_id: str | None = None


class IndicatorState(DomainModel):
    key: str
    baseline: float | None
    baseline_recorded_at: datetime | None = None
    measurements: tuple[MeasurementPoint, ...] = ()


class RungChange(DomainModel):
    at: datetime
    from_rung: Rung
    to_rung: Rung
    agreed_by: tuple[str, ...]


class DecisionTaken(DomainModel):
    """A decision the organisation made in an area: how service users took part, and who did."""

    decision_id: str
    decided_on: date
    rung: Rung
    took_part: tuple[str, ...]
    with_service_users: bool  # a service user or carer took part


class AreaState(DomainModel):
    area_id: str
    rung: Rung  # the rung people agreed the area is on (`rung_changed`)
    changes: tuple[RungChange, ...] = ()
    decisions: tuple[DecisionTaken, ...] = ()


class OutputStageReached(DomainModel):
    stage: OutputStage
    at: datetime
    took_part: tuple[str, ...]
    constituencies: tuple[Constituency, ...]


class OutputState(DomainModel):
    """An output of the engagement (a policy, findings, ...) and the stages it has reached."""

    output_id: str
    kind: OutputKind
    phase_id: str | None
    stages: tuple[OutputStageReached, ...]


class RecognitionAccount(DomainModel):
    """Time given and recognition paid, in minutes and whole pence."""

    minutes: int = 0
    fee_earned_pence: int = 0
    expenses_claimed_pence: int = 0
    fee_paid_pence: int = 0
    expenses_paid_pence: int = 0


class AssessmentSummary(DomainModel):
    at: datetime
    recorded_by: str
    respondents: int | None
    commitment_mean: float
    efficacy_mean: float


class FollowUpReview(DomainModel):
    """What a follow-up milestone found of the new decision makers (ids only)."""

    milestone_id: str
    at: datetime
    new_decision_makers: tuple[str, ...]
    still_authorised: tuple[str, ...]
    still_active: tuple[str, ...]


class ReminderLog(DomainModel):
    count: int
    last_at: datetime


class EngagementState(DomainModel):
    """Everything the fold knows. It round-trips through JSON exactly (the workflow's `status` query)."""

    engagement_id: str | None = None
    status: EngagementStatus = "not_started"
    plan: Annotated[Plan | None, SkipValidation] = None  # validated by _read_plan_structure_only
    plan_sha256: str | None = None
    started_at: datetime | None = None
    paused_at: datetime | None = None
    completed_at: datetime | None = None
    last_event_at: datetime | None = None
    events_applied: int = 0
    amendments: int = 0
    cohort: Cohort = "initial"
    widened_at: datetime | None = None
    evaluation_agreed_at: datetime | None = None
    evaluation_agreed_by: tuple[str, ...] = ()
    assessments: tuple[AssessmentSummary, ...] = ()
    people: dict[str, PersonState] = Field(default_factory=dict)
    phases: dict[str, PhaseState] = Field(default_factory=dict)
    gates: dict[str, GateState] = Field(default_factory=dict)
    check_ins: dict[str, CheckIn] = Field(default_factory=dict)
    check_in_count: int = 0
    indicators: dict[str, IndicatorState] = Field(default_factory=dict)
    milestones_due: dict[str, datetime] = Field(default_factory=dict)
    decision_areas: dict[str, AreaState] = Field(default_factory=dict)
    recognition: dict[str, RecognitionAccount] = Field(default_factory=dict)
    reminders: dict[str, ReminderLog] = Field(default_factory=dict)
    # Positions of foreign events in the stream that an operator disowned: never folded, kept in view.
    disowned: tuple[int, ...] = ()
    # Changes proposed under the plan's `changes` policy, by change id (domain.change_policy).
    changes: dict[str, PendingChange] = Field(default_factory=dict)
    pause_requested_at: datetime | None = None
    pause_requested_by: str | None = None
    # What the engagement produced (policies, findings), by output id; decisions live in their area.
    outputs: dict[str, OutputState] = Field(default_factory=dict)
    decisions_recorded: int = 0
    follow_up_started_at: datetime | None = None
    follow_up_until: datetime | None = None
    follow_up_reviews: tuple[FollowUpReview, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _read_plan_structure_only(cls, data: Any) -> Any:
        """A state read back from JSON carries a plan already checked when the engagement started: check
        its structure only, as replays do (see `domain.plan.STRUCTURE_ONLY`)."""
        if isinstance(data, dict) and data.get("plan") is not None:
            return {**data, "plan": Plan.model_validate(data["plan"], context=STRUCTURE_ONLY)}
        return data

    def require_plan(self) -> Plan:
        """The current plan; a clear error before the engagement has started."""
        if self.plan is None:
            raise DomainError("the engagement has not started yet, so it has no plan")
        return self.plan

    def takes_part(self, person: PersonState) -> bool:
        """Whether `person` takes part now: the wider cohort joins only once the cohort is widened."""
        return person.cohort == "initial" or self.cohort == "wider"

    def running_phases(self) -> tuple[str, ...]:
        """Ids of the phases running now, in plan order."""
        return tuple(phase_id for phase_id, phase in self.phases.items() if phase.status == "running")

    def current_phase(self) -> str | None:
        """The earliest running phase, or None."""
        running = self.running_phases()
        return running[0] if running else None


EMPTY_STATE = EngagementState()
