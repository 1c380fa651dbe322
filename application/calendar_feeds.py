"""Calendar feeds: due dates (votes, check-ins, training that runs out, milestones) in a person's own
calendar app, as an iCalendar feed (RFC 5545) fetched from a private address.

Calendar apps fetch a feed without cookies, so the address is the credential: ``/calendar/<token>.ics``
with a random 256-bit token, of which only the SHA-256 is kept (``identity.calendar_feeds``). It is
shown once, when made; making a new one revokes the old one, and an unknown or revoked token is
answered exactly like an address that never existed.

What a feed holds, for the account behind it:

- in each engagement the account facilitates (a person of the constituency ``facilitator`` there):
  everything that falls due (``domain.rules.schedule.falls_due``), read from the portfolio read model
  (``engagements.portfolio``) with the plan's titles, in one query;
- in each other engagement it belongs to, the person's own items, from the engagement folded from the
  log: gates open for their vote (due when the gate is escalated), the next check-in round, the end of
  their training authorisations (and milestones, should a facilitator's engagement be missing from
  the portfolio yet).

Each event's UID is derived from the engagement, the kind and the reference, so a calendar that
fetches the feed again moves an item rather than adding another. Summaries carry titles the reader
may already see (the engagement's, a phase's, a module's, a milestone's) and never anyone's name.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import structlog
from icalendar import Alarm, Calendar, Event

from domain.engagement import EngagementState
from domain.rules.eligibility import vote_refusal
from domain.rules.schedule import falls_due

from .audit.history import UnreadableRecord, decode, read_records, state_as_of
from .services import Services

log = structlog.get_logger(__name__)

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 256 bits
CALENDAR_NAME = "coproduce: your due dates"
REFRESH = timedelta(hours=1)  # how often a calendar app is asked to fetch again (REFRESH-INTERVAL)
NO_FEED = "There is no calendar at this address."

# Where each item's link leads. A facilitator's items about the whole engagement go to its page
# (FACILITATOR_PAGE); the approvers' pages are application/participation's.
GATE_PAGE = "/engagements/{engagement}/gates/{phase}"
CHECK_IN_PAGE = "/engagements/{engagement}/check-in"
RECORD_PAGE = "/engagements/{engagement}/record"
FACILITATOR_PAGE = "/portfolio/{engagement}"


def _sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# -- the items ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedItem:
    """One dated thing in a feed: what, when, and the page that deals with it."""

    engagement_id: str
    kind: str  # vote, check_in, milestone, gate_escalation, dwell_ends, authorisation_expiry
    reference: str | None  # a phase, milestone or "person/module": with the kind, what the item is
    due_at: datetime
    all_day: bool
    summary: str
    description: str
    path: str
    alarm: timedelta | None = None  # a reminder this long before (negative), for the reader's own deadlines

    def uid(self, domain: str) -> str:
        """The same for the same engagement, kind and reference, whenever the feed is built."""
        key = "\x1f".join((self.engagement_id, self.kind, self.reference or ""))
        return f"{self.kind.replace('_', '-')}-{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}"


@dataclass(frozen=True)
class Titles:
    """An engagement's title and the titles of its plan's parts, by id."""

    engagement: str
    phases: Mapping[str, str]
    milestones: Mapping[str, str]
    modules: Mapping[str, str]

    @classmethod
    def of_state(cls, state: EngagementState) -> Titles:
        plan = state.require_plan()
        return cls(
            plan.title,
            {p.id: p.title for p in plan.phases},
            {m.id: m.title for m in plan.evaluation.milestones},
            {m.id: m.title for m in plan.training.modules},
        )

    @classmethod
    def of_plan_json(cls, title: str, plan: Mapping[str, Any] | None) -> Titles:
        """From a plan as the log's JSON holds it (what is missing falls back to ids)."""
        plan = plan or {}

        def by_id(items: Any) -> dict[str, str]:
            found = {}
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    found[item["id"]] = str(item.get("title") or item["id"])
            return found

        return cls(
            title,
            by_id(plan.get("phases")),
            by_id((plan.get("evaluation") or {}).get("milestones")),
            by_id((plan.get("training") or {}).get("modules")),
        )


