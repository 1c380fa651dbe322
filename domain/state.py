"""Applying events to the state: `apply` for one event, `fold` for a history.

`apply(state, event)` is pure and total: it returns a new `EngagementState` (the input is never
changed) or raises a `DomainError` subclass saying why the event is impossible now. Before the
event-specific checks it enforces what holds for every event: `engagement_started` comes first and only
once, time never goes backwards, nothing follows completion, and a paused engagement, or one in its
follow-up period, only records facts.

`fold(events, as_of=None)` applies events in order from the empty state; with `as_of`, only events that
occurred at or before it, giving the engagement as it stood then.
"""

from collections.abc import Iterable
from datetime import datetime

from domain.engagement import EMPTY_STATE, EngagementState
from domain.errors import DomainError, EngagementNotActive, EventOutOfOrder, NotStarted
from domain.events import EngagementStarted, Event
from domain.transitions import ALLOWED_IN_FOLLOW_UP, ALLOWED_WHILE_PAUSED, HANDLERS
from domain.vocabulary import day, evolve, iso

__all__ = ["EMPTY_STATE", "EngagementState", "apply", "fold"]


def apply(state: EngagementState, event: Event) -> EngagementState:
    """The state after `event`. Raises a `DomainError` subclass if the event cannot happen now."""
    kind = type(event)
    if state.status == "not_started":
        if kind is not EngagementStarted:
            raise NotStarted(event, "the engagement has not started; engagement_started must come first")
    else:
        last = state.last_event_at
        if last is not None and event.occurred_at < last:
            raise EventOutOfOrder(event, f"it is earlier than the event before it ({iso(last)})")
        if state.status == "completed":
            raise EngagementNotActive(
                event,
                f"the engagement was completed on {day(state.completed_at)}; nothing more can be recorded",
            )
        if state.status == "following_up" and kind not in ALLOWED_IN_FOLLOW_UP:
            raise EngagementNotActive(
                event,
                f"every phase is complete and the engagement is in its follow-up period (until "
                f"{day(state.follow_up_until)}): only measurements, check-ins, training, outputs, decisions "
                "and ladder moves are recorded",
            )
        if state.status == "paused" and kind not in ALLOWED_WHILE_PAUSED:
            raise EngagementNotActive(
                event,
                f"the engagement is paused (since {day(state.paused_at)}); resume it first",
            )
    handler = HANDLERS.get(kind)
    if handler is None:
        raise DomainError(
            f"no transition is defined for {kind.__name__}; write on_<type> in one of domain.transitions.MODULES"
        )
    updates = handler(state, event)
    updates["last_event_at"] = event.occurred_at
    updates["events_applied"] = state.events_applied + 1
    return evolve(state, updates)


def fold(
    events: Iterable[Event], as_of: datetime | None = None, state: EngagementState = EMPTY_STATE
) -> EngagementState:
    """Apply `events` in order, starting from `state` (the empty state unless given). With `as_of`, skip
    events that occurred after it."""
    for event in events:
        if as_of is not None and event.occurred_at > as_of:
            continue
        state = apply(state, event)
    return state
