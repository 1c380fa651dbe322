"""Events about phases and the work done in them."""

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.vocabulary import ActivityType, Identifier, LongText


class PhaseStarted(Event):
    """A phase of the plan began."""

    type: Literal["phase_started"] = "phase_started"
    phase_id: Identifier


class PhaseCompleted(Event):
    """The phase closed after its gate passed."""

    type: Literal["phase_completed"] = "phase_completed"
    phase_id: Identifier


class SessionHeld(Event):
    """An activity took place: a training session, group work, a focus group, ... with who attended."""

    type: Literal["session_held"] = "session_held"
    session_id: Identifier
    phase_id: Identifier
    activity_id: Identifier | None = None
    activity_type: ActivityType
    attendee_ids: tuple[PersonId, ...] = Field(min_length=1)
    duration_minutes: PositiveInt
    recorded_by: PersonId
    notes: Annotated[LongText | None, PersonalData(owner="recorded_by")] = None


class GateEscalated(Event):
    """Timer: a phase ran past its `escalate_after_days` without its gate passing."""

    type: Literal["gate_escalated"] = "gate_escalated"
    phase_id: Identifier