def _path(template: str, engagement_id: str, phase: str = "") -> str:
    return template.format(engagement=quote(engagement_id, safe=""), phase=quote(phase, safe=""))


def _when(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y} at {moment:%H:%M} UTC"


def _day(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def item_for(
    engagement_id: str, kind: str, reference: str | None, due_at: datetime, titles: Titles, *, own: bool
) -> FeedItem:
    """The feed item of something that falls due, in words; ``own``: the reader's own (their vote,
    their check-in, their authorisation), else one a facilitator looks after."""
    title = titles.engagement or engagement_id
    ref = reference or ""
    if kind == "vote":
        phase = titles.phases.get(ref, ref)
        return FeedItem(
            engagement_id, kind, reference, due_at, False, f"Decide: {phase} - {title}",
            f'Your decision on the gate of "{phase}" is due by {_when(due_at)}. '
            "If the gate is still undecided then, it is escalated to the sponsor.",
            _path(GATE_PAGE, engagement_id, ref), alarm=timedelta(days=-1),
        )  # fmt: skip
    if kind == "check_in":
        if own:
            return FeedItem(
                engagement_id, kind, None, due_at, True, f"Check in on the pace - {title}",
                f"The next check-in round is on {_day(due_at)}: say how comfortable you are with the pace.",
                _path(CHECK_IN_PAGE, engagement_id),
            )  # fmt: skip
        return FeedItem(
            engagement_id, kind, None, due_at, True, f"Check-in round - {title}",
            f"The next check-in round is on {_day(due_at)}: everyone taking part is asked how the pace feels.",
            _path(FACILITATOR_PAGE, engagement_id),
        )  # fmt: skip
    if kind == "authorisation_expiry":
        person, _, module_id = ref.partition("/")
        module = titles.modules.get(module_id, module_id)
        if own:
            return FeedItem(
                engagement_id, kind, reference, due_at, True, f"Your training runs out: {module} - {title}",
                f'Your authorisation to decide, from the training "{module}", ends on {_day(due_at)}. '
                "Ask your facilitator about a refresher before then.",
                _path(RECORD_PAGE, engagement_id), alarm=timedelta(days=-7),
            )  # fmt: skip
        return FeedItem(
            engagement_id, kind, reference, due_at, True, f"Training runs out: {module} ({person}) - {title}",
            f'The authorisation of person {person} from the training "{module}" ends on {_day(due_at)}.',
            _path(FACILITATOR_PAGE, engagement_id),
        )  # fmt: skip
    if kind == "milestone":
        milestone = titles.milestones.get(ref, ref)
        return FeedItem(
            engagement_id, kind, reference, due_at, True, f"Milestone due: {milestone} - {title}",
            f'The evaluation milestone "{milestone}" falls due on {_day(due_at)}: its indicators are to be measured.',
            _path(FACILITATOR_PAGE, engagement_id),
        )  # fmt: skip
    if kind == "gate_escalation":
        phase = titles.phases.get(ref, ref)
        return FeedItem(
            engagement_id, kind, reference, due_at, False, f"Gate escalates: {phase} - {title}",
            f'If the gate of "{phase}" is still undecided on {_when(due_at)}, it is escalated to the sponsor.',
            _path(GATE_PAGE, engagement_id, ref),
        )  # fmt: skip
    if kind == "dwell_ends":
        phase = titles.phases.get(ref, ref)
        return FeedItem(
            engagement_id, kind, reference, due_at, True, f"Phase may move on: {phase} - {title}",
            f'The least time the plan gives "{phase}" is over on {_day(due_at)}; from then its gate may pass.',
            _path(GATE_PAGE, engagement_id, ref),
        )  # fmt: skip
    return FeedItem(
        engagement_id, kind, reference, due_at, True, f"Due: {kind.replace('_', ' ')} - {title}",
        f"Due on {_day(due_at)}.", _path(FACILITATOR_PAGE, engagement_id),
    )  # fmt: skip


def person_items(engagement_id: str, state: EngagementState, person_id: str, now: datetime) -> list[FeedItem]:
    """What falls due for ``person_id`` themselves in one engagement, as its fold stands."""
    if state.plan is None or state.status in ("not_started", "completed"):
        return []
    plan = state.require_plan()
    person = state.people.get(person_id)
    if person is None:
        return []
    titles = Titles.of_state(state)
    items = []
    for phase_id, gate in state.gates.items():
        progress = state.phases.get(phase_id)
        if gate.status != "open" or person_id not in gate.roster or person_id in gate.votes:
            continue
        if progress is None or progress.started_at is None:
            continue
        if vote_refusal(state, phase_id, person_id, "approve", None, now) is not None:
            continue  # not theirs to decide (yet): untrained, expired, or not counted
        due = progress.started_at + timedelta(days=plan.phases_by_id[phase_id].escalate_after_days)
        items.append(item_for(engagement_id, "vote", phase_id, due, titles, own=True))
    facilitator = person.constituency == "facilitator"
    for due in falls_due(state):
        if (
            due.kind == "check_in"
            and state.status == "active"
            and state.takes_part(person)
            and not facilitator
        ):
            items.append(item_for(engagement_id, "check_in", None, due.due_at, titles, own=True))
        elif due.kind == "authorisation_expiry" and (due.reference or "").startswith(f"{person_id}/"):
            items.append(item_for(engagement_id, due.kind, due.reference, due.due_at, titles, own=True))
        elif due.kind == "milestone" and facilitator:
            items.append(item_for(engagement_id, due.kind, due.reference, due.due_at, titles, own=False))
    return items


def facilitated_items(
    engagement_id: str, status: str, due: Iterable[Mapping[str, Any]], titles: Titles
) -> list[FeedItem]:
    """Everything that falls due in an engagement a facilitator runs (a portfolio row's ``due``)."""
    items = []
    for entry in due:
        kind = str(entry["kind"])
        if kind == "check_in" and status != "active":
            continue  # no check-in rounds while paused
        when = datetime.fromisoformat(str(entry["due_at"]))
        items.append(item_for(engagement_id, kind, entry.get("reference"), when, titles, own=False))
    return items


# -- the calendar ------------------------------------------------------------------------------------
def build_calendar(items: Iterable[FeedItem], *, web_url: str, domain: str, stamp: datetime) -> bytes:
    """The iCalendar text of ``items`` (soonest first), each linking to its page under ``web_url``."""
    cal = Calendar()
    cal.add("prodid", "-//coproduce//calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", CALENDAR_NAME)
    cal.add("x-wr-caldesc", "Votes, check-ins, training and milestones falling due in your engagements.")
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")  # Outlook's name for the same
    base = web_url.rstrip("/")
    seen = set()
    for item in sorted(items, key=lambda i: (i.due_at, i.kind, i.engagement_id, i.reference or "")):
        uid = item.uid(domain)
        if uid in seen:
            continue
        seen.add(uid)
        event = Event()
        event.add("uid", uid)
        event.add("dtstamp", stamp.astimezone(UTC))
        due = item.due_at.astimezone(UTC)
        if item.all_day:
            event.add("dtstart", due.date())
            event.add("dtend", due.date() + timedelta(days=1))
        else:  # a deadline: a moment, not a meeting
            event.add("dtstart", due)
            event.add("dtend", due)
        event.add("transp", "TRANSPARENT")  # a date to mind, not time taken
        url = base + item.path
        event.add("summary", item.summary)
        event.add("description", f"{item.description}\n\n{url}")
        event.add("url", url)
        if item.alarm is not None:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", item.summary)
            alarm.add("trigger", item.alarm)
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()


# -- addresses ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedAddress:
    """A new feed address, shown once: the https address and the same as ``webcal://``."""

    https: str
    webcal: str


@dataclass(frozen=True)
class FeedState:
    """The account's live address, as far as it can be told without the address itself."""

    made_at: datetime | None
    last_fetched_at: datetime | None


def feed_url(services: Services, token: str) -> FeedAddress:
    https = f"{services.web_url.rstrip('/')}/calendar/{token}.ics"
    return FeedAddress(https, "webcal://" + https.split("://", 1)[1])


async def feed_state(services: Services, account_id: uuid.UUID) -> FeedState:
    """Whether the account has a live feed address, when it was made and last fetched."""
    async with services.writer_log() as elog, elog.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT created_at, last_fetched_at FROM identity.calendar_feeds "
                "WHERE account_id = %s AND revoked_at IS NULL",
                (account_id,),
            )
        ).fetchone()
    return FeedState(row[0], row[1]) if row else FeedState(None, None)


