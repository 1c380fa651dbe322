"""Configuration beyond one machine, entirely by environment and secrets: secret files, TLS and API keys
for Temporal, and logins for the writer and auditor roles set by `coproduce db migrate`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from temporalio.service import TLSConfig

from eventlog import AppendResult, EventLog, NewEvent
from tests.session_keys import SESSION_KEYS
from workers.database import NoStackError
from workers.settings import Settings
from workers.temporal import tls_config

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    env.update(extra)
    return env


def test_settings_read_secret_files_from_the_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "coproduce_database_url").write_text("postgresql://coproduce_writer:s3cret@db/coproduce\n")
    (tmp_path / "coproduce_temporal_api_key").write_text("key-123\n")
    shown = subprocess.run(
        [sys.executable, "-c", "from workers.settings import Settings; s = Settings(); "
         "print(s.database_url); print(s.temporal_api_key.get_secret_value()); print(s.temporal_api_key)"],
        env=clean_env(COPRODUCE_SECRETS_DIR=str(tmp_path)), capture_output=True, text=True, cwd=ROOT, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    assert shown == ["postgresql://coproduce_writer:s3cret@db/coproduce", "key-123", "**********"]


def test_tls_is_configured_from_files_or_implied_by_an_api_key(tmp_path: Path) -> None:
    assert tls_config(Settings()) is False
    assert tls_config(Settings(temporal_tls=True)) is True
    assert tls_config(Settings(temporal_api_key="key")) is True
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"-----{name}-----".encode())
    mtls = tls_config(
        Settings(
            temporal_tls_ca=tmp_path / "ca.pem",
            temporal_tls_cert=tmp_path / "client.pem",
            temporal_tls_key=tmp_path / "client.key",
        )
    )
    assert isinstance(mtls, TLSConfig)
    assert (mtls.server_root_ca_cert, mtls.client_cert, mtls.client_private_key) == (
        b"-----ca.pem-----", b"-----client.pem-----", b"-----client.key-----",
    )  # fmt: skip
    with pytest.raises(
        NoStackError, match="mTLS needs both COPRODUCE_TEMPORAL_TLS_CERT and COPRODUCE_TEMPORAL_TLS_KEY"
    ):
        tls_config(Settings(temporal_tls_cert=tmp_path / "client.pem"))
    with pytest.raises(NoStackError, match="cannot read the Temporal CA certificate"):
        tls_config(Settings(temporal_tls_ca=tmp_path / "missing.pem"))


async def _append(url: str) -> AppendResult:
    log = await EventLog.open(url)
    try:
        return await log.append("s-1", [NewEvent("noted", {"n": 1})])
    finally:
        await log.close()


def test_db_migrate_gives_the_writer_and_auditor_logins(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "writer").write_text("writer-password-0123456789\n")
    (tmp_path / "auditor").write_text("auditor-password-0123456789\n")
    (tmp_path / "short").write_text("abc\n")
    run = [sys.executable, "-m", "coproduce", "db", "migrate"]
    env = clean_env(COPRODUCE_DATABASE_URL=database_url, COPRODUCE_STATE_DIR=str(tmp_path / "state"))
    refused = subprocess.run([*run, "--writer-password-file", str(tmp_path / "short")],
                             env=env, capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert refused.returncode == 1 and "shorter than 12 characters" in refused.stderr
    done = subprocess.run([*run, "--writer-password-file", str(tmp_path / "writer"),
                           "--auditor-password-file", str(tmp_path / "auditor")],
                          env=env, capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr

    writer = psycopg.conninfo.make_conninfo(
        database_url, user="coproduce_writer", password="writer-password-0123456789"
    )
    result = asyncio.run(_append(writer))
    assert result.positions == (1,)
    with (
        psycopg.connect(writer, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("DELETE FROM eventlog.events")
    auditor = psycopg.conninfo.make_conninfo(
        database_url, user="coproduce_auditor", password="auditor-password-0123456789"
    )
    with psycopg.connect(auditor, autocommit=True) as conn:
        assert conn.execute("SELECT size FROM eventlog.audit_head").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "SELECT * FROM eventlog.append_one('s-1', 1, gen_random_uuid(), convert_to('{}', 'UTF8'))"
            )
