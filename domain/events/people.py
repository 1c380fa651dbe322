"""Events about who takes part and what they are trained and authorised for."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.vocabulary import (
    Cohort,
    Constituency,
    DomainModel,
    EngagementId,
    Identifier,
    LongText,
    ShortText,
    UtcDatetime,
)


class ParticipantJoined(Event):
    """Someone not in the plan joins. Their name goes to the people register, never into an event."""

    type: Literal["participant_joined"] = "participant_joined"
    person_id: PersonId
    constituency: Constituency
    roles: tuple[Identifier, ...] = ()
    cohort: Cohort = "initial"


class CohortWidened(Event):
    """The initial group widens: people of the wider cohort take part from now on."""

    type: Literal["cohort_widened"] = "cohort_widened"
    phase_id: Identifier
    widened_by: PersonId


class TrainingCompleted(Event):
    """A person completed a training module (in a session, or one to one)."""

    type: Literal["training_completed"] = "training_completed"
    person_id: PersonId
    module_id: Identifier
    session_id: Identifier | None = None


class AuthorisationGranted(Event):
    """A person completed a module and may now take the decisions that need it, until `expires_at`."""

    type: Literal["authorisation_granted"] = "authorisation_granted"
    person_id: PersonId
    module_id: Identifier
    expires_at: UtcDatetime | None


class AuthorisationExpired(Event):
    """Timer: an authorisation reached its expiry time."""

    type: Literal["authorisation_expired"] = "authorisation_expired"
    person_id: PersonId
    module_id: Identifier


class PersonForgotten(DomainModel):
    """A person was forgotten at someone's request: their name and data key were destroyed, so their
    text in the log can no longer be read. Kept in the log stream ``people/<engagement id>`` (not the
    engagement's own stream, which the workflow alone writes, and which may have completed): it changes
    no decision, only how people are shown ("forgotten person #n")."""

    TYPE: ClassVar[str] = "person_forgotten"
    SCHEMA_VERSION: ClassVar[int] = 1

    engagement_id: EngagementId
    person_id: PersonId
    number: int = Field(ge=1)
    requested_by: ShortText
    reason: Annotated[LongText, PersonalData(owner="requested_by")]
    occurred_at: UtcDatetime
