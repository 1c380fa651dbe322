"""Delivering notices: by email, in a daily digest, or onto the facilitator's list to tell by hand.

``deliver(services, now)`` works through the outbox (``engagements.notices``):

- a person forgotten since is not told (``forgotten``);
- a person who asked for no email, or has no email address, goes on their facilitator's list
  (``by_hand``: ``coproduce notices list ENG --by-hand``);
- a person who asked for a digest gets one mail for each day's notices once the day is over (UTC);
- everyone else gets a mail now: plain text with an HTML alternative, a sign-in link (one use, 7 days)
  that lands on the page that needs them, and ``List-Unsubscribe`` with a one-click link (RFC 8058).

**Once from the person's side.** The Message-ID is the notice's id (made from the event's id and the
person's), and a notice is marked ``sent`` in the same transaction that held its row while the mail
server took it, so a retried round or a second worker never sends it again. The one gap, a crash after
the server took the mail and before the mark commits, resends a mail with the *same* Message-ID, which
mail systems treat as the same mail.

**A mail server that is down delays mail and loses none.** A failed send keeps the notice pending,
counts the attempt, records the error's name (never an address) and tries again after a back-off that
doubles up to ``MAX_BACKOFF``; the round stops at the first server that does not answer, so an outage
is not hammered. What was sent, when, and what failed is in the table, without personal data.

``now`` is the clock digests and back-off are judged by (the wall clock in production; a test on the
time-skipping server passes the workflow's).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiosmtplib
import structlog

from domain.engagement import EngagementState

from ..audit.disclosure import Disclosure
from ..audit.history import load, state_as_of
from ..errors import NotFound
from ..identity.sign_in import link_url
from ..identity.store import IdentityStore
from ..mail import compose, send
from ..services import Services
from .messages import About, Written, body, written

log = structlog.get_logger(__name__)

LINK_LIFETIME = timedelta(days=7)
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=15)
ROUND = 200  # notices looked at per round
EVERY = 15.0  # seconds between rounds

_DUE = """
SELECT notice_id FROM engagements.notices
 WHERE status = 'pending' AND next_attempt_at <= %s
 ORDER BY position, person_id LIMIT %s
"""
_CLAIM = """
SELECT n.engagement_id, n.person_id, n.kind, n.reference, n.attempts,
       r.contact, r.display_name, r.notices, r.forgotten_at IS NOT NULL OR r.person_id IS NULL
  FROM engagements.notices n
  LEFT JOIN engagements.people_register r USING (engagement_id, person_id)
 WHERE n.notice_id = %s AND n.status = 'pending'
   FOR UPDATE OF n SKIP LOCKED
"""
_DIGESTS_DUE = """
SELECT engagement_id, person_id, (occurred_at AT TIME ZONE 'UTC')::date AS day
  FROM engagements.notices
 WHERE status = 'digest' AND next_attempt_at <= %(now)s
   AND (occurred_at AT TIME ZONE 'UTC')::date < (%(now)s AT TIME ZONE 'UTC')::date
 GROUP BY 1, 2, 3 ORDER BY 3, 1, 2
"""
_DIGEST_CLAIM = """
SELECT n.notice_id, n.kind, n.reference, n.occurred_at, n.attempts, r.contact, r.display_name
  FROM engagements.notices n
  JOIN engagements.people_register r USING (engagement_id, person_id)
 WHERE n.engagement_id = %s AND n.person_id = %s AND n.status = 'digest'
   AND (n.occurred_at AT TIME ZONE 'UTC')::date = %s
 ORDER BY n.position
   FOR UPDATE OF n SKIP LOCKED
