"""Errors the domain raises: invalid plans, unreadable records, and events impossible in the current state.

Every message is one clear sentence naming what was wrong (by id, never by a person's name, so messages
are safe to log) and, where it helps, what to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol


class _Stamped(Protocol):
    """What an error needs of an event: its type and when it happened (any domain event has both)."""

    @property
    def type(self) -> str: ...

    @property
    def occurred_at(self) -> datetime: ...


class DomainError(Exception):
    """Base class: something the domain refuses."""


class PlanProblem(NamedTuple):
    """One thing wrong with a plan: where (a field path such as `phases[2].gate.quorum`) and what."""

    path: str
    message: str


class PlanError(DomainError):
    """A plan that does not validate. The message lists every problem, one per line:
    `<source>: <field.path>: <what is wrong>`."""

    def __init__(self, source: str, problems: list[PlanProblem] | tuple[PlanProblem, ...]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p.path}: {p.message}" for p in self.problems))


class RecordError(DomainError):
    """A stored record that cannot become an event: unknown type, a schema version from the future,
    a missing upcaster, or a payload that does not validate."""


class AmendmentError(DomainError):
    """A plan amendment that would rewrite what already happened (a started phase removed, ...)."""


class ImpossibleEvent(DomainError):
    """An event that cannot happen in the current state. The message starts with the event's type and
    time so a failing replay points at the culprit."""

    def __init__(self, event: _Stamped, reason: str) -> None:
        self.event_type: str = event.type
        self.occurred_at: datetime = event.occurred_at
        self.reason = reason
        stamp = event.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(f"{event.type} at {stamp}: {reason}")


class NotStarted(ImpossibleEvent):
    """An event before `engagement_started` (or a second `engagement_started`)."""


class EventOutOfOrder(ImpossibleEvent):
    """An event whose time is earlier than the event before it."""


class EngagementNotActive(ImpossibleEvent):
    """An event the engagement cannot take while paused, or at all once completed."""


class UnknownReference(ImpossibleEvent):
    """An event naming a person, phase, module, indicator, milestone or decision area that does not exist."""


class PhaseOrderError(ImpossibleEvent):
    """A phase started or completed out of turn."""


class GateError(ImpossibleEvent):
    """A gate or vote event that does not fit the gate's state: not open, already open, double vote, ..."""


class ReasonRequired(ImpossibleEvent):
    """A hold, rejection, objection, override or pause without the reason the policy asks for."""


class RuleViolation(ImpossibleEvent):
    """An event that breaks a rule of the plan: a gate passed without quorum, opened before the pace
    policy allows, a payment larger than what is owed, ..."""