async def new_address(services: Services, account_id: uuid.UUID) -> FeedAddress:
    """A new feed address for the account; the one it had stops working at once."""
    token = secrets.token_urlsafe(32)
    async with services.writer_log() as elog, elog.pool.connection() as conn, conn.transaction():
        # one maker at a time per account: the live address is unique
        await conn.execute("SELECT 1 FROM identity.accounts WHERE account_id = %s FOR UPDATE", (account_id,))
        await conn.execute(
            "UPDATE identity.calendar_feeds SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL",
            (account_id,),
        )
        await conn.execute(
            "INSERT INTO identity.calendar_feeds (token_hash, account_id) VALUES (%s, %s)",
            (_sha256(token), account_id),
        )
    return feed_url(services, token)


# -- reading a feed -----------------------------------------------------------------------------------
_FACILITATED = """
SELECT p.engagement_id, p.title, p.status, p.due, plan.payload -> 'plan'
  FROM engagements.portfolio p
  LEFT JOIN LATERAL (
        SELECT e.payload FROM eventlog.audit_events e
         WHERE e.stream_id = p.engagement_id AND e.event_type IN ('engagement_started', 'plan_amended')
         ORDER BY e.position DESC LIMIT 1
       ) plan ON true
 WHERE EXISTS (SELECT 1 FROM identity.memberships m
                WHERE m.engagement_id = p.engagement_id AND m.person_id = ANY (p.facilitators)
                  AND m.account_id = %(account)s)
 ORDER BY p.engagement_id
"""