"""


@dataclass
class Delivered:
    """What one round did."""

    sent: int = 0
    digests: int = 0
    by_hand: int = 0
    forgotten: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _backoff(attempts: int) -> timedelta:
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _error_name(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__} {code}" if isinstance(code, int) else type(exc).__name__


class _Engagements:
    """The engagements a round needs, folded once each (titles and dates for the words)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.states: dict[str, EngagementState] = {}

    async def state(self, engagement_id: str) -> EngagementState:
        if engagement_id not in self.states:
            async with self.services.writer_log() as event_log:
                self.states[engagement_id] = state_as_of(await load(event_log, engagement_id, Disclosure()))
        return self.states[engagement_id]

    async def about(self, engagement_id: str, person_id: str, kind: str, reference: str | None) -> About:
        state = await self.state(engagement_id)
        plan = state.require_plan()
        title, by = None, None
        if reference in plan.phases_by_id:
            phase = plan.phases_by_id[reference]
            title = phase.title
            started = state.phases[phase.id].started_at
            by = started + timedelta(days=phase.escalate_after_days) if started else None
        elif reference in plan.modules_by_id:
            title = plan.modules_by_id[reference].title
            periods = (
                state.people[person_id].authorisations.get(reference, ()) if person_id in state.people else ()
            )
            by = periods[-1].expires_at if periods else None
        elif reference in plan.milestones_by_id:
            title = plan.milestones_by_id[reference].title
        return About(kind, plan.title, title, by)


def page_for(engagement_id: str, kind: str, reference: str | None) -> str:
    """The page that needs the person, for a notice of ``kind``."""
    if kind in ("gate_opened", "gate_vote", "gate_waiting") and reference:
        return f"/engagements/{quote(engagement_id)}/gates/{quote(reference)}"
    if kind == "check_in":
        return f"/engagements/{quote(engagement_id)}/check-in"
    if kind in ("gate_escalated", "milestone", "milestone_due"):
        return f"/portfolio/{quote(engagement_id)}"
    return "/me"


async def _sign_in_link(
    services: Services, store: IdentityStore, engagement_id: str, person_id: str, page: str
) -> str:
    account = await store.account_for(engagement_id, person_id)
    token = await store.issue_link(account, "notices", LINK_LIFETIME)
    return f"{link_url(services, token)}?next={quote(page, safe='/')}"


async def _stop_link(services: Services, conn: Any, engagement_id: str, person_id: str) -> str:
    token = secrets.token_urlsafe(24)
    await conn.execute(
        "INSERT INTO engagements.notice_stops (token_sha256, engagement_id, person_id) VALUES (%s, %s, %s)",
        (hashlib.sha256(token.encode()).digest(), engagement_id, person_id),
    )
    return f"{services.web_url.rstrip('/')}/notices/stop/{token}"


def _message(
    services: Services, to: str, subject: str, text: str, html: str, message_id: str, stop: str
) -> Any:
    message = compose(
        sender=services.mail_from, to=to, subject=subject, text=text, html=html,
        message_id=message_id, domain=services.mail_domain(),
    )  # fmt: skip
    message["List-Unsubscribe"] = f"<{stop}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


async def deliver(services: Services, now: datetime | None = None) -> Delivered:
    """One round through the outbox: mails due now, digests whose day is over, lists by hand."""
    now = now or datetime.now(UTC)
    done = Delivered()
    engagements = _Engagements(services)
    smtp = services.smtp()
    async with services.writer_log() as event_log:
        store = IdentityStore(event_log.pool)
        async with event_log.pool.connection() as conn:
            due = [row[0] for row in await (await conn.execute(_DUE, (now, ROUND))).fetchall()]
        for notice in due:
            async with event_log.pool.connection() as conn, conn.transaction():
                row = await (await conn.execute(_CLAIM, (notice,))).fetchone()
                if row is None:
                    continue  # another worker has it, or it is done
                (
                    engagement_id,
                    person_id,
                    kind,
                    reference,
                    attempts,
                    contact,
                    name,
                    wants,
                    gone,
                ) = row
                if gone:
                    await _mark(conn, notice, "forgotten")
                    done.forgotten += 1
                    continue
                if wants == "none" or not contact or "@" not in contact:
                    await _mark(conn, notice, "by_hand")
                    done.by_hand += 1
                    continue
                if wants == "digest":
                    await conn.execute(
                        "UPDATE engagements.notices SET status = 'digest' WHERE notice_id = %s", (notice,)
                    )
                    continue
                if smtp is None:
                    await _failed(conn, [notice], attempts, "no mail server is set (COPRODUCE_SMTP_URL)", now)
                    done.failed += 1
                    break
                try:
                    about = await engagements.about(engagement_id, person_id, kind, reference)
                except NotFound:
                    await _mark(conn, notice, "forgotten")
                    continue
                words = written(about)
                link = await _sign_in_link(
                    services, store, engagement_id, person_id, page_for(engagement_id, kind, reference)
                )
                stop = await _stop_link(services, conn, engagement_id, person_id)
                text, html = body(name or "there", [(words, link)], stop)
                message = _message(services, contact, words.subject, text, html, f"notice-{notice}", stop)
                try:
                    await send(smtp, message)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    await _failed(conn, [notice], attempts, _error_name(exc), now)
                    done.failed += 1
                    done.errors.append(_error_name(exc))
                    break  # the server is not taking mail: try again after the back-off, not now
                await _mark(conn, notice, "sent", sent=True)
                done.sent += 1
        if smtp is not None and not done.errors:
            await _digests(services, store, engagements, smtp, now, done)
    if done.sent or done.digests or done.failed:
        log.info(
            "notices delivered",
            sent=done.sent,
            digests=done.digests,
            by_hand=done.by_hand,
            failed=done.failed,
        )
    return done


