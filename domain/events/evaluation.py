"""Events about knowing where the organisation stands: assessments, the evaluation strategy, measurements.

`assessment_recorded` is the consultant's organisational assessment: findings about past co-production,
what worked, what did not, how the organisation handles change (all free text, so personal data), and
ORIC readiness scores: the 12 items of "Organizational Readiness for Implementing Change" (each 1..5,
averaged over respondents) in their two subscales, change commitment (5 items) and change efficacy
(7 items), with each subscale's mean. Schema version 2; version 1 kept the 12 items in one list.
"""

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, PositiveInt, model_validator

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.vocabulary import DomainModel, Identifier, LongText

OricScore = Annotated[float, Field(ge=1, le=5)]


class OricScores(DomainModel):
    respondents: PositiveInt | None = None
    commitment_items: tuple[OricScore, ...] = Field(min_length=5, max_length=5)
    efficacy_items: tuple[OricScore, ...] = Field(min_length=7, max_length=7)
    commitment_mean: float
    efficacy_mean: float

    @classmethod
    def from_items(
        cls, commitment: tuple[float, ...], efficacy: tuple[float, ...], respondents: int | None = None
    ) -> "OricScores":
        """Scores with their subscale means computed (rounded to 2 places)."""
        return cls(
            respondents=respondents,
            commitment_items=commitment,
            efficacy_items=efficacy,
            commitment_mean=subscale_mean(commitment),
            efficacy_mean=subscale_mean(efficacy),
        )

    @model_validator(mode="after")
    def _means_match_items(self) -> Self:
        for name, items, mean in (
            ("commitment_mean", self.commitment_items, self.commitment_mean),
            ("efficacy_mean", self.efficacy_items, self.efficacy_mean),
        ):
            if abs(subscale_mean(items) - mean) > 0.005:
                raise ValueError(f"{name} {mean} is not the mean of its items ({subscale_mean(items)})")
        return self


def subscale_mean(items: tuple[float, ...]) -> float:
    return round(sum(items) / len(items), 2)


class AssessmentRecorded(Event):
    """The organisational assessment: findings about past co-production and change, with ORIC scores.

    The findings are the organisation's, not the facilitator's who wrote them down: they are sealed under
    the engagement's own key (no owner), so forgetting that facilitator does not erase them. (Findings
    recorded before this change were sealed under ``recorded_by`` and stay so.)"""

    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["assessment_recorded"] = "assessment_recorded"
    recorded_by: PersonId
    past_co_production: Annotated[LongText, PersonalData(owner=None)]
    what_worked: Annotated[LongText, PersonalData(owner=None)]
    what_did_not_work: Annotated[LongText, PersonalData(owner=None)]
    approach_to_change: Annotated[LongText, PersonalData(owner=None)]
    oric: OricScores


class EvaluationStrategyAgreed(Event):
    """The plan's evaluation strategy was agreed by these people (at the very beginning, ideally)."""

    type: Literal["evaluation_strategy_agreed"] = "evaluation_strategy_agreed"
    agreed_by: tuple[PersonId, ...] = Field(min_length=1)


class BaselineRecorded(Event):
    """The measured baseline of an indicator (it replaces the plan's estimate)."""

    type: Literal["baseline_recorded"] = "baseline_recorded"
    indicator: Identifier
    value: float
    recorded_by: PersonId
    note: Annotated[LongText | None, PersonalData(owner="recorded_by")] = None


class MeasurementRecorded(Event):
    """An indicator was measured, for a milestone or along the way."""

    type: Literal["measurement_recorded"] = "measurement_recorded"
    indicator: Identifier
    value: float
    milestone_id: Identifier | None = None
    recorded_by: PersonId
    note: Annotated[LongText | None, PersonalData(owner="recorded_by")] = None


class MilestoneDue(Event):
    """Timer: a measurement milestone fell due (its date came, or its phase ended)."""

    type: Literal["milestone_due"] = "milestone_due"
    milestone_id: Identifier
