"""Phases and their gates.

A plan is an ordered list of phases (assessment, co-design, evaluation strategy, training, initial
group, review, widening, embedding, ...; each plan chooses its own). A phase has objectives, planned
activities, the cohort it works with, a minimum dwell (it cannot close sooner, however keen people are)
and a time after which its still-undecided gate is escalated. Its gate says who decides (roles), how
(consent: no objection; or vote: N approvals), the approvals each constituency must give, whether a
hold or rejection needs a reason, four eyes, and the evidence that must be in first.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from domain.vocabulary import (
    ActivityType,
    Cohort,
    Constituency,
    Days,
    DomainModel,
    Identifier,
    PositiveDays,
    ShortText,
)

DecisionMethod = Literal["consent", "vote"]


class PlannedActivity(DomainModel):
    """Something the phase intends to do, e.g. three focus groups, or the training that delivers modules."""

    id: Identifier
    type: ActivityType
    title: ShortText
    sessions: PositiveInt = 1
    modules: tuple[Identifier, ...] = ()


class Evidence(DomainModel):
    """What must be recorded during the phase before its gate may open."""

    indicators_measured: tuple[Identifier, ...] = ()
    readiness_reassessed: bool = False


class Gate(DomainModel):
    """How the decision to close a phase and move on is taken."""

    deciding_roles: tuple[Identifier, ...] = Field(min_length=1)
    method: DecisionMethod
    approvals_required: PositiveInt | None = None
    quorum: dict[Constituency, PositiveInt] = Field(default_factory=dict)
    reason_required: bool = True
    four_eyes: bool = True
    # How sure the engagement must be of who voted: 'any' sign-in, or a passkey (two factors) or an
    # input a facilitator entered with the voter present ('passkey_or_assisted').
    assurance: Literal["any", "passkey_or_assisted"] = "any"
    evidence: Evidence = Evidence()


class Phase(DomainModel):
    """One step of the plan."""

    id: Identifier
    title: ShortText
    objectives: tuple[ShortText, ...] = Field(min_length=1)
    activities: tuple[PlannedActivity, ...] = ()
    cohort: Cohort = "initial"
    min_dwell_days: Days
    escalate_after_days: PositiveDays
    gate: Gate
    # Reminders and escalation (plan data; left out, nobody is reminded by the gate's age): once the
    # gate has been open this many days short of its decision, those who may still vote are reminded
    # (once per round); when it is escalated, people of these roles are told, besides the facilitators.
    remind_after_days: PositiveDays | None = None
    escalate_to: tuple[Identifier, ...] = ()
