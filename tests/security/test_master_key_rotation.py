"""`coproduce keys rotate-master` re-wraps every data key under a new master key: online, resumable after a
crash, never touching the log; bad keys change nothing.

A real subprocess, SIGKILLed half-way through; keys are made meanwhile (by a process with the new keys,
and by one that still has the old key as its current one); the rerun finishes all of them, and every
sealed note in the log opens with the new key alone while the events table stays byte for byte the same.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import psycopg
from typer.testing import CliRunner

from application.privacy.master_keys import MasterKeys, key_id
from application.privacy.records import sealed_events
from application.privacy.register import PeopleRegister
from application.privacy.sealing import open_text
from coproduce.cli.app import app
from eventlog import EventLog
from tests.session_keys import SESSION_KEYS
from workers.keys import new_key_text
from workflows.contracts import EventToAppend

COPRODUCE = [sys.executable, "-m", "coproduce"]
OLD, NEW = new_key_text(), new_key_text()
ENGAGEMENTS, PEOPLE = 12, 10  # 120 data keys


def raw(key: str) -> bytes:
    return base64.b64decode(key)


def environment(state_dir: Path, url: str, **keys: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    env.pop("COPRODUCE_MASTER_KEY", None)
    return {**env, "COPRODUCE_DATABASE_URL": url, "COPRODUCE_STATE_DIR": str(state_dir), **keys}


def coproduce(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COPRODUCE, *args], env=env, capture_output=True, text=True, timeout=120)


async def seed(url: str) -> dict[str, str]:
    """120 data keys under the old master key, each with a note sealed under it in the log; returns
    event id -> the note's text."""
    notes: dict[str, str] = {}
    log = await EventLog.open(url, max_size=2)
    try:
        register = PeopleRegister(log.pool, raw(OLD))
        for e in range(ENGAGEMENTS):
            engagement = f"rot-{e:02d}"
            records = []
            for p in range(PEOPLE):
                text = f"Note {p} of {engagement}: my carer knows my number."
                record = EventToAppend(
                    event_id=uuid4(), type="check_in_recorded", schema_version=2,
                    payload={"person_id": f"p{p:02d}", "comfort": 3, "note": text},
                    occurred_at=datetime.now(UTC), actor=f"p{p:02d}",
                )  # fmt: skip
                records.append(record)
                notes[str(record.event_id)] = text
            await log.append(engagement, await sealed_events(register, engagement, records))
    finally:
        await log.close()
    return notes


def events_digest(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) || ':' || md5(string_agg(e::text, '|' ORDER BY position)) FROM eventlog.events e"
        ).fetchone()
    assert row is not None
    return str(row[0])


def keys_by_master(url: str) -> dict[str | None, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT master_key_id, count(*) FROM engagements.person_keys GROUP BY 1"
        ).fetchall()
    return dict(rows)


async def make_key(url: str, keys: bytes | MasterKeys, engagement: str, owner: str) -> None:
    log = await EventLog.open(url, max_size=1)
    try:
        await PeopleRegister(log.pool, keys).keys_for(engagement, [owner])
    finally:
        await log.close()


async def opened_notes(url: str, keys: MasterKeys) -> dict[str, str]:
    log = await EventLog.open(url, max_size=2)
    try:
        register = PeopleRegister(log.pool, keys)
        opened = {}
        async with log.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT stream_id, event_id, payload->>'note' FROM eventlog.events WHERE event_type = 'check_in_recorded'"
                )
            ).fetchall()
        by_engagement = {e: await register.all_keys(e) for e in {row[0] for row in rows}}
        for engagement, event_id, note in rows:
            opened[str(event_id)] = open_text(note, by_engagement[engagement], event_id, "note")
        return opened
    finally:
        await log.close()


