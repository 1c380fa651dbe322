"""The evaluation strategy agreed at the very beginning: theory of change, indicators and milestones.

Outcomes state the change wanted. Indicators measure it: a baseline (or None when it is still to be
collected), a target, a unit, a direction (`up`: more is better; `down`: less is better) and a data
source. Milestones say when indicators are measured: at the end of a phase or on a date.
"""

from datetime import date

from pydantic import Field, PositiveInt

from domain.vocabulary import Constituency, Direction, DomainModel, Identifier, PositiveDays, ShortText


class Outcome(DomainModel):
    """A change the engagement wants, in the words of the theory of change."""

    id: Identifier
    statement: ShortText


class Indicator(DomainModel):
    key: Identifier
    description: ShortText
    unit: ShortText
    direction: Direction
    baseline: float | None = None
    target: float
    data_source: ShortText
    outcome: Identifier | None = None


class Milestone(DomainModel):
    """Indicators to measure at the end of a phase (`at_end_of_phase`), on a date (`due_on`), or so many
    days into the follow-up after the last phase (`after_completion_days`; the plan needs `follow_up`)."""

    id: Identifier
    title: ShortText
    indicators: tuple[Identifier, ...] = Field(min_length=1)
    at_end_of_phase: Identifier | None = None
    due_on: date | None = None
    after_completion_days: PositiveDays | None = None


class FollowUp(DomainModel):
    """How long the engagement stays open after its last phase, to see whether the change lasted: its
    milestones (`after_completion_days`) are measured then, and at each one the new decision makers are
    looked at again (still authorised? still taking part?). Measurements, check-ins, sessions, training,
    outputs and decisions are recorded during it; no phase starts and no gate opens."""

    days: PositiveDays
    # Someone took part recently enough to count as still active: in a session, a recorded decision or
    # output, or a check-in within this many days before a follow-up milestone.
    active_within_days: PositiveDays = 90


class EvaluationStrategy(DomainModel):
    theory_of_change: ShortText
    outcomes: tuple[Outcome, ...] = Field(min_length=1)
    indicators: tuple[Indicator, ...] = Field(min_length=1)
    milestones: tuple[Milestone, ...] = ()
    # Who must agree the strategy before anything is measured: how many people of each group (left out,
    # anyone in the engagement may agree it, as plans written before this could).
    agreed_by: dict[Constituency, PositiveInt] | None = None
