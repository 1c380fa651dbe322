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


# The UK GDPR Article 6 bases a person's data is processed on.
LawfulBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
]


class LawfulBasisRecorded(Event):
    """The lawful basis on which the engagement processes a person's data (UK GDPR Article 6)."""

    type: Literal["lawful_basis_recorded"] = "lawful_basis_recorded"
    person_id: PersonId
    basis: LawfulBasis
    recorded_by: PersonId


class ConsentWithdrawn(Event):
    """A person withdrew their consent: nothing more is asked of them or recorded from them. What they
    gave before stays (withdrawal does not undo it); forgetting them is a separate request."""

    type: Literal["consent_withdrawn"] = "consent_withdrawn"
    person_id: PersonId
    recorded_by: PersonId


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


class PersonOptedToStay(DomainModel):
    """A person opted to stay: the plan's retention rule does not forget them when it falls due (they
    may still ask to be forgotten at any time). Kept, like ``person_forgotten``, in the stream
    ``people/<engagement id>``, so it can be recorded after the engagement has completed."""

    TYPE: ClassVar[str] = "person_opted_to_stay"
    SCHEMA_VERSION: ClassVar[int] = 1

    engagement_id: EngagementId
    person_id: PersonId
    recorded_by: ShortText
    occurred_at: UtcDatetime


class PersonStayWithdrawn(DomainModel):
    """A person who had opted to stay withdrew that choice: the plan's retention rule forgets them when
    it falls due, like every other participant. Kept in the stream ``people/<engagement id>``; they may
    opt to stay again later, and each choice is a record of its own."""

    TYPE: ClassVar[str] = "person_stay_withdrawn"
    SCHEMA_VERSION: ClassVar[int] = 1

    engagement_id: EngagementId
    person_id: PersonId
    recorded_by: ShortText
    occurred_at: UtcDatetime


class RetentionApplied(DomainModel):
    """The plan's retention rule was applied: who it forgot (by id), who it left alone and why, and the
    rule itself. Kept in the stream ``people/<engagement id>``; one per engagement."""

    TYPE: ClassVar[str] = "retention_applied"
    SCHEMA_VERSION: ClassVar[int] = 1

    engagement_id: EngagementId
    forget_participants_after_days: int = Field(ge=1)
    completed_at: UtcDatetime
    due_at: UtcDatetime
    forgotten: tuple[PersonId, ...]
    forgotten_before: tuple[PersonId, ...] = ()  # at someone's request, before the rule fell due
    stayed: tuple[PersonId, ...] = ()
    occurred_at: UtcDatetime