async def test_a_rotation_killed_half_way_finishes_on_rerun_and_never_touches_the_log(
    database_url: str, tmp_path: Path
) -> None:
    notes = await seed(database_url)
    before = events_digest(database_url)
    old_id, new_id = key_id(raw(OLD)), key_id(raw(NEW))
    assert keys_by_master(database_url) == {old_id: ENGAGEMENTS * PEOPLE}
    env = environment(tmp_path, database_url, COPRODUCE_MASTER_KEY=NEW, COPRODUCE_PREVIOUS_MASTER_KEYS=OLD)

    rotating = subprocess.Popen(
        [*COPRODUCE, "keys", "rotate-master", "--batch-size", "10", "--pause", "0.25", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while keys_by_master(database_url).get(new_id, 0) < ENGAGEMENTS * PEOPLE // 2:
        assert rotating.poll() is None, rotating.communicate()
        assert time.monotonic() < deadline, "the rotation made no progress"
        time.sleep(0.02)
    rotating.send_signal(signal.SIGKILL)
    rotating.wait()
    half = keys_by_master(database_url)
    assert 60 <= half[new_id] < 120 and half[old_id] == 120 - half[new_id], half  # whole batches only

    # In the gap: a process with the new keys makes a key under the new master key; one that still has
    # the old key as its current one makes one under the old key, before the cursor (the rerun's sweep).
    await make_key(database_url, MasterKeys(raw(NEW), (raw(OLD),)), "rot-new", "n01")
    await make_key(database_url, raw(OLD), "rot-00", "late")
    assert keys_by_master(database_url)[new_id] == half[new_id] + 1

    rerun = coproduce("keys", "rotate-master", "--batch-size", "10", "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    done = json.loads(rerun.stdout)
    assert done["resumed"] and done["finished"] and done["to_key_id"] == new_id
    assert done["rewrapped"] == 121 and done["rewrapped_now"] == 121 - half[new_id]
    assert keys_by_master(database_url) == {new_id: 122}

    status = coproduce("keys", "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["wrapped_by"] == [{"key_id": new_id, "data_keys": 122, "role": "current"}]
    assert shown["not_under_current_key"] == 0 and shown["latest_rotation"]["finished"]

    assert events_digest(database_url) == before  # no event re-written
    assert await opened_notes(database_url, MasterKeys(raw(NEW))) == notes  # the new key alone opens all
    again = coproduce("keys", "rotate-master", "--json", env=env)  # nothing left: a no-op
    assert again.returncode == 0 and json.loads(again.stdout)["rewrapped_now"] == 0


def cli(state_dir: Path, url: str, *args: str, **keys: str) -> tuple[int, str]:
    """The command in this process (the bad cases end before doing anything, so no subprocess is needed):
    its exit status and what it printed on stderr."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("COPRODUCE_")}
    env = {**unset, **environment(state_dir, url, **keys)}
    env = {k: v for k, v in env.items() if k.startswith("COPRODUCE_")}
    done = CliRunner().invoke(app, list(args), env=env)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.stderr


def test_bad_keys_change_nothing(database_url: str, tmp_path: Path) -> None:
    asyncio.run(seed(database_url))
    with psycopg.connect(database_url) as conn:  # keys made before migration 0007 recorded no key id
        conn.execute("UPDATE engagements.person_keys SET master_key_id = NULL WHERE engagement_id = 'rot-00'")
    before = keys_by_master(database_url), events_digest(database_url)
    short = base64.b64encode(os.urandom(16)).decode()
    wrong_old = {"COPRODUCE_MASTER_KEY": NEW, "COPRODUCE_PREVIOUS_MASTER_KEYS": new_key_text()}
    cases = {
        "no old key": ({"COPRODUCE_MASTER_KEY": NEW}, "COPRODUCE_PREVIOUS_MASTER_KEYS"),
        "wrong old key": (wrong_old, "COPRODUCE_PREVIOUS_MASTER_KEYS"),
        "short old key": (
            {"COPRODUCE_MASTER_KEY": NEW, "COPRODUCE_PREVIOUS_MASTER_KEYS": short},
            "must be 32 bytes",
        ),
        "not base64": (
            {"COPRODUCE_MASTER_KEY": "not a key!", "COPRODUCE_PREVIOUS_MASTER_KEYS": OLD},
            "base64",
        ),
        "no master key": ({"COPRODUCE_PREVIOUS_MASTER_KEYS": OLD}, "no master key"),
    }
    for case, (keys, words) in cases.items():
        code, message = cli(tmp_path / "state", database_url, "keys", "rotate-master", **keys)
        message = message.strip()
        assert code == 1 and message.startswith("error: ") and words in message, (case, message)
        assert "\n" not in message and "Traceback" not in message, (case, message)
    good = {"COPRODUCE_MASTER_KEY": NEW, "COPRODUCE_PREVIOUS_MASTER_KEYS": OLD}
    code, message = cli(tmp_path, database_url, "keys", "rotate-master", "--batch-size", "0", **good)
    assert code == 1 and "--batch-size" in message
    with psycopg.connect(database_url) as holder:  # another rotation holds the lock
        holder.execute("SELECT pg_advisory_lock(hashtextextended('coproduce/master-key-rotation', 0))")
        code, message = cli(tmp_path, database_url, "keys", "rotate-master", **good)
    assert code == 1 and "another `coproduce keys rotate-master` is running" in message
    assert (keys_by_master(database_url), events_digest(database_url)) == before

    with psycopg.connect(database_url) as conn:  # every key from before 0007: the wrong key cannot open them
        conn.execute("UPDATE engagements.person_keys SET master_key_id = NULL")
    code, message = cli(tmp_path, database_url, "keys", "rotate-master", **wrong_old)
    assert code == 1 and "opens the data keys made before key ids were recorded" in message
    assert keys_by_master(database_url) == {None: ENGAGEMENTS * PEOPLE}
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM engagements.master_key_rotations").fetchone() == (0,)
