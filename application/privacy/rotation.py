"""Re-wrapping every data key of the people register under a new master key, online and resumable.

A data key never changes (the text sealed under it in the log stays as it is, byte for byte); only the
wrapping of each, in ``engagements.person_keys``, does: opened with the key that wraps it now (a
previous key of the ring), wrapped again with the ring's current key.

- **Online**: engagements keep running. Each batch locks only its own rows (``FOR UPDATE``), in key
  order, for one short transaction; processes that already have the new ring make new keys under the
  new key and open keys under either.
- **Resumable**: a batch re-wraps its keys and moves the rotation's cursor
  (``engagements.master_key_rotations``) in one transaction, so a rotation cut short at any instant
  leaves every key wrapped by exactly one key of the ring, and a rerun continues after the cursor.
- **Complete**: after the pass in key order, keys still wrapped by another key (made meanwhile by a
  process that still had the old key as its current one) are swept from the start, until none is left;
  only then is the rotation marked finished.
- **One at a time**: a rotation holds a session advisory lock for its whole run; a second one is
  refused (a killed one's lock goes with its connection).
- **Checked first**: before anything is written, every master key id in use must be in the ring and
  one key of each must open, so a wrong or missing old key changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .master_keys import MasterKeyError, MasterKeys

MAX_SWEEPS = 10  # passes over keys made under an old key meanwhile, before giving up on a stray process
_ONE_AT_A_TIME = "hashtextextended('coproduce/master-key-rotation', 0)"  # a session advisory lock's key


@dataclass(frozen=True)
class WrappedBy:
    """How many data keys one master key wraps, as this process sees it."""

    key_id: str | None  # None: made before key ids were recorded (migration 0007)
    data_keys: int
    role: str  # "current", "previous", "unknown" (not in this process's ring), "not recorded"


@dataclass(frozen=True)
class Rotation:
    """One rotation's progress (``engagements.master_key_rotations``)."""

    rotation_id: int
    to_key_id: str
    rewrapped: int
    batches: int
    started_at: datetime
    finished_at: datetime | None
    resumed: bool = False  # this run continued a rotation cut short

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True)
class KeyStatus:
    """Which master key wraps how many data keys, and the latest rotation."""

    current_key_id: str
    previous_key_ids: list[str]
    wrapped_by: list[WrappedBy]
    latest_rotation: Rotation | None

    @property
    def not_current(self) -> int:
        """Data keys wrapped by anything but the current key (what a rotation has left to do)."""
        return sum(w.data_keys for w in self.wrapped_by if w.key_id != self.current_key_id)


_ROTATION_COLUMNS = "rotation_id, to_key_id, rewrapped, batches, started_at, finished_at"


def _rotation(row: Any, resumed: bool = False) -> Rotation:
    return Rotation(*row, resumed=resumed)


async def status(pool: AsyncConnectionPool, keys: MasterKeys) -> KeyStatus:
    """Which master key wraps how many data keys (nothing is opened or written)."""
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT master_key_id, count(*) FROM engagements.person_keys GROUP BY 1 "
                "ORDER BY count(*) DESC, master_key_id"
            )
        ).fetchall()
        latest = await (
            await conn.execute(
                f"SELECT {_ROTATION_COLUMNS} FROM engagements.master_key_rotations "
                "ORDER BY rotation_id DESC LIMIT 1"
            )
        ).fetchone()
    ids = keys.ids

    def role(key_id: str | None) -> str:
        if key_id is None:
            return "not recorded"
        if key_id == keys.current_id:
            return "current"
        return "previous" if key_id in ids else "unknown"

    return KeyStatus(
        current_key_id=keys.current_id,
        previous_key_ids=ids[1:],
        wrapped_by=[WrappedBy(key_id, count, role(key_id)) for key_id, count in rows],
        latest_rotation=_rotation(latest) if latest else None,
    )


async def check(pool: AsyncConnectionPool, keys: MasterKeys) -> None:
    """Refuse (``MasterKeyError``) unless this ring opens every data key: each master key id in use is in
    it, and one data key of each (and of those with no id) opens. Writes nothing."""
    async with pool.connection() as conn:
        await _check(conn, keys)


async def _check(conn: psycopg.AsyncConnection[Any], keys: MasterKeys) -> None:
    rows = await (
        await conn.execute(
            "SELECT DISTINCT ON (master_key_id) master_key_id, engagement_id, owner, wrapped_key "
            "FROM engagements.person_keys WHERE master_key_id IS DISTINCT FROM %s "
            "ORDER BY master_key_id, engagement_id, owner",
            (keys.current_id,),
        )
    ).fetchall()
    unknown = sorted(key_id for key_id, *_ in rows if not keys.opens(key_id))
    if unknown:
        raise MasterKeyError(
            f"some data keys are wrapped by master key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}, "
            "which this process does not have: put the old key in COPRODUCE_PREVIOUS_MASTER_KEYS and run "
            "again (nothing was changed)"
        )
    for key_id, engagement_id, owner, wrapped in rows:
        try:
            keys.unwrap(engagement_id, owner, bytes(wrapped), key_id)
        except MasterKeyError:
            which = (
                "the data keys made before key ids were recorded"
                if key_id is None
                else f"the data key of {owner} in engagement {engagement_id} (master key {key_id})"
            )
            raise MasterKeyError(
                f"no master key of this process opens {which}: put the master key they were made with in "
                "COPRODUCE_PREVIOUS_MASTER_KEYS and run again (nothing was changed)"
            ) from None


