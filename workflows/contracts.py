"""What the workflow sends to its activities and gets back: plain models, no I/O.

The workflow imports this module (and only this one) from ``activities``, so it must stay free of
database and network code: it runs inside Temporal's deterministic sandbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

APPEND_EVENTS = "append_events"
# The error type the append activity fails with when the stream holds events this engagement's workflow
# did not write (no valid writer signature, or another workflow's): its details are ``ForeignEvent``s.
FOREIGN_EVENT_ERROR = "ForeignEvent"


class EventToAppend(BaseModel):
    """One domain event as the event log stores it, with an id made deterministically in the workflow."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime
    actor: str | None = None
    causation_id: str | None = None
    correlation_id: str | None = None
    # How the input that recorded it reached the engagement (channel, authentication, who entered it
    # and, for an assisted input, why): the event's metadata ``entered``; None for what followed by itself.
    entered: dict[str, Any] | None = None


class AppendEvents(BaseModel):
    """Append these events to one stream, expecting it at ``expected_version`` (None: any version)."""

    model_config = ConfigDict(frozen=True)

    stream_id: str
    expected_version: int | None
    events: list[EventToAppend] = Field(min_length=1)


class AdoptedEvent(BaseModel):
    """An event the log holds for the stream that the workflow does not know of yet (see ``adopted``)."""

    model_config = ConfigDict(frozen=True)

    position: int
    stream_version: int
    event_id: UUID
    type: str
    schema_version: int
    payload: dict[str, Any]
    causation_id: str | None = None


class AppendReply(BaseModel):
    """Where the events went; ``duplicate`` when they were stored already (a retried activity).

    ``adopted`` is not empty when the stream had moved past ``expected_version``: an earlier attempt of
    this workflow committed its append but its workflow task never completed (the worker or the
    server died after the commit), so the workflow re-ran with a new time and the same event ids. The
    log is the record: nothing was written now, and these are the events stored after
    ``expected_version``, for the workflow to take into its state before it tries again.
    """

    positions: list[int]
    stream_version: int
    duplicate: bool
    adopted: list[AdoptedEvent] = Field(default_factory=list)


class ForeignEvent(BaseModel):
    """An event in the engagement's stream that its workflow did not write: appended with a database
    login but not by this installation's writers (or by another workflow). It is never adopted and
    never folded; the engagement refuses inputs until an operator disowns it."""

    model_config = ConfigDict(frozen=True)

    position: int
    stream_version: int
    event_id: UUID
    type: str
    why: str

    def sentence(self) -> str:
        return (
            f"the log holds an event this engagement did not write at position {self.position}; "
            "see `coproduce audit verify`"
        )


# -- retention (workflows.retention) ----------------------------------------------------------------------
APPLY_RETENTION = "apply_retention"


class ApplyRetention(BaseModel):
    """Apply an engagement's retention rule as of ``as_of`` (the workflow's time)."""

    model_config = ConfigDict(frozen=True)

    engagement_id: str
    as_of: datetime


class RetentionStep(BaseModel):
    """What applying found: when the rule falls due (None: never, or not while the engagement runs),
    whether it has been applied (by this step or an earlier one), and who this step forgot."""

    model_config = ConfigDict(frozen=True)

    due_at: datetime | None = None
    applied: bool = False
    newly_forgotten: list[str] = Field(default_factory=list)
    recorded: bool = False
