"""What a reader of the log may see of personal data, and how forgotten people are shown.

The log holds personal text sealed (``application.privacy.sealing``). A reader opens it only with the data
keys of the people register, which needs both the master key (this installation's setting or key file)
and a database login allowed to read the register (the writer role; an administrator). An auditor's
login may not, so auditors see ``(withheld)``; text whose key was destroyed shows ``(erased)``.

Forgotten people are known from the log itself (``person_forgotten`` records in the stream
``people/<engagement id>``), so every reader, auditors too, shows them as "forgotten person #n".
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from application.privacy.master_keys import MasterKeyError, MasterKeys
from application.privacy.register import PeopleRegister, RegisterError, forgotten_stream
from application.privacy.sealing import open_sealed
from domain.events.people import PersonForgotten
from eventlog import EventLog, RecordedEvent, Verifier
from eventlog.writers import check_writer, is_signed


@dataclass(slots=True)
class Disclosure:
    """How one engagement is shown to one reader."""

    keys: dict[str, bytes] | None = None  # None: this reader may not see personal text
    forgotten: dict[str, PersonForgotten] = field(default_factory=dict)  # person id -> the record

    def payload(self, record: RecordedEvent) -> dict[str, Any]:
        """The record's payload with its sealed text opened, erased or withheld (as it is when it holds
        none)."""
        return open_sealed(record.type, record.payload, record.event_id, self.keys, set(self.forgotten))

    @property
    def labels(self) -> dict[str, str]:
        """Person id -> how to show them, for the forgotten."""
        return {person_id: f"forgotten person #{f.number}" for person_id, f in self.forgotten.items()}


def relabel(text: str, labels: Mapping[str, str]) -> str:
    """``text`` with each person id in ``labels`` (as a whole word) replaced by its label."""
    if not labels or not text:
        return text
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(map(re.escape, sorted(labels, key=len, reverse=True))) + r")(?![\w-])"
    )
    return pattern.sub(lambda match: labels[match.group(1)], text)


async def forgotten_people(
    log: EventLog, engagement_id: str, writers: Mapping[str, Verifier] | None = None
) -> dict[str, PersonForgotten]:
    """The people of an engagement who were forgotten, from the log (readable by auditors). With
    ``writers``, only records the installation's writers signed count: a forged one labels nobody."""
    found: dict[str, PersonForgotten] = {}
    for record in await log.read_stream(forgotten_stream(engagement_id)):
        if (
            writers is not None
            and is_signed(record.entry)
            and check_writer(record.entry, writers) is not None
        ):
            continue
        if (
            writers is not None
            and not is_signed(record.entry)
            and record.position >= await _first_signed(log)
        ):
            continue
        if record.type == PersonForgotten.TYPE:
            payload = {**record.payload, "reason": "(not shown)"}
            forgotten = PersonForgotten.model_validate(payload)
            found[forgotten.person_id] = forgotten
    return found


async def register_keys(
    database_url: str, engagement_id: str, master_key: bytes | MasterKeys | None
) -> dict[str, bytes] | None:
    """The engagement's data keys when this process has the master key and its login may read the
    register; None otherwise (the reader sees ``(withheld)``)."""
    if master_key is None:
        return None
    try:
        log = await EventLog.open(database_url, role=None, min_size=1, max_size=1)
    except psycopg.Error:
        return None
    try:
        return await PeopleRegister(log.pool, master_key).all_keys(engagement_id)
    except (
        psycopg.errors.InsufficientPrivilege,
        psycopg.errors.UndefinedTable,
        RegisterError,
        MasterKeyError,
    ):
        return None
    finally:
        await log.close()


async def disclosure(
    log: EventLog,
    database_url: str,
    engagement_id: str,
    master_key: bytes | MasterKeys | None,
    *,
    personal_text: bool = True,
    writers: Mapping[str, Verifier] | None = None,
) -> Disclosure:
    """How ``engagement_id`` is shown to this reader (``master_key``: this machine's, None when it has
    none); ``personal_text=False`` withholds the text even from a reader who could open it (a redacted
    export); ``writers``: the trusted writer keys, when known (forged forgettings are ignored)."""
    forgotten, keys = await asyncio.gather(
        forgotten_people(log, engagement_id, writers),
        register_keys(database_url, engagement_id, master_key) if personal_text else _none(),
    )
    return Disclosure(keys=keys, forgotten=forgotten)


async def _none() -> None:
    return None


async def _first_signed(log: EventLog) -> int:
    """The position of the log's first signed event (events before it were written before writers
    signed); one past the end when there is none."""
    async with log.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT min(position) FROM eventlog.audit_events WHERE position(%s in entry) > 0",
                (b'"writer":{"key":',),
            )
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 2**62