async def _start(
    conn: psycopg.AsyncConnection[Any], keys: MasterKeys
) -> tuple[Rotation, tuple[str, str] | None]:
    """The running rotation to the current key (cut short earlier), else a new one; a rotation to
    another key cut short is closed (this one re-wraps its keys too)."""
    async with conn.transaction():
        row = await (
            await conn.execute(
                f"SELECT {_ROTATION_COLUMNS}, after_engagement, after_owner "
                "FROM engagements.master_key_rotations WHERE finished_at IS NULL FOR UPDATE"
            )
        ).fetchone()
        if row is not None and row[1] == keys.current_id:
            cursor = (row[6], row[7]) if row[6] is not None else None
            return _rotation(row[:6], resumed=True), cursor
        if row is not None:
            await conn.execute(
                "UPDATE engagements.master_key_rotations SET finished_at = now(), updated_at = now() "
                "WHERE rotation_id = %s",
                (row[0],),
            )
        new = await (
            await conn.execute(
                "INSERT INTO engagements.master_key_rotations (to_key_id) VALUES (%s) "
                f"RETURNING {_ROTATION_COLUMNS}",
                (keys.current_id,),
            )
        ).fetchone()
        assert new is not None
        return _rotation(new), None


async def rotate(
    pool: AsyncConnectionPool,
    keys: MasterKeys,
    *,
    batch_size: int = 500,
    pause: float = 0.0,
    on_batch: Callable[[Rotation, int], None] | None = None,
) -> Rotation:
    """Re-wrap every data key not wrapped by ``keys.current`` under it, ``batch_size`` keys per
    transaction, sleeping ``pause`` seconds between batches (to leave the database to others);
    ``on_batch(progress, keys in the batch)`` after each. Continues a rotation to the same key cut short before."""
    if batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    async with pool.connection() as conn:
        row = await (await conn.execute(f"SELECT pg_try_advisory_lock({_ONE_AT_A_TIME})")).fetchone()
        if not (row and row[0]):
            raise MasterKeyError(
                "another `coproduce keys rotate-master` is running on this database; let it finish "
                "(or stop it), then run this again to continue"
            )
        try:
            await _check(conn, keys)
            return await _rotate(conn, keys, batch_size, pause, on_batch)
        finally:
            await conn.execute(f"SELECT pg_advisory_unlock({_ONE_AT_A_TIME})")


async def _rotate(
    conn: psycopg.AsyncConnection[Any],
    keys: MasterKeys,
    batch_size: int,
    pause: float,
    on_batch: Callable[[Rotation, int], None] | None,
) -> Rotation:
    current = keys.current_id
    rotation, cursor = await _start(conn, keys)
    resumed, sweeps = rotation.resumed, 0
    while True:
        async with conn.transaction():
            query = (
                "SELECT engagement_id, owner, wrapped_key, master_key_id FROM engagements.person_keys "
                "WHERE master_key_id IS DISTINCT FROM %s"
            )
            params: list[Any] = [current]
            if cursor is not None:
                query += " AND (engagement_id, owner) > (%s, %s)"
                params += list(cursor)
            query += " ORDER BY engagement_id, owner LIMIT %s FOR UPDATE"
            rows = await (await conn.execute(query, [*params, batch_size])).fetchall()
            if not rows:
                left = await (
                    await conn.execute(
                        "SELECT count(*) FROM engagements.person_keys WHERE master_key_id IS DISTINCT FROM %s",
                        (current,),
                    )
                ).fetchone()
                if left and left[0] and sweeps < MAX_SWEEPS:  # made under an old key meanwhile
                    cursor, sweeps = None, sweeps + 1
                    continue
                if left and left[0]:
                    raise MasterKeyError(
                        f"{left[0]} data keys keep being made under an old master key: some process "
                        "still has it as COPRODUCE_MASTER_KEY; restart it with the new key and run "
                        "this again to finish"
                    )
                done = await (
                    await conn.execute(
                        "UPDATE engagements.master_key_rotations SET finished_at = now(), updated_at = now() "
                        f"WHERE rotation_id = %s RETURNING {_ROTATION_COLUMNS}",
                        (rotation.rotation_id,),
                    )
                ).fetchone()
                return _rotation(done, resumed=resumed)
            engagements, owners, wrapped = [], [], []
            for engagement_id, owner, box, by in rows:
                data_key = keys.unwrap(engagement_id, owner, bytes(box), by)
                engagements.append(engagement_id)
                owners.append(owner)
                wrapped.append(keys.wrap(engagement_id, owner, data_key)[0])
            await conn.execute(
                "UPDATE engagements.person_keys AS k SET wrapped_key = u.wrapped, master_key_id = %s "
                "FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS u(engagement_id, owner, wrapped) "
                "WHERE k.engagement_id = u.engagement_id AND k.owner = u.owner",
                (current, engagements, owners, wrapped),
            )
            cursor = (engagements[-1], owners[-1])
            row = await (
                await conn.execute(
                    "UPDATE engagements.master_key_rotations SET rewrapped = rewrapped + %s, "
                    "batches = batches + 1, after_engagement = %s, after_owner = %s, updated_at = now() "
                    f"WHERE rotation_id = %s RETURNING {_ROTATION_COLUMNS}",
                    (len(rows), cursor[0], cursor[1], rotation.rotation_id),
                )
            ).fetchone()
            rotation = _rotation(row, resumed=resumed)
        if on_batch is not None:
            on_batch(rotation, len(rows))
        if pause > 0:
            await asyncio.sleep(pause)
