"""Which events people should hear about, and who: the ``notices`` subscription fills the outbox.

The workflow decides *when* (a gate opens, a reminder falls due, a gate is escalated, training is
about to lapse, the engagement is paused or resumed, a milestone falls due); its events say so in the
log. This subscription reads them, once and in order, and writes one row per person to be told into
``engagements.notices`` in the same transaction as its checkpoint: a crash never loses a notice nor
makes one twice. Delivery is a separate step (``delivery.py``).

A notice's id is derived from the event's id and the person's, so it names the same notice however
often it is made, and becomes the mail's Message-ID.

An event first seen long after it happened (``STALE_AFTER``: an installation that starts keeping
notices with months of log behind it) is recorded as ``stale`` and never mailed: nobody wants last
spring's reminders.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from domain.engagement import EngagementState
from domain.events import (
    AuthorisationExpired,
    EngagementPaused,
    EngagementResumed,
    Event,
    GateEscalated,
    GateOpened,
    MilestoneDue,
    ReminderSent,
)
from domain.rules.eligibility import may_still_vote
from domain.state import apply
from eventlog import RecordedEvent

from ..audit.history import state_as_of
from ..projections import ReadModel, Touched

SUBSCRIPTION = "notices"
NAMESPACE = uuid.UUID("0b5d3c51-8a57-4c4e-9d0e-6a2f1e7c9b21")  # notice ids
STALE_AFTER = timedelta(days=2)

_INSERT = """
INSERT INTO engagements.notices
    (notice_id, engagement_id, person_id, event_id, position, kind, reference, occurred_at, status)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s,
        CASE WHEN clock_timestamp() - %s > %s THEN 'stale' ELSE 'pending' END)
ON CONFLICT (notice_id) DO NOTHING
"""


@dataclass(frozen=True)
class Notice:
    """Who should hear about something, and what kind of thing it is."""

    kind: str
    reference: str | None
    person_ids: tuple[str, ...]


def notice_id(event_id: uuid.UUID, person_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{event_id}/{person_id}")


def _facilitators(state: EngagementState) -> tuple[str, ...]:
    return tuple(sorted(p for p, person in state.people.items() if person.constituency == "facilitator"))


def _taking_part(state: EngagementState, *, besides: str | None = None) -> tuple[str, ...]:
    return tuple(sorted(p for p, person in state.people.items() if state.takes_part(person) and p != besides))


def notice_for(event: Event, after: EngagementState) -> Notice | None:
    """The notice ``event`` implies, given the engagement as it stands just after it (None: none)."""
    if isinstance(event, GateOpened):
        voters = may_still_vote(after, event.phase_id, event.occurred_at)
        return Notice("gate_opened", event.phase_id, voters)
    if isinstance(event, ReminderSent):
        if event.kind == "milestone":
            return Notice("milestone", event.reference, _facilitators(after))
        return Notice(event.kind, event.reference, event.person_ids)
    if isinstance(event, GateEscalated):
        phase = after.require_plan().phases_by_id[event.phase_id]
        told = {
            p
            for p, person in after.people.items()
            if after.takes_part(person) and set(person.roles) & set(phase.escalate_to)
        }
        return Notice("gate_escalated", event.phase_id, tuple(sorted(told | set(_facilitators(after)))))
    if isinstance(event, EngagementPaused):
        return Notice("paused", None, _taking_part(after, besides=event.paused_by))
    if isinstance(event, EngagementResumed):
        return Notice("resumed", None, _taking_part(after, besides=event.resumed_by))
    if isinstance(event, MilestoneDue):
        return Notice("milestone_due", event.milestone_id, _facilitators(after))
    if isinstance(event, AuthorisationExpired):
        return Notice("training_expired", event.module_id, (event.person_id,))
    return None


def rows_for(engagement_id: str, history: Iterable[Any], first_new: int) -> list[tuple[Any, ...]]:
    """Outbox rows for the events of ``history`` at or after position ``first_new``."""
    history = list(history)
    earlier = [item for item in history if item.record.position < first_new]
    state = state_as_of(earlier)
    rows = []
    for item in history[len(earlier) :]:
        if item.foreign is not None:
            continue  # never folded, never announced
        state = apply(state, item.event)
        notice = notice_for(item.event, state)
        if notice is None:
            continue
        record: RecordedEvent = item.record
        for person_id in notice.person_ids:
            person = state.people.get(person_id)
            if person is not None and person.consent_withdrawn_at is not None:
                continue  # they withdrew their consent: nothing more is asked of them
            rows.append((
                notice_id(record.event_id, person_id), engagement_id, person_id, record.event_id,
                record.position, notice.kind, notice.reference, record.occurred_at,
            ))  # fmt: skip
    return rows


async def _fill(conn: psycopg.AsyncConnection[Any], touched: list[Touched]) -> None:
    for engagement in touched:
        for row in rows_for(engagement.engagement_id, engagement.history, engagement.first_new):
            occurred_at: datetime = row[7]
            await conn.execute(_INSERT, (*row, occurred_at, STALE_AFTER))


READ_MODEL = ReadModel(SUBSCRIPTION, _fill)
catch_up = READ_MODEL.catch_up  # fill the outbox from everything committed so far
keep_up = READ_MODEL.keep_up  # keep filling it until stopped (every worker runs this)
