"""The people register: who each person id is, the data keys their text is sealed under, and forgetting.

Events name people by opaque id only. The names (and contact details) an operator writes in a plan go
here when the engagement starts or its plan is amended, and the workflow gets the plan with each name
replaced by the person's id (``domain.plan.plan_pseudonymised``), so neither the log nor Temporal
holds a name.

Each person (and the engagement itself, owner ``-``) has a random AES-256 data key, stored wrapped by
the master key (which lives outside the database, see ``workers.keys``; ``master_keys`` is the ring
of current and previous master keys, ``rotation`` re-wraps every data key under a new one). ``forget``
blanks a person's entry, gives them their number ("forgotten person #n") and deletes their key in one
transaction: their sealed text in the log can never be opened again, and later text of theirs is not
stored at all.

Tables: ``engagements.people_register`` and ``engagements.person_keys`` (application/migrations/0003,
the id of the master key that wraps each data key since 0007).
The writer role may use them; the auditor role may not read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from domain.people import Person
from domain.plan import Plan, plan_pseudonymised

from .master_keys import MASTER_KEY_BYTES, MasterKeys
from .sealing import new_data_key


def forgotten_stream(engagement_id: str) -> str:
    """The log stream that records who of an engagement was forgotten (``person_forgotten``)."""
    return f"people/{engagement_id}"  # "/" is in no engagement id, so no engagement can be this stream


_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('coproduce/people/' || %s, 0))"


@dataclass(frozen=True)
class RegisteredPerson:
    """One person as the register knows them (personal data: never log it)."""

    person_id: str
    display_name: str | None
    contact: str | None
    constituency: str | None


class RegisterError(RuntimeError):
    """The register cannot do what was asked (a clear sentence for the person who asked)."""


class PeopleRegister:
    """The register of one database, through a pool whose connections may use its tables.

    ``master_keys`` is the master key (bytes) or the ring (``MasterKeys``: the current key, which wraps
    every data key made here, and the previous keys, which still open data keys made before a rotation)."""

    def __init__(self, pool: AsyncConnectionPool, master_keys: bytes | MasterKeys) -> None:
        if isinstance(master_keys, bytes) and len(master_keys) != MASTER_KEY_BYTES:
            raise RegisterError(f"the master key must be {MASTER_KEY_BYTES} bytes, not {len(master_keys)}")
        self.pool = pool
        self.master_keys = MasterKeys.of(master_keys)

    # -- keys --------------------------------------------------------------------------------------
    async def keys_for(self, engagement_id: str, owners: Iterable[str]) -> dict[str, bytes | None]:
        """The data keys of ``owners``, made for those who have none yet; ``None`` for a person who
        was forgotten (their text must not be kept)."""
        wanted = sorted(set(owners))
        if not wanted:
            return {}
        async with self.pool.connection() as conn:
            found = await self._stored_keys(conn, engagement_id, wanted)
            missing = [owner for owner in wanted if owner not in found]
            if missing:
                async with conn.transaction():
                    await conn.execute(_LOCK, (engagement_id,))  # no key is made while one is forgotten
                    forgotten = await self._forgotten_among(conn, engagement_id, missing)
                    for owner in missing:
                        if owner in forgotten:
                            continue
                        wrapped, wrapped_by = self.master_keys.wrap(engagement_id, owner, new_data_key())
                        await conn.execute(
                            "INSERT INTO engagements.person_keys (engagement_id, owner, wrapped_key, "
                            "master_key_id) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            (engagement_id, owner, wrapped, wrapped_by),
                        )
                found = await self._stored_keys(conn, engagement_id, wanted)
        return {owner: found.get(owner) for owner in wanted}

    async def _stored_keys(
        self, conn: psycopg.AsyncConnection[Any], engagement_id: str, owners: list[str] | None
    ) -> dict[str, bytes]:
        query = (
            "SELECT owner, wrapped_key, master_key_id FROM engagements.person_keys WHERE engagement_id = %s"
        )
        params: tuple[Any, ...] = (engagement_id,)
        if owners is not None:
            query += " AND owner = ANY(%s)"
            params += (owners,)
        rows = await (await conn.execute(query, params)).fetchall()
        unwrap = self.master_keys.unwrap
        return {owner: unwrap(engagement_id, owner, bytes(wrapped), by) for owner, wrapped, by in rows}

    async def _forgotten_among(
        self, conn: psycopg.AsyncConnection[Any], engagement_id: str, people: list[str]
    ) -> set[str]:
        rows = await (
            await conn.execute(
                "SELECT person_id FROM engagements.people_register "
                "WHERE engagement_id = %s AND person_id = ANY(%s) AND forgotten_at IS NOT NULL",
                (engagement_id, people),
            )
        ).fetchall()
        return {row[0] for row in rows}

    async def all_keys(self, engagement_id: str) -> dict[str, bytes]:
        """Every data key the engagement still has (for readers allowed to see personal text)."""
        async with self.pool.connection() as conn:
            return await self._stored_keys(conn, engagement_id, None)

    # -- people ------------------------------------------------------------------------------------
    async def register(self, engagement_id: str, plan: Plan) -> Plan:
        """Record the plan's people (names, contact details, constituency) and return the plan as the
        workflow and the log get it: each name replaced by the person's id, no contact details. People
        already forgotten stay forgotten."""
        await self.add(engagement_id, *plan.people)
        return plan_pseudonymised(plan)

    async def add(self, engagement_id: str, *people: Person) -> None:
        """Record (or update) these people's names, contact details and constituency; people already
        forgotten stay forgotten."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_LOCK, (engagement_id,))
            for person in people:
                await conn.execute(
                    "INSERT INTO engagements.people_register "
                    "(engagement_id, person_id, display_name, contact, constituency) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (engagement_id, person_id) DO UPDATE SET display_name = excluded.display_name, "
                    "contact = excluded.contact, constituency = excluded.constituency, updated_at = now() "
                    "WHERE engagements.people_register.forgotten_at IS NULL",
                    (engagement_id, person.id, person.display_name, person.contact, person.constituency),
                )

    async def people(self, engagement_id: str) -> dict[str, RegisteredPerson]:
        """Person id -> name, contact and constituency, for people not forgotten."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT person_id, display_name, contact, constituency FROM engagements.people_register "
                    "WHERE engagement_id = %s AND forgotten_at IS NULL",
                    (engagement_id,),
                )
            ).fetchall()
        return {row[0]: RegisteredPerson(*row) for row in rows}

    async def names(self, engagement_id: str) -> dict[str, str]:
        """Person id -> name, for people not forgotten."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT person_id, display_name FROM engagements.people_register "
                    "WHERE engagement_id = %s AND forgotten_at IS NULL",
                    (engagement_id,),
                )
            ).fetchall()
        return {person_id: name for person_id, name in rows if name}

    async def forget(self, engagement_id: str, person_id: str) -> tuple[int, datetime, bool]:
        """Forget a person: blank their entry, delete their data key, give them their number.
        Returns (number, when, newly): ``newly`` is False when they had been forgotten already."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_LOCK, (engagement_id,))
            row = await (
                await conn.execute(
                    "SELECT forgotten_number, forgotten_at FROM engagements.people_register "
                    "WHERE engagement_id = %s AND person_id = %s",
                    (engagement_id, person_id),
                )
            ).fetchone()
            if row is not None and row[0] is not None:
                return row[0], row[1], False
            number_row = await (
                await conn.execute(
                    "SELECT coalesce(max(forgotten_number), 0) + 1 FROM engagements.people_register "
                    "WHERE engagement_id = %s",
                    (engagement_id,),
                )
            ).fetchone()
            assert number_row is not None
            number = number_row[0]
            done = await (
                await conn.execute(
                    "INSERT INTO engagements.people_register (engagement_id, person_id, forgotten_number, "
                    "forgotten_at) VALUES (%s, %s, %s, now()) ON CONFLICT (engagement_id, person_id) DO UPDATE "
                    "SET display_name = NULL, contact = NULL, forgotten_number = excluded.forgotten_number, "
                    "forgotten_at = excluded.forgotten_at, updated_at = now() RETURNING forgotten_at",
                    (engagement_id, person_id, number),
                )
            ).fetchone()
            await conn.execute(
                "DELETE FROM engagements.person_keys WHERE engagement_id = %s AND owner = %s",
                (engagement_id, person_id),
            )
        assert done is not None
        return number, done[0], True
