"""Each person's choice of how to be told, and the facilitator's view of what was sent.

The choice (``email``, ``digest`` or ``none``) is kept in the people register beside the person's
contact details, never in the log. ``stop`` serves the one-click link in every mail: its token, kept
only as a hash, turns email off for that person in that engagement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..errors import NotFound, UserError
from ..services import Services

Preference = Literal["email", "digest", "none"]
PREFERENCES = ("email", "digest", "none")


async def set_preference(services: Services, engagement_id: str, person_id: str, preference: str) -> None:
    """Record how ``person_id`` wants to be told: by email, in a daily digest, or not at all."""
    if preference not in PREFERENCES:
        raise UserError(f"'{preference}' is not a choice: say email, digest or none")
    async with services.writer_log() as log, log.pool.connection() as conn:
        changed = await conn.execute(
            "UPDATE engagements.people_register SET notices = %s, updated_at = now() "
            "WHERE engagement_id = %s AND person_id = %s AND forgotten_at IS NULL",
            (preference, engagement_id, person_id),
        )
        if changed.rowcount != 1:
            raise NotFound(
                f"there is no person '{person_id}' in engagement {engagement_id} (or they were forgotten); "
                f"`coproduce people list {engagement_id}` shows them"
            )


@dataclass(frozen=True)
class Stopped:
    engagement_id: str
    title: str | None


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def stop_target(services: Services, token: str) -> Stopped | None:
    """The engagement a stop link is for (None: no such link), without changing anything."""
    async with services.writer_log() as log, log.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT s.engagement_id, p.title FROM engagements.notice_stops s "
                "LEFT JOIN engagements.portfolio p USING (engagement_id) WHERE s.token_sha256 = %s",
                (_hash(token),),
            )
        ).fetchone()
    return Stopped(row[0], row[1]) if row else None


async def stop(services: Services, token: str) -> Stopped | None:
    """Turn email off for the person a stop link was made for (None: no such link)."""
    async with services.writer_log() as log, log.pool.connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                "SELECT engagement_id, person_id FROM engagements.notice_stops WHERE token_sha256 = %s",
                (_hash(token),),
            )
        ).fetchone()
        if row is None:
            return None
        await conn.execute(
            "UPDATE engagements.people_register SET notices = 'none', updated_at = now() "
            "WHERE engagement_id = %s AND person_id = %s",
            row,
        )
    return await stop_target(services, token)


@dataclass(frozen=True)
class SentNotice:
    """One notice as the facilitator sees it: no address, no words, only what happened."""

    person_id: str
    kind: str
    reference: str | None
    occurred_at: datetime
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


async def notices_of(services: Services, engagement_id: str, *, by_hand: bool = False) -> list[SentNotice]:
    """The notices of an engagement, oldest first (only those to tell by hand, with ``by_hand``)."""
    async with services.writer_log() as log, log.pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT person_id, kind, reference, occurred_at, status, attempts, last_error, sent_at "
                "FROM engagements.notices WHERE engagement_id = %s AND (NOT %s OR status = 'by_hand') "
                "ORDER BY position, person_id",
                (engagement_id, by_hand),
            )
        ).fetchall()
    return [SentNotice(*row) for row in rows]
