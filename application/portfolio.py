"""The facilitator's portfolio: every engagement a facilitator runs, and what each one needs, on one page.

A read model kept beside the log (``engagements.portfolio``, application/migrations/0005) by the
catch-up subscription ``portfolio``: after each batch, every engagement the batch touched is folded
from its whole history, the way the auditor folds it, and its row rewritten in the batch's
transaction. The row holds only what the page shows and nothing personal: ids, the organisation's
name, phase ids and titles, sentences the rules generate, dates.

What depends on the time of reading (what is overdue, what falls due this week, who has not checked in
for a whole period) is worked out when the page is read, from the dates the row keeps.

Who sees a row: a signed-in account that is one of the engagement's facilitators there (a person of the
constituency ``facilitator`` whose membership the account holds). One query serves the page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from domain.engagement import EngagementState
from domain.rules.schedule import falls_due
from workflows.status import build_status

from .projections import ReadModel, Touched
from .services import Services

SUBSCRIPTION = "portfolio"
WEEK = timedelta(days=7)

_UPSERT = """
INSERT INTO engagements.portfolio (
    engagement_id, organisation, title, status, current_phase, phase_title, facilitators, waiting_for,
    held, escalated, paused_since, due, next_due_at, check_ins, check_in_every_days, attention,
    last_activity, position
) VALUES (
    %(engagement_id)s, %(organisation)s, %(title)s, %(status)s, %(current_phase)s, %(phase_title)s,
    %(facilitators)s, %(waiting_for)s, %(held)s, %(escalated)s, %(paused_since)s, %(due)s, %(next_due_at)s,
    %(check_ins)s, %(check_in_every_days)s, %(attention)s, %(last_activity)s, %(position)s
)
ON CONFLICT (engagement_id) DO UPDATE SET
    organisation = EXCLUDED.organisation, title = EXCLUDED.title, status = EXCLUDED.status,
    current_phase = EXCLUDED.current_phase, phase_title = EXCLUDED.phase_title,
    facilitators = EXCLUDED.facilitators, waiting_for = EXCLUDED.waiting_for, held = EXCLUDED.held,
    escalated = EXCLUDED.escalated, paused_since = EXCLUDED.paused_since, due = EXCLUDED.due,
    next_due_at = EXCLUDED.next_due_at, check_ins = EXCLUDED.check_ins,
    check_in_every_days = EXCLUDED.check_in_every_days, attention = EXCLUDED.attention,
    last_activity = EXCLUDED.last_activity, position = EXCLUDED.position
"""

# The page's one query: the rows whose facilitators include a person the account is, most urgent first.
PAGE_QUERY = """
SELECT p.engagement_id, p.organisation, p.title, p.status, p.current_phase, p.phase_title, p.waiting_for,
       p.held, p.escalated, p.paused_since, p.due, p.check_ins, p.check_in_every_days, p.attention,
       p.last_activity, p.facilitators, array_agg(m.person_id ORDER BY m.person_id) AS me
  FROM engagements.portfolio p
  JOIN identity.memberships m
    ON m.engagement_id = p.engagement_id AND m.person_id = ANY (p.facilitators)
 WHERE m.account_id = %(account)s
   AND (%(organisation)s::text IS NULL OR p.organisation = %(organisation)s)
 GROUP BY p.engagement_id
 ORDER BY p.attention DESC, p.next_due_at ASC NULLS LAST, p.engagement_id
