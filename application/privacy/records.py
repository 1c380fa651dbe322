"""The events as the log stores them: personal text sealed under its owners' keys, ready to append.

One function, ``sealed_events``, makes them, for every writer of the log alike: the workflow's append
activity (an engagement's events) and the forgetting use case (a ``person_forgotten`` record in the
stream ``people/<engagement id>``). Sealing is deterministic, so a retried append writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventlog import NewEvent
from workflows.contracts import EventToAppend

from .register import PeopleRegister
from .sealing import owners, seal, seal_text

ENTERED_REASON = "metadata.entered.reason"  # where an assisted input's reason is, for sealing


async def sealed_events(
    register: PeopleRegister,
    engagement_id: str,
    records: Sequence[EventToAppend],
    metadata: Mapping[str, Any] | None = None,
) -> list[NewEvent]:
    """``records`` of ``engagement_id`` as log events: each payload's personal text sealed under the data
    key of the person it belongs to (erased when they were forgotten), ``metadata`` added to each."""
    needed = set().union(*(owners(r.type, r.payload) for r in records))
    needed |= {r.actor for r in records if r.entered and r.entered.get("reason") and r.actor}
    keys = await register.keys_for(engagement_id, needed) if needed else {}
    return [
        NewEvent(
            type=record.type,
            payload=seal(record.type, record.payload, record.event_id, keys),
            event_id=record.event_id,
            schema_version=record.schema_version,
            occurred_at=record.occurred_at,
            actor=record.actor,
            causation_id=record.causation_id,
            correlation_id=record.correlation_id,
            metadata={**(metadata or {}), **_entered(record, keys)},
        )
        for record in records
    ]


def _entered(record: EventToAppend, keys: Mapping[str, bytes | None]) -> dict[str, Any]:
    """How the input reached the engagement, for the metadata: an assisted input's reason sealed under
    the key of the person it was entered for (it is about them)."""
    if not record.entered:
        return {}
    entered = dict(record.entered)
    reason = entered.get("reason")
    if isinstance(reason, str) and record.actor:
        entered["reason"] = seal_text(
            reason, keys.get(record.actor), record.event_id, ENTERED_REASON, record.actor
        )
    return {"entered": entered}
