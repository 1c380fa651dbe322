"""Events for what the engagement produces and what the organisation decides.

A session records that people met; these record what came of it. An *output* (a policy drafted,
consulted on and adopted; the findings of research or a focus group) moves through stages, each with
who took part. A *decision* is one the organisation actually made in a decision area of the plan, with
how service users took part in it as a rung on the ladder and who took part: from these the practised
rung of each area and the share of decisions made with service users are computed
(``domain.rules.ladder``), next to the rung the plan aims for and the rung people agreed they are on.
Titles and summaries are the organisation's text, sealed under the engagement's key.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.vocabulary import Identifier, LongText, Rung, ShortText

OutputKind = Literal["policy", "procedure", "research_findings", "focus_group_findings", "report"]
# In the order an output moves through them; a stage never comes after a later one.
OutputStage = Literal["drafted", "consulted_on", "adopted", "published"]


class OutputRecorded(Event):
    """An output of the engagement reached a stage (a policy drafted, consulted on, adopted; findings
    published), and who took part in that stage."""

    type: Literal["output_recorded"] = "output_recorded"
    output_id: Identifier
    kind: OutputKind
    stage: OutputStage
    phase_id: Identifier | None = None
    took_part: tuple[PersonId, ...] = Field(min_length=1)
    recorded_by: PersonId
    title: Annotated[ShortText, PersonalData(owner=None)]
    summary: Annotated[LongText | None, PersonalData(owner=None)] = None


class DecisionRecorded(Event):
    """The organisation made a decision in one of the plan's decision areas: on which day, how service
    users took part (a rung on the ladder: consulted, engaged, co-designed, co-produced, ...) and who
    took part."""

    type: Literal["decision_recorded"] = "decision_recorded"
    decision_id: Identifier
    area_id: Identifier
    decided_on: date
    rung: Rung
    took_part: tuple[PersonId, ...] = Field(min_length=1)
    recorded_by: PersonId
    summary: Annotated[ShortText, PersonalData(owner=None)]
