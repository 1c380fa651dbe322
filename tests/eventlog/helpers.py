"""Small helpers shared by the event log tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg

from eventlog import NewEvent

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def event(n: int = 0, type: str = "session_held", **payload: object) -> NewEvent:
    """A plausible event; ``n`` makes payloads (and times) differ."""
    return NewEvent(
        type=type,
        payload={"session": f"s-{n}", "attendees": n % 7, **payload},
        occurred_at=T0 + timedelta(days=n),
        actor="p-facilitator",
        correlation_id="engagement-1",
    )


@contextmanager
def connect_as(url: str, role: str | None) -> Iterator[psycopg.Connection]:
    """A connection acting with ``role``'s rights only (SET ROLE), autocommit."""
    with psycopg.connect(url, autocommit=True) as conn:
        if role:
            conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        yield conn
