"""The base of every domain event: a type tag, a schema version and the time it happened.

An event is an immutable fact in the past tense. `type` is its name in the log; `SCHEMA_VERSION` goes
up by one whenever its payload changes shape, with an upcaster in `domain.upcasters` from the old
shape to the new. `occurred_at` is workflow time, aware and in UTC. People appear only as opaque ids.
"""

from typing import ClassVar

from domain.vocabulary import DomainModel, Identifier, UtcDatetime

PersonId = Identifier


class Event(DomainModel):
    SCHEMA_VERSION: ClassVar[int] = 1
    type: str
    occurred_at: UtcDatetime