"""


def row_of(state: EngagementState, position: int) -> dict[str, Any]:
    """The portfolio row of an engagement as its fold stands after the event at ``position``."""
    plan = state.require_plan()
    as_of = state.last_event_at or state.started_at
    assert as_of is not None
    status = build_status(state, as_of, stream_version=state.events_applied, lead="")
    current = status.current_phase
    held = sorted(
        phase_id
        for phase_id, progress in state.phases.items()
        if progress.status == "running"
        and (progress.hold is not None or (state.gates.get(phase_id, None) is not None
             and state.gates[phase_id].status in ("held", "rejected")))
    )  # fmt: skip
    escalated = sorted(
        phase_id
        for phase_id, progress in state.phases.items()
        if progress.status == "running" and progress.escalated_at is not None
    )
    due = [
        {"kind": item.kind, "reference": item.reference, "due_at": item.due_at.isoformat()}
        for item in falls_due(state)
    ]
    taking_part = {
        person_id: (state.check_ins[person_id].at.isoformat() if person_id in state.check_ins else None)
        for person_id, person in sorted(state.people.items())
        if state.takes_part(person) and person.constituency != "facilitator"
    }
    attention = 3 * len(held) + 2 * len(escalated) + (1 if state.status == "paused" else 0)
    return {
        "engagement_id": state.engagement_id,
        "organisation": plan.organisation.name,
        "title": plan.title,
        "status": state.status,
        "current_phase": current,
        "phase_title": plan.phases_by_id[current].title if current else None,
        "facilitators": sorted(p.id for p in plan.people if p.constituency == "facilitator"),
        "waiting_for": json.dumps(list(status.waiting_for)),
        "held": held,
        "escalated": escalated,
        "paused_since": state.paused_at if state.status == "paused" else None,
        "due": json.dumps(due),
        "next_due_at": min((item.due_at for item in falls_due(state)), default=None),
        "check_ins": json.dumps(taking_part),
        "check_in_every_days": plan.pace.check_in_every_days,
        "attention": attention,
        "last_activity": as_of,
        "position": position,
    }


async def _project(conn: psycopg.AsyncConnection[Any], touched: list[Touched]) -> None:
    for engagement in touched:
        state = engagement.state()
        if state.plan is not None:
            await conn.execute(_UPSERT, row_of(state, engagement.history[-1].record.position))


READ_MODEL = ReadModel(SUBSCRIPTION, _project)
catch_up = READ_MODEL.catch_up  # bring the portfolio up to date with everything committed
keep_up = READ_MODEL.keep_up  # keep it up to date until stopped (every worker runs this)


# -- reading it ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Due:
    kind: str
    reference: str | None
    due_at: datetime


@dataclass(frozen=True)
class PortfolioRow:
    """One engagement as the facilitator's page shows it, as of ``now``."""

    engagement_id: str
    organisation: str
    title: str
    status: str
    current_phase: str | None
    phase_title: str | None
    waiting_for: list[str]
    held: list[str]
    escalated: list[str]
    paused_since: datetime | None
    overdue: list[Due]  # fallen due and not yet recorded
    this_week: list[Due]  # falling due in the next seven days
    quiet: int  # people taking part who have not checked in for a whole check-in period
    last_activity: datetime
    facilitators: list[str]  # person ids
    me: list[str]  # the person ids the reader is here
    attention: int = 0
    reasons: list[str] = field(default_factory=list)  # why it needs attention, in words


def _read(row: tuple[Any, ...], now: datetime) -> PortfolioRow:
    (engagement_id, organisation, title, status, current, phase_title, waiting_for, held, escalated,
     paused_since, due, check_ins, every_days, attention, last_activity, facilitators, me) = row  # fmt: skip
    items = [Due(d["kind"], d["reference"], datetime.fromisoformat(d["due_at"])) for d in due]
    overdue = [d for d in items if d.due_at <= now and d.kind != "dwell_ends"]
    this_week = [d for d in items if now < d.due_at <= now + WEEK]
    period = timedelta(days=every_days)
    quiet = 0
    if status == "active":
        for latest in check_ins.values():
            if latest is None or now - datetime.fromisoformat(latest) > period:
                quiet += 1
    score = attention + 2 * len(overdue) + (1 if quiet else 0)
    reasons = []
    if held:
        reasons.append(f"{_count(len(held), 'gate')} held")
    if escalated:
        reasons.append(f"{_count(len(escalated), 'gate')} escalated")
    if status == "paused":
        reasons.append("paused")
    if overdue:
        reasons.append(f"{_count(len(overdue), 'item')} overdue")
    if quiet:
        reasons.append(f"{_count(quiet, 'person', 'people')} not checked in for {every_days} days")
    return PortfolioRow(
        engagement_id=engagement_id, organisation=organisation, title=title, status=status,
        current_phase=current, phase_title=phase_title, waiting_for=list(waiting_for), held=list(held),
        escalated=list(escalated), paused_since=paused_since, overdue=overdue, this_week=this_week,
        quiet=quiet, last_activity=last_activity, facilitators=list(facilitators), me=list(me), attention=score, reasons=reasons,
    )  # fmt: skip


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


async def portfolio(
    services: Services,
    account_id: uuid.UUID,
    now: datetime,
    *,
    organisation: str | None = None,
    facilitator: str | None = None,
) -> list[PortfolioRow]:
    """The engagements ``account_id`` facilitates (only those of ``organisation``, or those that
    ``facilitator``, a facilitator's person id, runs too, when given), those needing attention first."""
    async with services.writer_log() as log, log.pool.connection() as conn:
        rows = await (
            await conn.execute(PAGE_QUERY, {"account": account_id, "organisation": organisation})
        ).fetchall()
    found = [_read(row, now) for row in rows]
    if facilitator:
        found = [row for row in found if facilitator in row.facilitators]
    found.sort(key=lambda row: -row.attention)  # stable: the query's order breaks ties
    return found


def organisations(rows: Iterable[PortfolioRow]) -> list[str]:
    """The organisations among ``rows``, for the page's filter."""
    return sorted({row.organisation for row in rows})
