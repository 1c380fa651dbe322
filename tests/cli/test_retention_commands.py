"""`coproduce people stay` (and `--withdraw`) and `people retention` (and `--apply`) as a user meets them against the real PostgreSQL:
a mistake is one sentence and exit 1, with nothing recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.session_keys import SESSION_KEYS

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, url: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    env.update(COPRODUCE_STATE_DIR=str(state), COPRODUCE_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "coproduce", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def events(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM eventlog.events").fetchone()
    return int(row[0]) if row else 0


def test_staying_in_an_engagement_that_does_not_exist_is_one_sentence(
    database_url: str, tmp_path: Path
) -> None:
    for args in (
        ("people", "stay", "nowhere-2026", "t01", "--as", "f01"),
        ("people", "stay", "nowhere-2026", "t01", "--as", "f01", "--json"),
        ("people", "retention", "nowhere-2026", "--json"),
        ("people", "stay", "nowhere-2026", "t01", "--as", "t01", "--withdraw"),
        ("people", "retention", "nowhere-2026", "--apply"),
    ):
        done = cli(*args, url=database_url, state=tmp_path)
        assert done.returncode == 1, done
        assert done.stdout == ""
        [sentence] = done.stderr.strip().splitlines()
        assert "nowhere-2026" in sentence, sentence
    assert events(database_url) == 0
