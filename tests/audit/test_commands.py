"""`coproduce audit ...` as an auditor runs it (real subprocesses) on a year recorded by the workflow:
the timeline and state, verification of an untouched and of a tampered log, checkpoints kept elsewhere,
and evidence bundles that catch any changed byte, removed event or reordered pair."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from application.audit.bundle import COVERED, SUMS, SUMS_SIGNATURE, WRITER_KEYS, verify_bundle
from eventlog import Signer
from tests.eventlog.test_verify import _rewrite_everything, delete_stored_checkpoints
from tests.session_keys import SESSION_KEYS

from .conftest import Year, tamper

ROOT = Path(__file__).resolve().parents[2]


def audit(
    *args: str, url: str, state: Path, timeout: float = 120, keys: frozenset[str] = SESSION_KEYS
) -> subprocess.CompletedProcess[str]:
    """``coproduce audit ARGS`` on the log at ``url``, with the session's secret keys among ``keys``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in keys}
    env.update(COPRODUCE_STATE_DIR=str(state), COPRODUCE_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "coproduce", "audit", *args],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_timeline_and_state_from_the_command(year: Year, state: Path) -> None:
    done = audit("timeline", year.engagement_id, "--json", url=year.database_url, state=state)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert len(entries) == len(year.history)
    assert {"occurred_at", "recorded_at", "constituency", "authorised", "reason"} <= set(entries[0])

    week = year.weekly[10]
    day = week.as_of.date().isoformat()
    done = audit("state", year.engagement_id, "--as-of", day, "--json", url=year.database_url, state=state)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    had_happened = [i for i in year.history if i.event.occurred_at.date().isoformat() <= day]
    assert shown["stream_version"] == len(had_happened) >= week.stream_version

    readable = audit("timeline", year.engagement_id, "--as-of", day, url=year.database_url, state=state)
    assert readable.returncode == 0 and "gate" in readable.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("timeline", "no-such-engagement"), "the event log has no engagement 'no-such-engagement'"),
        (("timeline", "audit-year", "--as-of", "last tuesday"), "--as-of 'last tuesday' is not a date"),
        (("state", "audit-year", "--as-of", "1999-01-01"), "started on"),
        (("verify", "--checkpoint", "/nonexistent/checkpoint.txt"), "cannot read the checkpoint file"),
        (("verify-bundle", "/nonexistent/bundle"), "is not a folder"),
    ],
)
def test_mistakes_get_one_sentence_and_exit_1(
    year: Year, state: Path, args: tuple[str, ...], message: str
) -> None:
    done = audit(*args, url=year.database_url, state=state)
    assert done.returncode == 1, done.stdout
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_verify_passes_on_an_untouched_log_and_names_the_altered_position(
    year: Year, year_copy: str, state: Path
) -> None:
    ok = audit("verify", url=year_copy, state=state)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"OK: {len(year.history)} events" in ok.stdout

    target = year.history[len(year.history) // 2].record.position
    tamper(
        year_copy,
        "UPDATE eventlog.events SET entry = convert_to(replace(convert_from(entry, 'UTF8'), "
        "'\"occurred_at\":\"2', '\"occurred_at\":\"1'), 'UTF8') WHERE position = %s",
        (target,),
    )
    bad = audit("verify", url=year_copy, state=state)
    assert bad.returncode == 1
    assert f"FAILED at position {target}: the event's bytes do not match its leaf hash" in bad.stdout


def test_a_whole_chain_rewrite_is_caught_by_a_checkpoint_file(
    year: Year, year_copy: str, state: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "kept-elsewhere" / "checkpoint.txt"
    signed = audit("checkpoint", "--out", str(kept), url=year_copy, state=state)
    assert signed.returncode == 0, signed.stderr
    assert kept.read_text().split("\n")[1] == str(len(year.history))
    key = audit("key", url=year_copy, state=state).stdout.strip()
    again = audit("checkpoint", "--out", str(kept), url=year_copy, state=state)
    assert again.returncode == 1 and "never overwritten" in again.stderr

    vote = next(
        i for i in year.history if i.record.type == "vote_cast" and '"approve"' in i.record.entry.decode()
    )
    _rewrite_everything(year_copy, vote.record.position, '"approve"', '"object"')
    delete_stored_checkpoints(year_copy)
    # the rewritten vote no longer carries its writer's signature: the writer key (never in the database)
    # catches the rewrite without any checkpoint
    signed_by_writer = audit("verify", url=year_copy, state=state)
    assert signed_by_writer.returncode == 1
    assert (
        f"FAILED at position {vote.record.position}: a foreign event, not written by this installation's "
        "writers (its writer signature does not match its content)"
    ) in signed_by_writer.stdout
    # where no writer key is at hand, the rewritten chain is self-consistent inside the database ...
    no_writer_key = SESSION_KEYS - {"COPRODUCE_WRITER_KEY"}
    unchecked = audit("verify", url=year_copy, state=state, keys=no_writer_key)
    assert unchecked.returncode == 0, unchecked.stdout
    assert "writer signatures were not checked" in unchecked.stdout
    # ... and the checkpoint kept elsewhere catches it
    caught = audit(
        "verify", "--checkpoint", str(kept), "--key", key, url=year_copy, state=state, keys=no_writer_key
    )
    assert caught.returncode == 1
    assert "does not match the log" in caught.stdout and "rewritten" in caught.stdout


@pytest.fixture
def exported(year: Year, state: Path, tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "bundle"
    done = audit("export", year.engagement_id, "--out", str(folder), url=year.database_url, state=state)
    assert done.returncode == 0, done.stderr
    key = audit("key", url=year.database_url, state=state).stdout.strip()
    return folder, key


def test_an_exported_bundle_verifies_offline(exported: tuple[Path, str], year: Year, state: Path) -> None:
    folder, key = exported
    assert sorted(p.name for p in folder.iterdir()) == sorted([*COVERED, SUMS, SUMS_SIGNATURE])
    done = audit(
        "verify-bundle", str(folder), "--key", key, url="postgresql://nowhere.invalid/none", state=state
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK: the bundle's {len(year.history)} events" in done.stdout
    lines = (folder / "events.jsonl").read_bytes().splitlines()
    assert lines == [item.record.entry for item in year.history]

    refused = audit("export", year.engagement_id, "--out", str(folder), url=year.database_url, state=state)
    assert refused.returncode == 1 and "not an empty folder" in refused.stderr


def _copy(folder: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(folder, copy)
    return copy


def test_any_changed_byte_in_any_file_fails_the_bundle(exported: tuple[Path, str], tmp_path: Path) -> None:
    folder, key = exported
    rng = random.Random(7)
    tried = 0
    for name in [*COVERED, SUMS, SUMS_SIGNATURE]:
        size = (folder / name).stat().st_size
        for offset in {0, size - 1, *(rng.randrange(size) for _ in range(6))}:
            copy = _copy(folder, tmp_path, f"{name}-{offset}")
            data = bytearray((copy / name).read_bytes())
            data[offset] ^= 0x01
            (copy / name).write_bytes(bytes(data))
            report = verify_bundle(copy, keys=[key])
            assert not report.ok, f"a changed byte at {offset} of {name} went unnoticed"
            shutil.rmtree(copy)
            tried += 1
    assert tried >= 40


def _resign(folder: Path) -> None:
    """What someone holding only the bundle can do: fix up SHA256SUMS (they cannot sign it)."""
    sums = "".join(f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in COVERED)
    (folder / SUMS).write_text(sums)


def test_a_removed_event_or_a_reordered_pair_fails_the_bundle(
    exported: tuple[Path, str], tmp_path: Path
) -> None:
    folder, key = exported
    removed = _copy(folder, tmp_path, "removed")
    lines = (removed / "events.jsonl").read_bytes().splitlines(keepends=True)
    proofs = json.loads((removed / "proofs.json").read_text())
    del lines[5], proofs["proofs"][5]
    proofs["events"] -= 1
    (removed / "events.jsonl").write_bytes(b"".join(lines))
    (removed / "proofs.json").write_text(json.dumps(proofs))
    report = verify_bundle(removed, keys=[key])
    assert not report.ok and "events.jsonl was changed after export" in report.summary()
    _resign(removed)  # fixing up the file hashes does not help: they are signed
    report = verify_bundle(removed, keys=[key])
    assert not report.ok and "signature over SHA256SUMS does not match" in report.summary()

    reordered = _copy(folder, tmp_path, "reordered")
    lines = (reordered / "events.jsonl").read_bytes().splitlines(keepends=True)
    lines[7], lines[8] = lines[8], lines[7]
    (reordered / "events.jsonl").write_bytes(b"".join(lines))
    report = verify_bundle(reordered, keys=[key])
    assert not report.ok and "events.jsonl was changed" in report.summary()


def test_the_proofs_alone_catch_reordering_removal_and_change(exported: tuple[Path, str]) -> None:
    """Below the signed file hashes, the inclusion proofs and the signed checkpoint catch each change."""
    from application.audit import bundle

    folder, key = exported
    lines = (folder / "events.jsonl").read_bytes().splitlines(keepends=True)
    meta = json.loads((folder / "proofs.json").read_text())
    checkpoint = bundle.open_checkpoint(
        (folder / "checkpoint.txt").read_text(), [bundle.Verifier.from_key_string(key)]
    )
    assert bundle.check_events(lines, meta, checkpoint, bundle.BundleReport()) is None

    swapped = [*lines[:3], lines[4], lines[3], *lines[5:]]
    problem = bundle.check_events(swapped, meta, checkpoint, bundle.BundleReport())
    assert problem and "event 4 (position" in problem and "altered or moved" in problem

    fewer = {**meta, "events": meta["events"] - 1, "proofs": meta["proofs"][:9] + meta["proofs"][10:]}
    problem = bundle.check_events(lines[:9] + lines[10:], fewer, checkpoint, bundle.BundleReport())
    assert problem and "out of order: events were reordered or removed" in problem

    changed = [*lines[:2], lines[2].replace(b"f01", b"f02", 1), *lines[3:]]
    if changed != lines:
        problem = bundle.check_events(changed, meta, checkpoint, bundle.BundleReport())
        assert problem and "event 3 (position" in problem


def _public(private_key: str) -> str:
    return Signer.from_key_string(private_key).verifier.key_string()


def test_a_bundle_carries_its_writer_keys_and_checks_who_wrote_every_event(
    exported: tuple[Path, str], year: Year, state: Path
) -> None:
    folder, key = exported
    writer = _public(os.environ["COPRODUCE_WRITER_KEY"])  # the session's writers (and the year's worker)
    assert (folder / WRITER_KEYS).read_text() == writer + "\n"
    assert WRITER_KEYS in (folder / SUMS).read_text()
    meta = json.loads((folder / "proofs.json").read_text())
    assert meta["writers_signed_from"] == 1  # every event of this log was signed

    own = audit(
        "verify-bundle", str(folder), "--key", key, url="postgresql://nowhere.invalid/none", state=state
    )
    assert own.returncode == 0, own.stdout + own.stderr
    assert "each event's writer was checked with the keys in writer-keys.txt" in own.stdout
    given = audit(
        "verify-bundle", str(folder), "--key", key, "--writer-key", writer, url="postgresql://nowhere.invalid/none",
        state=state,
    )  # fmt: skip
    assert given.returncode == 0, given.stdout + given.stderr
    assert (
        f"OK: the bundle's {len(year.history)} events" in given.stdout
        and "writer-keys.txt" not in given.stdout
    )

    stranger = Signer.generate("coproduce-tests/writer").verifier.key_string()
    foreign = audit(
        "verify-bundle", str(folder), "--key", key, "--writer-key", stranger, url="postgresql://nowhere.invalid/none",
        state=state,
    )  # fmt: skip
    first = year.history[0].record.position
    assert foreign.returncode == 1
    assert foreign.stdout.startswith(
        f"FAILED: event 1 (position {first}) was not written by the installation's writers (it is signed by key "
        f"'coproduce-tests/writer+"
    ), foreign.stdout
    assert "Traceback" not in foreign.stdout + foreign.stderr


def test_a_file_added_to_a_bundle_fails_it_by_name(
    exported: tuple[Path, str], tmp_path: Path, state: Path
) -> None:
    folder, key = exported
    added = _copy(folder, tmp_path, "added")
    (added / "minutes-of-the-real-meeting.txt").write_text("what really happened")
    done = audit(
        "verify-bundle", str(added), "--key", key, url="postgresql://nowhere.invalid/none", state=state
    )
    assert done.returncode == 1
    assert done.stdout.startswith(
        "FAILED: the bundle holds minutes-of-the-real-meeting.txt, which SHA256SUMS does not list: it was added "
        "after export, and nothing vouches for it"
    ), done.stdout
    (added / "minutes-of-the-real-meeting.txt").unlink()
    (added / "extra").mkdir()
    assert "the bundle holds extra, which SHA256SUMS does not list" in str(
        verify_bundle(added, keys=[key]).problem
    )


@pytest.mark.parametrize("option", ["--key", "--writer-key"])
def test_a_key_that_is_not_a_public_key_is_named_not_the_bundle(
    exported: tuple[Path, str], state: Path, option: str
) -> None:
    folder, _ = exported
    done = audit(
        "verify-bundle", str(folder), option, "garbage", url="postgresql://nowhere.invalid/none", state=state
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (
        f"error: {option} is not a public key (a verifier key looks like <name>+<8 hex digits>+<base64 key>); "
        "`coproduce audit key` prints one"
    )


def test_a_bundle_from_before_writer_signatures_still_verifies(
    exported: tuple[Path, str], tmp_path: Path, state: Path
) -> None:
    """Bundles are kept for years: one written before events were signed has no writer-keys.txt."""
    folder, key = exported
    older = _copy(folder, tmp_path, "older")
    (older / WRITER_KEYS).unlink()
    sums = "".join(line + "\n" for line in (older / SUMS).read_text().splitlines() if WRITER_KEYS not in line)
    (older / SUMS).write_text(sums)
    signer = Signer.from_key_string((state / "keys" / "checkpoint-signer.key").read_text())
    (older / SUMS_SIGNATURE).write_text(signer.sign_line(sums))
    report = verify_bundle(older, keys=[key])
    assert report.ok, report.summary()
    assert any("written before events were signed by their writers" in n for n in report.notes)
    writer = _public(os.environ["COPRODUCE_WRITER_KEY"])
    assert verify_bundle(older, keys=[key], writer_keys=[writer]).ok  # the signed events are checked
