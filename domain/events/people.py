"""Events about who takes part and what they are trained and authorised for."""

from typing import Literal

from domain.events.base import Event, PersonId
from domain.vocabulary import Cohort, Constituency, Identifier, UtcDatetime


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
