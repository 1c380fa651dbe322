"""The evaluation strategy agreed at the very beginning: theory of change, indicators and milestones.

Outcomes state the change wanted. Indicators measure it: a baseline (or None when it is still to be
collected), a target, a unit, a direction (`up`: more is better; `down`: less is better) and a data
source. Milestones say when indicators are measured: at the end of a phase or on a date.
"""

from datetime import date

from pydantic import Field

from domain.vocabulary import Direction, DomainModel, Identifier, ShortText


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
    """Indicators to measure at the end of a phase (`at_end_of_phase`) or on a date (`due_on`)."""

    id: Identifier
    title: ShortText
    indicators: tuple[Identifier, ...] = Field(min_length=1)
    at_end_of_phase: Identifier | None = None
    due_on: date | None = None


class EvaluationStrategy(DomainModel):
    theory_of_change: ShortText
    outcomes: tuple[Outcome, ...] = Field(min_length=1)
    indicators: tuple[Indicator, ...] = Field(min_length=1)
    milestones: tuple[Milestone, ...] = ()
