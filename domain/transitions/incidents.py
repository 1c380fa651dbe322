"""Transitions for incidents in the record: a foreign event disowned by an operator."""

from __future__ import annotations

from domain.engagement import EngagementState
from domain.errors import RuleViolation
from domain.events.incidents import EventDisowned
from domain.transitions.common import Updates, known_person


def on_event_disowned(state: EngagementState, event: EventDisowned) -> Updates:
    """Only a facilitator disowns, and each foreign event once; the foreign event itself was never
    folded, so nothing else changes."""
    person = known_person(state, event, event.disowned_by)
    if person.constituency != "facilitator":
        raise RuleViolation(
            event, f"only a facilitator may disown an event, and {event.disowned_by} is not one"
        )
    if event.position in state.disowned:
        raise RuleViolation(event, f"the event at position {event.position} was disowned already")
    return {"disowned": (*state.disowned, event.position)}