async def _digests(
    services: Services,
    store: IdentityStore,
    engagements: _Engagements,
    smtp: Any,
    now: datetime,
    done: Delivered,
) -> None:
    async with services.writer_log() as event_log:
        async with event_log.pool.connection() as conn:
            groups = await (await conn.execute(_DIGESTS_DUE, {"now": now})).fetchall()
        for engagement_id, person_id, day in groups:
            async with event_log.pool.connection() as conn, conn.transaction():
                rows = await (await conn.execute(_DIGEST_CLAIM, (engagement_id, person_id, day))).fetchall()
                if not rows:
                    continue
                contact, name = rows[0][5], rows[0][6]
                digest = uuid.uuid5(uuid.NAMESPACE_URL, f"coproduce:digest/{engagement_id}/{person_id}/{day}")
                items: list[tuple[Written, str]] = []
                for _notice, kind, reference, _occurred, _attempts, _contact, _name in rows:
                    about = await engagements.about(engagement_id, person_id, kind, reference)
                    items.append((written(about), ""))
                link = await _sign_in_link(services, store, engagement_id, person_id, "/me")
                items = [(words, link) for words, _ in items]
                stop = await _stop_link(services, conn, engagement_id, person_id)
                title = (await engagements.state(engagement_id)).require_plan().title
                subject = f"Your daily summary for {title}: {day:%-d %B %Y}"
                text, html = body(name or "there", items, stop)
                message = _message(services, contact, subject, text, html, f"digest-{digest}", stop)
                ids = [row[0] for row in rows]
                try:
                    await send(smtp, message)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    await _failed(conn, ids, max(r[4] for r in rows), _error_name(exc), now, status="digest")
                    done.failed += 1
                    done.errors.append(_error_name(exc))
                    return
                await conn.execute(
                    "UPDATE engagements.notices SET status = 'sent', sent_at = clock_timestamp(), digest_id = %s, "
                    "attempts = attempts + 1, last_error = NULL WHERE notice_id = ANY(%s)",
                    (digest, ids),
                )
                done.digests += 1


async def _mark(conn: Any, notice: uuid.UUID, status: str, *, sent: bool = False) -> None:
    await conn.execute(
        "UPDATE engagements.notices SET status = %s, last_error = NULL"
        + (", sent_at = clock_timestamp(), attempts = attempts + 1" if sent else "")
        + " WHERE notice_id = %s",
        (status, notice),
    )


async def _failed(
    conn: Any, notices: list[uuid.UUID], attempts: int, error: str, now: datetime, *, status: str = "pending"
) -> None:
    await conn.execute(
        "UPDATE engagements.notices SET attempts = attempts + 1, last_error = %s, next_attempt_at = %s, "
        "status = %s WHERE notice_id = ANY(%s)",
        (error, now + _backoff(attempts + 1), status, notices),
    )


async def keep_delivering(services: Services, stop: Any, every: float = EVERY) -> None:
    """A delivery round every ``every`` seconds until ``stop`` (an ``asyncio.Event``) is set."""
    while not stop.is_set():
        await deliver(services)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
