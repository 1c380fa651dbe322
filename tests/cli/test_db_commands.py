"""`coproduce db ...` as people run it: a real subprocess, its output and its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.session_keys import SESSION_KEYS

COPRODUCE = [sys.executable, "-m", "coproduce"]
EVENT_LOG_MIGRATIONS = sorted((Path(__file__).resolve().parents[2] / "eventlog" / "migrations").glob("*.sql"))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COPRODUCE, *args], env=env, capture_output=True, text=True, timeout=120)


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    return {**env, **extra}


def test_db_migrate_creates_the_schema_once(empty_database_url: str, tmp_path: Path) -> None:
    env = environment(COPRODUCE_DATABASE_URL=empty_database_url, COPRODUCE_STATE_DIR=str(tmp_path))
    first = run("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_event_log" in first.stdout
    second = run("db", "migrate", env=env)
    assert (second.returncode, second.stdout.strip()) == (0, "the database is up to date")
    third = run("db", "migrate", "--json", env=env)
    assert third.returncode == 0 and json.loads(third.stdout)["applied"] == []
    with psycopg.connect(empty_database_url) as conn:
        applied = conn.execute("SELECT count(*) FROM eventlog.schema_migrations").fetchone()
    assert EVENT_LOG_MIGRATIONS and applied == (len(EVENT_LOG_MIGRATIONS),)  # each once


def test_db_migrate_with_an_unreachable_database_says_so_in_one_sentence(tmp_path: Path) -> None:
    env = environment(
        COPRODUCE_DATABASE_URL="postgresql://nobody@127.0.0.1:9/none", COPRODUCE_STATE_DIR=str(tmp_path)
    )
    result = run("db", "migrate", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot connect to PostgreSQL")
    assert "COPRODUCE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_migrate_without_a_url_uses_the_embedded_server(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    env = environment(COPRODUCE_STATE_DIR=str(tmp_path / "state"))
    try:
        result = run("db", "migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert "applied 0001_event_log" in result.stdout and "coproduce db stop" in result.stdout
        assert (tmp_path / "state" / "postgres" / "data" / "PG_VERSION").exists()
    finally:
        stopped = run("db", "stop", env=env)
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped the embedded PostgreSQL")
    again = run("db", "stop", env=env)
    assert again.stdout.strip() == "the embedded PostgreSQL is not running"
    assert json.loads(run("db", "stop", "--json", env=env).stdout) == {"stopped": False}


def test_unknown_commands_are_usage_errors(tmp_path: Path) -> None:
    result = run("db", "frobnicate", env=environment(COPRODUCE_STATE_DIR=str(tmp_path)))
    assert result.returncode == 2
    assert "No such command" in result.stderr
