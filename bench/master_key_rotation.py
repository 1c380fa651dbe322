"""Benchmark: how fast `coproduce keys rotate-master` re-wraps data keys, against a bare batched update.

Run from the repository root: `python -m bench.master_key_rotation [--keys N] [--batch-sizes 100,500,2000]`.

For each batch size, the people register is filled with `--keys` data keys wrapped by an old master
key, then:

- **rotate**: `application.privacy.rotation.rotate` re-wraps them all under a new key, in process (the
  check that every key opens, then per batch: `SELECT ... FOR UPDATE`, unwrap and wrap each key, one
  `UPDATE ... FROM unnest(...)`, the progress row), in keys per second;
- **bare**: the same batches with no cryptography and no progress row (`SELECT ... FOR UPDATE` and the
  same `UPDATE`, writing the stored bytes back), on the same table; `ratio` = bare seconds / rotate
  seconds, the share of the bare database work's speed that rotation keeps;
- **command**: the real `coproduce keys rotate-master --batch-size N --json` as a subprocess, its own
  `seconds` (from parsing its options to its answer: connecting, checking, rotating; not Python's start).

On the embedded PostgreSQL with fsync on (or `COPRODUCE_DATABASE_URL`, an administrator's URL). The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from application.privacy import rotation
from application.privacy.master_keys import MasterKeys
from application.privacy.sealing import new_data_key
from eventlog import EventLog
from workers.database import scratch_database
from workers.embedded_postgres import EmbeddedPostgres
from workers.keys import new_key_text


def fill(url: str, old: MasterKeys, count: int) -> None:
    """``count`` data keys wrapped by ``old`` (100 engagements), replacing whatever the table held."""
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE engagements.person_keys, engagements.master_key_rotations")
        with cur.copy(
            "COPY engagements.person_keys (engagement_id, owner, wrapped_key, master_key_id) FROM STDIN"
        ) as copy:
            for i in range(count):
                engagement, owner = f"e{i % 100:03d}", f"p{i:06d}"
                wrapped, by = old.wrap(engagement, owner, new_data_key())
                copy.write_row((engagement, owner, wrapped, by))
        cur.execute("VACUUM ANALYZE engagements.person_keys")


async def bare(url: str, batch_size: int) -> float:
    """Seconds for the same batches with no cryptography: read each batch for update, write it back."""
    log = await EventLog.open(url, min_size=1, max_size=1)
    try:
        started = time.perf_counter()
        cursor: tuple[str, str] | None = None
        async with log.pool.connection() as conn:
            while True:
                async with conn.transaction():
                    query = "SELECT engagement_id, owner, wrapped_key FROM engagements.person_keys"
                    params: list[object] = []
                    if cursor:
                        query += " WHERE (engagement_id, owner) > (%s, %s)"
                        params += list(cursor)
                    query += " ORDER BY engagement_id, owner LIMIT %s FOR UPDATE"
                    rows = await (await conn.execute(query, [*params, batch_size])).fetchall()
                    if not rows:
                        return time.perf_counter() - started
                    await conn.execute(
                        "UPDATE engagements.person_keys AS k SET wrapped_key = u.wrapped, master_key_id = 'bare' "
                        "FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS u(engagement_id, owner, wrapped) "
                        "WHERE k.engagement_id = u.engagement_id AND k.owner = u.owner",
                        ([r[0] for r in rows], [r[1] for r in rows], [bytes(r[2]) for r in rows]),
                    )
                    cursor = (rows[-1][0], rows[-1][1])
    finally:
        await log.close()


async def rotate(url: str, new: MasterKeys, batch_size: int) -> float:
    log = await EventLog.open(url, min_size=1, max_size=1)
    try:
        started = time.perf_counter()
        done = await rotation.rotate(log.pool, new, batch_size=batch_size)
        seconds = time.perf_counter() - started
    finally:
        await log.close()
    assert done.finished
    return seconds


def command(url: str, old: str, new: str, batch_size: int, state_dir: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_")}
    env |= {
        "COPRODUCE_DATABASE_URL": url, "COPRODUCE_STATE_DIR": str(state_dir),
        "COPRODUCE_MASTER_KEY": new, "COPRODUCE_PREVIOUS_MASTER_KEYS": old,
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "coproduce", "keys", "rotate-master", "--batch-size", str(batch_size), "--json"],
        env=env, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return float(json.loads(done.stdout)["seconds"])


def measure(url: str, count: int, batch_sizes: list[int], state_dir: Path) -> dict[str, object]:
    old_text, new_text = new_key_text(), new_key_text()
    old = MasterKeys(base64.b64decode(old_text))
    new = MasterKeys(base64.b64decode(new_text), (old.current,))
    result: dict[str, object] = {"keys": count}
    for size in batch_sizes:
        fill(url, old, count)
        bare_s = asyncio.run(bare(url, size))
        fill(url, old, count)
        rotate_s = asyncio.run(rotate(url, new, size))
        fill(url, old, count)
        command_s = command(url, old_text, new_text, size, state_dir)
        result |= {
            f"batch_{size}_rotate_keys_per_s": round(count / rotate_s),
            f"batch_{size}_bare_keys_per_s": round(count / bare_s),
            f"batch_{size}_ratio": round(bare_s / rotate_s, 3),
            f"batch_{size}_command_keys_per_s": round(count / command_s),
        }
    return result


def admin_server(scratch: Path) -> tuple[str, EmbeddedPostgres | None]:
    """An administrator's URL: ``COPRODUCE_DATABASE_URL``, else an embedded server started in ``scratch``."""
    admin = os.environ.get("COPRODUCE_DATABASE_URL")
    if admin:
        return admin, None
    server = EmbeddedPostgres(scratch / "postgres", fsync=True)
    server.ensure_started()
    return server.url(), server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--batch-sizes", default="100,500,2000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    result: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cpus"}
    with tempfile.TemporaryDirectory() as scratch:
        admin, server = admin_server(Path(scratch))
        try:
            with scratch_database(admin, migrated=True, prefix="bench_rotation") as url:
                result |= measure(url, args.keys, sizes, Path(scratch) / "state")
        finally:
            if server is not None:
                server.stop()
    for key, value in result.items():
        print(f"{key:>32}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
