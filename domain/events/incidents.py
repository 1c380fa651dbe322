"""Incidents in the record itself: an event in an engagement's stream that its workflow did not write.

Someone holding a database login (but not the installation's writer key) may append to a stream; the
log is append-only, so such an event stays there for good. The engagement never folds it, refuses
inputs while it is unexplained, and goes on once an operator *disowns* it with a reason. The disowning
is itself recorded, so the incident stays visible to every auditor.
"""

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import PositiveInt

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.vocabulary import LongText, ShortText


class EventDisowned(Event):
    """An operator disowned a foreign event: the engagement does not count it, and says why."""

    TYPE: ClassVar[str] = "event_disowned"
    type: Literal["event_disowned"] = "event_disowned"
    position: PositiveInt
    event_id: UUID
    event_type: ShortText
    disowned_by: PersonId
    reason: Annotated[LongText, PersonalData(owner="disowned_by")]