async def feed(services: Services, token: str, now: datetime) -> bytes | None:
    """The feed at ``token``'s address, as of ``now``; None when no live address has that token."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    async with services.writer_log() as elog:
        async with elog.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE identity.calendar_feeds SET last_fetched_at = now() "
                    "WHERE token_hash = %s AND revoked_at IS NULL RETURNING account_id",
                    (_sha256(token),),
                )
            ).fetchone()
            if row is None:
                return None
            account_id = row[0]
            rows = await (await conn.execute(_FACILITATED, {"account": account_id})).fetchall()
            places = await (
                await conn.execute(
                    "SELECT engagement_id, person_id FROM identity.memberships WHERE account_id = %s "
                    "ORDER BY engagement_id, person_id",
                    (account_id,),
                )
            ).fetchall()
        items: list[FeedItem] = []
        facilitated = set()
        for engagement_id, title, status, due, plan in rows:
            facilitated.add(engagement_id)
            due = json.loads(due) if isinstance(due, str) else due
            plan = json.loads(plan) if isinstance(plan, str) else plan
            items += facilitated_items(engagement_id, status, due or [], Titles.of_plan_json(title, plan))
        for engagement_id, person_id in places:
            if engagement_id in facilitated:
                continue  # the portfolio's row holds everything, their own items too
            state = await _state(services, elog, engagement_id)
            if state is not None:
                items += person_items(engagement_id, state, person_id, now)
    return build_calendar(items, web_url=services.web_url, domain=services.mail_domain(), stamp=now)


async def _state(services: Services, elog: Any, engagement_id: str) -> EngagementState | None:
    """The engagement folded from the log the auditor's way (None: no such engagement, or unreadable)."""
    records = await read_records(elog, engagement_id)
    if not records:
        return None
    try:
        return state_as_of(decode(records, None, services.writers(), stream_id=engagement_id))
    except UnreadableRecord as exc:  # the auditor's tools say where; the feed leaves it out
        log.warning(
            "calendar feed: an engagement cannot be folded", engagement_id=engagement_id, error=str(exc)
        )
        return None
