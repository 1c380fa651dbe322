"""The engagement workflow's public contract: its input, its updates' inputs and results, its status.

Update names and these JSON shapes are what operators, approvers and scripts send, also through the
stock ``temporal`` CLI, for example::

    temporal workflow update execute --workflow-id eng-42 --name decide_gate \\
        --input '{"person_id": "t01", "phase_id": "training", "choice": "approve"}'

Unknown fields are refused (a typo must not be silently ignored). People are named by their opaque id
from the plan. Who acts is ``by`` where a message has it (the facilitator recording a session or a
training, the person pausing); a vote and a check-in are the act of their ``person_id`` themselves;
the evaluation strategy and a ladder move are agreed by everyone in ``agreed_by``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from domain.engagement import EngagementState
from domain.events.gates import VoteChoice
from domain.plan import Plan
from domain.rules.indicators import IndicatorProgress
from domain.rules.ladder import LadderPosition
from domain.rules.pace import PaceCheck
from domain.rules.schedule import DueItem
from domain.vocabulary import (
    ActivityType,
    Cohort,
    Constituency,
    EngagementId,
    Identifier,
    Rung,
)
from workflows.contracts import ForeignEvent

OricItem = float


# Free text in a message is taken as sent and checked when the domain event is made (length, no control
# characters), so a refusal is one sentence from the validator, not a decoding error from the SDK.
FreeText = str


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# -- starting --------------------------------------------------------------------------------------------
class StartEngagement(Message):
    """Start an engagement: its id (the workflow id), its validated plan, and who starts it (the lead)."""

    engagement_id: EngagementId
    plan: Plan
    started_by: Identifier


class UpdateResult(Message):
    """What an accepted update recorded: the event types, their positions in the log, and a summary."""

    update_id: str
    events: list[str]
    positions: list[int]
    stream_version: int
    summary: str


class Carried(Message):
    """What one run of the workflow hands to the next at continue-as-new."""

    state: EngagementState
    stream_version: int
    lead: Identifier
    # Results of recent updates by id, so an update retried across continue-as-new returns its first result.
    seen_updates: dict[str, UpdateResult] = Field(default_factory=dict)
    runs: PositiveInt = 1
    # Events in the stream this engagement did not write and no operator has disowned yet.
    foreign: list[ForeignEvent] = Field(default_factory=list)


class EngagementInput(Message):
    """The workflow's input: a fresh start, or the state carried over from the previous run."""

    start: StartEngagement | None = None
    carried: Carried | None = None
    # Continue as new after this many history events (None: when Temporal suggests it). For tests.
    continue_as_new_after: PositiveInt | None = None
    # Keep the search attributes (status, phase, organisation) up to date. They must be registered in the
    # namespace (workers do it at start); the time-skipping test server cannot register them.
    search_attributes: bool = True


# -- updates -----------------------------------------------------------------------------------------------
class RecordAssessment(Message):
    by: Identifier
    past_co_production: FreeText
    what_worked: FreeText
    what_did_not_work: FreeText
    approach_to_change: FreeText
    commitment_items: tuple[OricItem, ...] = Field(min_length=5, max_length=5)
    efficacy_items: tuple[OricItem, ...] = Field(min_length=7, max_length=7)
    respondents: PositiveInt | None = None


class AgreeEvaluationStrategy(Message):
    agreed_by: tuple[Identifier, ...] = Field(min_length=1)


class RecordSession(Message):
    by: Identifier
    activity_type: ActivityType
    attendee_ids: tuple[Identifier, ...] = Field(min_length=1)
    duration_minutes: PositiveInt
    phase_id: Identifier | None = None  # the current phase when left out
    activity_id: Identifier | None = None
    session_id: Identifier | None = None  # made from the update id when left out
    notes: FreeText | None = None


class RecordTraining(Message):
    by: Identifier
    person_id: Identifier
    module_id: Identifier
    session_id: Identifier | None = None


class RecordMeasurement(Message):
    by: Identifier
    indicator: Identifier
    value: float
    baseline: bool = False
    milestone_id: Identifier | None = None
    note: FreeText | None = None


class RecordCheckIn(Message):
    person_id: Identifier
    comfort: int
    note: FreeText | None = None


class AddParticipant(Message):
    by: Identifier
    person_id: Identifier
    constituency: Constituency
    roles: tuple[Identifier, ...] = ()
    cohort: Cohort = "initial"


class WidenCohort(Message):
    by: Identifier
    phase_id: Identifier | None = None  # the current phase when left out


class AmendPlan(Message):
    by: Identifier
    plan: Plan
    reason: FreeText


class DecideGate(Message):
    person_id: Identifier
    phase_id: Identifier
    choice: VoteChoice
    reason: FreeText | None = None


class OverrideHold(Message):
    by: Identifier
    phase_id: Identifier
    reason: FreeText


class RecordContribution(Message):
    by: Identifier
    person_id: Identifier
    minutes: PositiveInt
    expenses_pence: NonNegativeInt = 0
    session_id: Identifier | None = None


class RecordRecognition(Message):
    by: Identifier
    person_id: Identifier
    fee_pence: NonNegativeInt
    expenses_pence: NonNegativeInt = 0
    form: Literal["payment", "voucher"]


class ChangeRung(Message):
    area_id: Identifier
    to_rung: Rung
    agreed_by: tuple[Identifier, ...] = Field(min_length=1)


class Pause(Message):
    by: Identifier
    reason: FreeText


class Resume(Message):
    by: Identifier
    reason: FreeText | None = None


class DisownEvent(Message):
    """A facilitator disowns the foreign event at ``position``: the engagement goes on without it."""

    by: Identifier
    position: PositiveInt
    reason: FreeText


# -- status ------------------------------------------------------------------------------------------------
class VoteView(BaseModel):
    person_id: str
    constituency: Constituency
    choice: VoteChoice
    cast_at: datetime
    counted: bool
    not_counted_reason: str | None = None


class ConstituencyVotes(BaseModel):
    constituency: Constituency
    required_approvals: int
    approve: int = 0
    object: int = 0
    abstain: int = 0


class GateView(BaseModel):
    phase_id: str
    round: int
    status: str
    opened_at: datetime
    requested_by: str
    method: str
    votes: list[VoteView]
    by_constituency: list[ConstituencyVotes]
    may_still_vote: list[str]
    waiting_for: list[str]


class PhaseView(BaseModel):
    phase_id: str
    title: str
    status: str
    started_at: datetime | None
    held_since: datetime | None = None
    pace: PaceCheck | None = None


class EngagementStatus(BaseModel):
    """What the ``status`` query returns: the folded state and what people need to act on it."""

    engagement_id: str | None
    status: str
    as_of: datetime
    stream_version: int
    lead: str
    phases: list[PhaseView]
    current_phase: str | None
    gate: GateView | None
    waiting_for: list[str]
    indicators: list[IndicatorProgress]
    ladder: list[LadderPosition]
    next_due: list[DueItem]
    state: EngagementState
