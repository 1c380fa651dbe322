"""Witnesses end to end, as real subprocesses: the installation checkpoints, a witness (with no database)
cosigns, and an attacker who holds the log's own key rewrites the log and re-signs it: the re-signed
checkpoint verifies with the log key alone, but ``audit verify --witness-key`` fails, because the witness
never cosigned the rewritten root (and refuses to)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.eventlog.test_verify import _rewrite_everything, delete_stored_checkpoints
from tests.session_keys import SESSION_KEYS

from .conftest import Year
from .test_commands import audit

ROOT = Path(__file__).resolve().parents[2]
NO_WRITER_KEY = SESSION_KEYS - {"COPRODUCE_WRITER_KEY"}  # the attacker re-signs without the writer key


def witness(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``coproduce witness ARGS`` on a machine with no database at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_")}
    env["COPRODUCE_DATABASE_URL"] = "postgresql://nowhere.invalid/none"
    return subprocess.run(
        [sys.executable, "-m", "coproduce", "witness", *args],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _witness_key(tmp_path: Path) -> tuple[Path, str]:
    key_file = tmp_path / "funder" / "witness.key"
    made = witness("key", "funder.example/witness", "--out", str(key_file), "--json")
    assert made.returncode == 0, made.stderr
    public = json.loads(made.stdout)["key"]
    assert "PRIVATE" not in made.stdout and public.startswith("funder.example/witness+")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    again = witness("key", "funder.example/witness", "--out", str(key_file))
    assert again.returncode == 1 and "never overwritten" in again.stderr
    return key_file, public


def _cosign(
    url: str, state: Path, tmp_path: Path, key_file: Path, old: int, name: str
) -> tuple[str, Path, Path, subprocess.CompletedProcess[str]]:
    """The installation checkpoints and asks; the witness answers. Returns the log key, the request,
    the cosigned file and the witness's process."""
    kept = tmp_path / f"{name}.txt"
    signed = audit("checkpoint", "--out", str(kept), url=url, state=state, keys=NO_WRITER_KEY)
    assert signed.returncode == 0, signed.stderr
    log_key = audit("key", url=url, state=state).stdout.strip()
    request = tmp_path / f"{name}.request"
    asked = audit(
        "witness-request", "--old", str(old), "--checkpoint", str(kept), "--out", str(request),
        "--key", log_key, url=url, state=state,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stdout + asked.stderr
    cosigned = tmp_path / f"{name}.cosigned.txt"
    done = witness(
        "cosign", str(request), "--key", str(key_file), "--log-key", log_key,
        "--state", str(tmp_path / "funder" / "witness-state.json"), "--out", str(cosigned),
    )  # fmt: skip
    return log_key, request, cosigned, done


def test_a_rewrite_re_signed_with_the_log_key_fails_without_the_witness(
    year: Year, year_copy: str, state: Path, tmp_path: Path
) -> None:
    key_file, witness_key = _witness_key(tmp_path)
    log_key, first_request, cosigned, first_use = _cosign(year_copy, state, tmp_path, key_file, 0, "first")
    assert first_use.returncode == 0, first_use.stdout + first_use.stderr
    size = len(year.history)
    assert f"cosigned the checkpoint of {size} events" in first_use.stdout

    ok = audit(
        "verify", "--checkpoint", str(cosigned), "--key", log_key, "--witness-key", witness_key,
        url=year_copy, state=state,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # an unchanged log: the witness cosigns the same size again (old = what it knows)
    _, _, _, same = _cosign(year_copy, state, tmp_path, key_file, size, "same")
    assert same.returncode == 0, same.stdout + same.stderr

    # the attacker (a superuser holding the log's key) rewrites a vote and re-signs the log
    vote = next(
        i for i in year.history if i.record.type == "vote_cast" and '"approve"' in i.record.entry.decode()
    )
    _rewrite_everything(year_copy, vote.record.position, '"approve"', '"object"')
    delete_stored_checkpoints(year_copy)
    forged = tmp_path / "forged.txt"
    resigned = audit("checkpoint", "--out", str(forged), url=year_copy, state=state, keys=NO_WRITER_KEY)
    assert resigned.returncode == 0, resigned.stderr

    # the log key alone is satisfied ...
    fooled = audit(
        "verify",
        "--checkpoint",
        str(forged),
        "--key",
        log_key,
        url=year_copy,
        state=state,
        keys=NO_WRITER_KEY,
    )
    assert fooled.returncode == 0, fooled.stdout
    # ... the witness key is not
    caught = audit(
        "verify", "--checkpoint", str(forged), "--key", log_key, "--witness-key", witness_key,
        url=year_copy, state=state, keys=NO_WRITER_KEY,
    )  # fmt: skip
    assert caught.returncode == 1
    assert "FAILED: witness funder.example/witness did not cosign the checkpoint" in caught.stdout
    # copying the old cosignature onto the forged checkpoint is caught as an alteration
    grafted = tmp_path / "grafted.txt"
    grafted.write_text(forged.read_text() + cosigned.read_text().splitlines(keepends=True)[-1])
    altered = audit(
        "verify", "--checkpoint", str(grafted), "--key", log_key, "--witness-key", witness_key,
        url=year_copy, state=state, keys=NO_WRITER_KEY,
    )  # fmt: skip
    assert altered.returncode == 1 and "altered" in altered.stdout

    # and the witness refuses to cosign the rewritten root, leaving its state as it was
    witness_state = tmp_path / "funder" / "witness-state.json"
    before = witness_state.read_bytes()
    _, _, refused_out, refused = _cosign(year_copy, state, tmp_path, key_file, size, "rewritten")
    assert refused.returncode == 1
    assert "not cosigned" in refused.stderr and "not consistent" in refused.stderr
    assert witness_state.read_bytes() == before and not refused_out.exists()
    stale = witness(
        "cosign", str(first_request),
        "--key", str(key_file), "--log-key", log_key, "--state", str(witness_state),
        "--out", str(tmp_path / "stale.txt"),
    )  # fmt: skip
    assert stale.returncode == 1 and f"last cosigned size {size}" in stale.stderr


def test_verify_bundle_checks_the_witness_cosignature(
    year: Year, year_copy: str, state: Path, tmp_path: Path
) -> None:
    key_file, witness_key = _witness_key(tmp_path)
    folder = tmp_path / "bundle"
    done = audit("export", year.engagement_id, "--out", str(folder), url=year_copy, state=state)
    assert done.returncode == 0, done.stderr
    log_key = audit("key", url=year_copy, state=state).stdout.strip()

    missing = audit("verify-bundle", str(folder), "--key", log_key, "--witness-key", witness_key,
                    url=year_copy, state=state)  # fmt: skip
    assert missing.returncode == 1
    assert "witness funder.example/witness did not cosign the bundle's checkpoint.txt" in missing.stdout

    request = tmp_path / "bundle.request"
    asked = audit("witness-request", "--old", "0", "--checkpoint", str(folder / "checkpoint.txt"),
                  "--out", str(request), "--key", log_key, url=year_copy, state=state)  # fmt: skip
    assert asked.returncode == 0, asked.stdout + asked.stderr
    cosigned = tmp_path / "cosigned.txt"
    signed = witness("cosign", str(request), "--key", str(key_file), "--log-key", log_key,
                     "--state", str(tmp_path / "w.json"), "--out", str(cosigned))  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    (folder / "checkpoint.txt").write_text(cosigned.read_text())  # the auditor files the cosigned copy
    ok = audit("verify-bundle", str(folder), "--key", log_key, "--witness-key", witness_key,
               url=year_copy, state=state)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    plain = audit("verify-bundle", str(folder), "--key", log_key, url=year_copy, state=state)
    assert plain.returncode == 0, plain.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("verify", "--witness-key", "nonsense"), "--witness-key is not a witness public key"),
        (("witness-request", "--old", "0", "--checkpoint", "/nonexistent", "--out", "/tmp/x-never"),
         "cannot read the checkpoint file"),
    ],
)  # fmt: skip
def test_audit_mistakes_get_one_sentence(
    year: Year, state: Path, args: tuple[str, ...], message: str
) -> None:
    done = audit(*args, url=year.database_url, state=state)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_a_log_key_is_refused_as_a_witness_key(year: Year, state: Path, tmp_path: Path) -> None:
    log_key = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    done = audit("verify", "--checkpoint", "x", "--witness-key", log_key, url=year.database_url, state=state)
    assert done.returncode == 1 and "log (signed-note Ed25519) key" in done.stderr
    cosigned = witness("cosign", "nothing", "--key", str(tmp_path / "none"), "--log-key", log_key,
                       "--state", str(tmp_path / "s"), "--out", str(tmp_path / "o"))  # fmt: skip
    assert cosigned.returncode == 1 and "cannot read the witness key file" in cosigned.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "o").exists()
