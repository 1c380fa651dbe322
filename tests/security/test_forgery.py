"""Forged events: what someone holding the writers' database login (but not the writer key), or a
superuser, can put in the log, and what every reader then says.

Issue 14 found that a login holding ``coproduce_writer`` could append a ``vote_cast`` by a person into
an engagement's stream, copying the ids a real vote carries; after the next legitimate input the
workflow adopted it, the gate passed on it, and ``audit verify`` said OK. Now every event the
installation appends carries its writer's signature (a key the database never holds), and here:

a. a vote forged with the writer login is reported by ``audit verify``, refused as the reason for every
   later input (one sentence, nothing recorded), never counted, blocks checkpoints and exports; only a
   facilitator may disown it, with a reason; then the engagement goes on, and the log says for good
   that the event was foreign and disowned;
b. a forged event dated before the stream's last one does not wedge the workflow (the next input gets
   the same sentence), and no audit command prints a traceback;
c. a forged ``event_disowned`` cannot launder a forged event;
d. a superuser's fuzz (unknown types, invalid payloads, another stream's id, other keys' signatures,
   signatures over other bytes, bytes that are not JSON, wrong stream versions, events out of order,
   and an event signed with a stolen writer key) makes every audit command say FAILED (or FOREIGN
   EVENT) naming the position, never a traceback, and never sign a checkpoint over a log that fails.

The forgeries use a stack of this module's own (``coproduce up --detach`` in a state directory of its
own): a foreign event blocks checkpoints of the whole log until it is disowned, so forging into the
session's shared stack would fail other test files' checks. The fuzz runs on fresh databases of that
stack's server, each holding a copy of one real engagement, read with Temporal out of reach (as on an
auditor's laptop).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import struct
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from eventlog import EventLog, NewEvent, Signer, canonical_json
from eventlog.writers import signed
from tests.bad_inputs.stack import Outcome, Stack, _stop
from tests.cli.test_end_to_end import QUICK_PLAN
from workers import database

UNREACHABLE_TEMPORAL = "127.0.0.1:1"  # the fuzz reads the log alone, as an auditor's laptop would


def sentence(position: int) -> str:
    return (
        f"the log holds an event this engagement did not write at position {position}; "
        "see `coproduce audit verify`"
    )


@pytest.fixture(scope="module")
def forgery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module's own: forged events must not reach the session's shared log."""
    stack = Stack(tmp_path_factory.mktemp("forgery-state"))
    started = stack.coproduce("up", "--detach", timeout=240)
    if started.returncode != 0:
        stack.coproduce("down", timeout=120)
        raise AssertionError(f"coproduce up --detach failed:\n{started.output}")
    try:
        yield stack
    finally:
        _stop(stack)


# -- forging ------------------------------------------------------------------------------------------
@contextmanager
def writer_login(url: str) -> Iterator[str]:
    """The URL of a fresh login holding ``coproduce_writer`` (what a worker's database login can do, and
    nothing of an administrator's session to fall back on)."""
    name, password = f"forger_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE coproduce_writer").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
    try:
        yield psycopg.conninfo.make_conninfo(url, user=name, password=password)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def last_of(url: str, stream: str, event_type: str) -> dict[str, Any]:
    """The envelope of the stream's last event of ``event_type``, as stored."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT entry FROM eventlog.events WHERE stream_id = %s AND event_type = %s "
            "ORDER BY position DESC LIMIT 1",
            (stream, event_type),
        ).fetchone()
    assert row is not None, f"{stream} has no {event_type}"
    return json.loads(row[0])


def copied_vote(real: dict[str, Any], *, person: str, choice: str, at: datetime) -> NewEvent:
    """A vote as the forger writes it: the real vote's correlation and workflow ids, another person."""
    metadata = real["metadata"]
    payload = {**real["payload"], "person_id": person, "choice": choice, "reason": None}
    payload["occurred_at"] = at.isoformat().replace("+00:00", "Z")
    return NewEvent(
        type="vote_cast",
        payload=payload,
        occurred_at=at,
        actor=person,
        causation_id=metadata["causation_id"],
        correlation_id=metadata["correlation_id"],
        metadata={"workflow_id": metadata["workflow_id"], "workflow_run_id": metadata["workflow_run_id"]},
    )


def forge(url: str, stream: str, *events: NewEvent) -> list[int]:
    """Append ``events`` through ``EventLog`` as a writer login without the writer key; their positions."""

    async def append(login: str) -> list[int]:
        async with await EventLog.open(login, min_size=1, max_size=1) as log:
            return [(await log.append(stream, [event])).positions[0] for event in events]

    with writer_login(url) as login:
        return asyncio.run(append(login))


# -- the engagements ----------------------------------------------------------------------------------
def gate_with_an_abstention(stack: Stack, engagement: str) -> str:
    """An engagement whose 'setup' gate (consent; one decision maker's approval passes it) is open and
    holds one real vote: d1 abstained. A forged approval by d2 would pass it, were it counted."""
    stack.start_engagement(QUICK_PLAN, engagement)
    stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")
    stack.ok("gate", "decide", engagement, "--phase", "setup", "--as", "d1", "--abstain")
    gate = stack.status(engagement)["gate"]
    assert isinstance(gate, dict) and gate["phase_id"] == "setup" and gate["status"] == "open", gate
    return engagement


def checkpoints(stack: Stack, url: str | None = None) -> int:
    with psycopg.connect(url or stack.database_url) as conn:
        return int(conn.execute("SELECT count(*) FROM eventlog.checkpoints").fetchone()[0])  # type: ignore[index]


def stream_types(stack: Stack, engagement: str) -> list[str]:
    return [event_type for event_type, _ in stack.events(engagement)]


def clean(outcome: Outcome) -> Outcome:
    assert outcome.returncode is not None, f"no answer: {outcome.args}"
    assert "Traceback" not in outcome.output, f"$ coproduce {' '.join(outcome.args)}\n{outcome.output}"
    return outcome


def checkin_refused(stack: Stack, engagement: str, position: int) -> None:
    """The next legitimate input is refused with the one sentence, and nothing is recorded."""
    before = stream_types(stack, engagement)
    refused = clean(stack.coproduce("record", "checkin", engagement, "--person", "u1", "--comfort", "4"))
    assert refused.returncode == 1, refused.output
    assert refused.stderr.strip().splitlines()[-1] == f"error: {sentence(position)}", refused.output
    assert "Workflow Task in failed state" not in refused.output
    assert stream_types(stack, engagement) == before


# -- a. a vote forged with the writer login -------------------------------------------------------------
def test_a_vote_forged_with_the_writer_login_is_reported_refused_and_never_counted(
    forgery_stack: Stack, tmp_path: Path
) -> None:
    stack = forgery_stack
    engagement = gate_with_an_abstention(stack, "forged-vote")
    real = last_of(stack.database_url, engagement, "vote_cast")
    at = datetime.fromisoformat(real["occurred_at"]) + timedelta(seconds=1)
    [position] = forge(
        stack.database_url, engagement, copied_vote(real, person="d2", choice="approve", at=at)
    )

    verified = clean(stack.coproduce("audit", "verify", engagement))
    assert verified.returncode == 1
    assert (
        f"FAILED at position {position}: a foreign event, not written by this installation's writers "
        "(it carries no writer signature)"
    ) in verified.stdout

    checkin_refused(stack, engagement, position)
    status = json.loads(stack.ok("engagement", "status", engagement, "--json").stdout)
    assert status["waiting_for"][0] == sentence(position)
    gate = status["gate"]
    assert gate["phase_id"] == "setup" and gate["status"] == "open", (
        gate
    )  # the forged approval passed nothing
    assert [(v["person_id"], v["choice"]) for v in gate["votes"]] == [("d1", "abstain")]

    signed_before = checkpoints(stack)
    refused = clean(stack.coproduce("audit", "checkpoint", "--out", str(tmp_path / "checkpoint.txt")))
    assert refused.returncode == 1 and f"FAILED at position {position}" in refused.stderr
    assert "no checkpoint was signed" in refused.stderr and not (tmp_path / "checkpoint.txt").exists()
    refused = clean(stack.coproduce("audit", "export", engagement, "--out", str(tmp_path / "refused")))
    assert refused.returncode == 1 and f"FAILED at position {position}" in refused.stderr
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())
    assert checkpoints(stack) == signed_before

    timeline = clean(stack.coproduce("audit", "timeline", engagement, "--json"))
    lines = {entry["position"]: entry["what"] for entry in json.loads(timeline.stdout)}
    assert lines[position].startswith(f"FOREIGN EVENT at position {position} (vote_cast): not written by")

    # only a facilitator may disown it, and says why
    before = stream_types(stack, engagement)
    by_d1 = clean(stack.coproduce(
        "engagement", "disown", engagement, "--position", str(position), "--as", "d1", "--reason", "not mine"
    ))  # fmt: skip
    assert by_d1.returncode == 1, by_d1.output
    assert by_d1.stderr.strip().endswith("only a facilitator may disown an event, and d1 is not one")
    assert stream_types(stack, engagement) == before
    reason = "Appended with the workers' database login; reported to the data protection officer"
    stack.ok(
        "engagement", "disown", engagement, "--position", str(position), "--as", "f1", "--reason", reason
    )
    assert stream_types(stack, engagement)[-1] == "event_disowned"
    stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")
    status = json.loads(stack.ok("engagement", "status", engagement, "--json").stdout)
    assert sentence(position) not in status["waiting_for"]
    assert [(v["person_id"], v["choice"]) for v in status["gate"]["votes"]] == [("d1", "abstain")]

    # the log keeps saying so, for good
    verified = clean(stack.coproduce("audit", "verify", engagement))
    assert verified.returncode == 0, verified.output
    assert (
        f"note: position {position} is a foreign event (it carries no writer signature); "
        "it was disowned by f1 and is not counted"
    ) in verified.stdout
    assert "workflow: OK" in verified.stdout
    timeline = json.loads(clean(stack.coproduce("audit", "timeline", engagement, "--json")).stdout)
    whats = [entry["what"] for entry in timeline]
    assert any(w.startswith(f"FOREIGN EVENT at position {position} (vote_cast)") for w in whats), whats
    assert (
        f"f1 disowned the foreign event at position {position} (vote_cast): the engagement goes on without it"
        in whats
    )

    bundle = tmp_path / "bundle"
    exported = clean(stack.coproduce("audit", "export", engagement, "--out", str(bundle)))
    assert exported.returncode == 0, exported.output
    writer_key = stack.ok("audit", "key", "--writer").stdout.strip()
    key = stack.ok("audit", "key").stdout.strip()
    checked = clean(
        stack.coproduce("audit", "verify-bundle", str(bundle), "--key", key, "--writer-key", writer_key)
    )
    assert checked.returncode == 0, checked.output
    assert (
        f"(position {position}) is a foreign event (it carries no writer signature); f1 disowned it"
        in checked.stdout
    )


# -- b. a forged event dated before the stream's last one ------------------------------------------------
def test_a_forged_event_dated_earlier_wedges_nothing_and_crashes_no_audit_command(
    forgery_stack: Stack, tmp_path: Path
) -> None:
    stack = forgery_stack
    engagement = gate_with_an_abstention(stack, "forged-earlier")
    real = last_of(stack.database_url, engagement, "vote_cast")
    at = datetime.fromisoformat(real["occurred_at"]) - timedelta(hours=1)
    [position] = forge(
        stack.database_url, engagement, copied_vote(real, person="d2", choice="approve", at=at)
    )

    checkin_refused(stack, engagement, position)
    checkin_refused(stack, engagement, position)  # and again: the workflow is not stuck in a failed task
    signed_before = checkpoints(stack)
    for args in (
        ("audit", "timeline", engagement),
        ("audit", "verify", engagement),
        ("audit", "state", engagement, "--as-of", "2999-01-01"),
    ):
        done = clean(stack.coproduce(*args))
        assert f"at position {position}" in done.output, done.output
    exported = clean(stack.coproduce("audit", "export", engagement, "--out", str(tmp_path / "bundle")))
    assert exported.returncode == 1 and "FAILED at position" in exported.stderr, exported.output
    assert checkpoints(stack) == signed_before

    reason = "Forged, dated an hour before the vote it copies"
    stack.ok(
        "engagement", "disown", engagement, "--position", str(position), "--as", "f1", "--reason", reason
    )
    stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")


# -- c. a forged disowning launders nothing --------------------------------------------------------------
def test_a_forged_disowning_does_not_launder_a_forged_event(forgery_stack: Stack) -> None:
    stack = forgery_stack
    engagement = gate_with_an_abstention(stack, "forged-disowning")
    real = last_of(stack.database_url, engagement, "vote_cast")
    at = datetime.fromisoformat(real["occurred_at"]) + timedelta(seconds=1)
    vote = copied_vote(real, person="d2", choice="approve", at=at)
    [position] = forge(stack.database_url, engagement, vote)
    later = at + timedelta(seconds=1)
    disowning = NewEvent(
        type="event_disowned",
        payload={
            "position": position, "event_id": str(vote.event_id), "event_type": "vote_cast",
            "disowned_by": "f1", "reason": "nothing to see", "occurred_at": later.isoformat().replace("+00:00", "Z"),
        },
        occurred_at=later, actor="f1", causation_id=vote.causation_id, correlation_id=vote.correlation_id,
        metadata=vote.metadata,
    )  # fmt: skip
    [laundering] = forge(stack.database_url, engagement, disowning)

    verified = clean(stack.coproduce("audit", "verify", engagement))
    assert verified.returncode == 1
    for forged in (position, laundering):
        assert f"FAILED at position {forged}: a foreign event" in verified.stdout, verified.stdout
    assert f"note: position {position}" not in verified.stdout
    timeline = json.loads(clean(stack.coproduce("audit", "timeline", engagement, "--json")).stdout)
    foreign = {e["position"]: e["what"] for e in timeline if e["what"].startswith("FOREIGN EVENT")}
    assert sorted(foreign) == [position, laundering]
    assert "(it carries no writer signature)" in foreign[position]  # not "disowned"
    checkin_refused(stack, engagement, position)

    for forged in (position, laundering):  # the facilitator disowns both, for real
        stack.ok(
            "engagement", "disown", engagement, "--position", str(forged), "--as", "f1", "--reason", "forged"
        )
    stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")
    assert clean(stack.coproduce("audit", "verify", engagement)).returncode == 0


# -- d. a superuser's fuzz -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fuzz:
    """A copy of one real engagement in a database of its own, and where its earlier good bundle is."""

    admin_url: str  # the stack server's administrator, on its maintenance database
    template: str  # the database holding the copy (never changed: each case clones it)
    engagement: str
    bundle: Path
    events: int  # the engagement's events in the copy (and in the bundle)
    key: str  # the checkpoint key's public half
    writer_key: str


def _append_sql(url: str, stream: str, entry: bytes) -> int:
    """``eventlog.append()`` called directly by a superuser (no writer key, no client code)."""
    event_id = json.loads(entry)["event_id"]
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT out_position FROM eventlog.append(%s, NULL, ARRAY[%s::uuid], ARRAY[%s::bytea])",
            (stream, event_id, entry),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _insert_sql(url: str, stream: str, entry: bytes, *, version_gap: int = 0) -> int:
    """A row INSERTed by a superuser past ``eventlog.append()``, its hashes computed as verify does:
    leaf = SHA-256(0x00 || entry), chain = SHA-256(0x02 || int64 big-endian position || previous || leaf)."""
    with psycopg.connect(url, autocommit=True) as conn:
        last = conn.execute(
            "SELECT position, chain_hash FROM eventlog.events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        version = conn.execute(
            "SELECT coalesce(max(stream_version), 0) FROM eventlog.events WHERE stream_id = %s", (stream,)
        ).fetchone()
        assert last is not None and version is not None
        position, previous = int(last[0]) + 1, bytes(last[1])
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        chain = hashlib.sha256(b"\x02" + struct.pack(">q", position) + previous + leaf).digest()
        conn.execute(
            "INSERT INTO eventlog.events (position, event_id, stream_id, stream_version, event_type, "
            "schema_version, occurred_at, metadata, payload, entry, leaf_hash, chain_hash) "
            "VALUES (%s, %s, %s, %s, 'vote_cast', 1, now(), '{}', '{}', %s, %s, %s)",
            (position, uuid.uuid4(), stream, int(version[0]) + 1 + version_gap, entry, leaf, chain),
        )
    return position


def _envelope(real: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The real vote's envelope with a new id, no signature, and ``changes`` (``payload`` merged)."""
    payload = {**real["payload"], "person_id": "d2", "choice": "approve", **changes.pop("payload", {})}
    metadata = {k: v for k, v in real["metadata"].items() if k != "writer"}
    moment = datetime.fromisoformat(real["occurred_at"]) + timedelta(seconds=1)
    payload.setdefault("occurred_at", moment.isoformat().replace("+00:00", "Z"))
    return {
        **real, "event_id": str(uuid.uuid4()), "occurred_at": moment.isoformat(timespec="microseconds"),
        "metadata": metadata, "payload": payload, **changes,
    }  # fmt: skip


def _unknown_type(url: str, stream: str, real: dict[str, Any]) -> int:
    return _append_sql(url, stream, canonical_json(_envelope(real, type="vote_rigged")))


def _invalid_payload(url: str, stream: str, real: dict[str, Any]) -> int:
    return _append_sql(url, stream, canonical_json(_envelope(real, payload={"choice": "maybe", "round": -1})))


def _another_stream(url: str, stream: str, real: dict[str, Any]) -> int:
    entry = canonical_json(_envelope(real, stream_id="another-engagement"))
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=f"must name stream {stream}"):
        _append_sql(url, stream, entry)  # the database refuses it ...
    return _insert_sql(url, stream, entry)  # ... so the superuser goes around append()


def _another_key(url: str, stream: str, real: dict[str, Any]) -> int:
    stranger = Signer.generate("coproduce-tests/writer")  # the installation's key name, another key
    return _append_sql(url, stream, canonical_json(signed(_envelope(real), stranger)))


def _signature_over_other_bytes(url: str, stream: str, real: dict[str, Any]) -> int:
    forged = _envelope(real)
    forged["metadata"] = real["metadata"]  # the real vote's valid signature, on other content
    return _append_sql(url, stream, canonical_json(forged))


def _not_json(url: str, stream: str, real: dict[str, Any]) -> int:
    return _insert_sql(url, stream, b'\xff{"type": "vote_cast", not json')


def _wrong_stream_version(url: str, stream: str, real: dict[str, Any]) -> int:
    return _insert_sql(url, stream, canonical_json(_envelope(real)), version_gap=5)


def _out_of_order(url: str, stream: str, real: dict[str, Any]) -> int:
    earlier = datetime.fromisoformat(real["occurred_at"]) - timedelta(days=3)
    forged = _envelope(real, occurred_at=earlier.isoformat(timespec="microseconds"))
    forged["payload"]["occurred_at"] = earlier.isoformat().replace("+00:00", "Z")
    return _append_sql(url, stream, canonical_json(forged))


def _stolen_key(url: str, stream: str, real: dict[str, Any]) -> int:
    """Out of order, and signed with the installation's own writer key, as if stolen from a worker."""
    earlier = datetime.fromisoformat(real["occurred_at"]) - timedelta(days=3)
    forged = _envelope(real, occurred_at=earlier.isoformat(timespec="microseconds"))
    forged["payload"]["occurred_at"] = earlier.isoformat().replace("+00:00", "Z")
    writer = Signer.from_key_string(os.environ["COPRODUCE_WRITER_KEY"])
    return _append_sql(url, stream, canonical_json(signed(forged, writer)))


FUZZ: dict[str, Callable[[str, str, dict[str, Any]], int]] = {
    "unknown-type": _unknown_type,
    "invalid-payload": _invalid_payload,
    "another-stream-id": _another_stream,
    "signed-by-another-key": _another_key,
    "signature-over-other-bytes": _signature_over_other_bytes,
    "not-json": _not_json,
    "wrong-stream-version": _wrong_stream_version,
    "out-of-order": _out_of_order,
    "stolen-writer-key": _stolen_key,
}


@pytest.fixture(scope="module")
def fuzz(forgery_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    """A real engagement's events copied, byte for byte (so with their writer signatures), into a
    database of their own, and a good bundle exported from it before any fuzz."""
    stack = forgery_stack
    engagement = gate_with_an_abstention(stack, "fuzzed")
    admin = psycopg.conninfo.make_conninfo(stack.database_url, dbname="postgres")
    url = database.create_database(admin, prefix="fuzz")
    try:
        asyncio.run(database.migrate_database(url))
        with psycopg.connect(stack.database_url) as source, psycopg.connect(url, autocommit=True) as target:
            rows = source.execute(
                "SELECT event_id, entry FROM eventlog.events WHERE stream_id = %s ORDER BY position",
                (engagement,),
            ).fetchall()
            for event_id, entry in rows:
                target.execute(
                    "SELECT eventlog.append(%s, NULL, ARRAY[%s::uuid], ARRAY[%s::bytea])",
                    (engagement, event_id, entry),
                )
        bundle = tmp_path_factory.mktemp("fuzz") / "good-bundle"
        exported = clean(audit_on(stack, url, "export", engagement, "--out", str(bundle)))
        assert exported.returncode == 0, exported.output
        yield Fuzz(
            admin_url=admin, template=url, engagement=engagement, bundle=bundle, events=len(rows),
            key=stack.ok("audit", "key").stdout.strip(), writer_key=stack.ok("audit", "key", "--writer").stdout.strip(),
        )  # fmt: skip
    finally:
        database.drop_database(admin, url)


def audit_on(stack: Stack, url: str, *args: str) -> Outcome:
    """``coproduce audit ARGS`` on the log at ``url``, Temporal out of reach."""
    env = {**stack.env, "COPRODUCE_DATABASE_URL": url, "COPRODUCE_TEMPORAL_ADDRESS": UNREACHABLE_TEMPORAL}
    done = subprocess.run(
        [sys.executable, "-m", "coproduce", "audit", *args], env=env, capture_output=True, timeout=120
    )
    return Outcome(
        ("audit", *args),
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


@pytest.mark.parametrize("case", sorted(FUZZ))
def test_every_audit_command_names_a_fuzzed_event_and_none_crashes(
    forgery_stack: Stack, fuzz: Fuzz, case: str, tmp_path: Path
) -> None:
    url = database.create_database(fuzz.admin_url, template=fuzz.template, prefix="fuzz")
    try:
        real = last_of(url, fuzz.engagement, "vote_cast")
        position = FUZZ[case](url, fuzz.engagement, real)
        signed_before = checkpoints(forgery_stack, url)
        commands = {
            "timeline": ("timeline", fuzz.engagement),
            "state": ("state", fuzz.engagement, "--as-of", "2999-12-31"),
            "verify": ("verify",),
            "verify-id": ("verify", fuzz.engagement),
            "verify-columns": ("verify", "--columns"),
            "checkpoint": ("checkpoint", "--out", str(tmp_path / "checkpoint.txt")),
            "export": ("export", fuzz.engagement, "--out", str(tmp_path / "bundle")),
            "verify-bundle": (
                "verify-bundle",
                str(fuzz.bundle),
                "--key",
                fuzz.key,
                "--writer-key",
                fuzz.writer_key,
            ),
        }
        with ThreadPoolExecutor(len(commands)) as pool:
            outcomes = dict(
                zip(
                    commands,
                    pool.map(lambda args: clean(audit_on(forgery_stack, url, *args)), commands.values()),
                    strict=True,
                )
            )

        named = f"at position {position}"
        stolen = case == "stolen-writer-key"
        for which in (
            "verify-id",
            "export",
            "timeline",
            "state",
            *(() if stolen else ("verify", "verify-columns", "checkpoint")),
        ):
            done = outcomes[which]
            said = done.output
            assert f"FAILED {named}" in said or (
                which in ("timeline", "state")
                and (f"FOREIGN EVENT {named}" in said or sentence(position) in said)
            ), f"{case}: $ coproduce {' '.join(done.args)} (exit {done.returncode})\n{said}"
            if which not in ("timeline", "state"):
                assert done.returncode == 1, f"{case}: {which} exited {done.returncode}\n{said}"
        if stolen:  # the limit of a stolen key: the log verifies, and only the replay can tell
            assert outcomes["verify"].returncode == 0, outcomes["verify"].output
            assert outcomes["checkpoint"].returncode == 0, outcomes["checkpoint"].output
            assert checkpoints(forgery_stack, url) == signed_before + 1
        else:  # no checkpoint over a log that fails verification (export signs only after replaying)
            assert checkpoints(forgery_stack, url) == signed_before
        assert not (tmp_path / "bundle").exists() or not any((tmp_path / "bundle").iterdir())
        # the bundle exported before the fuzz is what it was, and still says so
        assert outcomes["verify-bundle"].returncode == 0, outcomes["verify-bundle"].output
        assert outcomes["verify-bundle"].stdout.startswith(f"OK: the bundle's {fuzz.events} events")
    finally:
        database.drop_database(fuzz.admin_url, url)


def test_a_fuzzed_event_spliced_into_a_good_bundle_fails_it(fuzz: Fuzz, tmp_path: Path) -> None:
    """What someone holding only a bundle can do with a forged event: add it, and fix up the file hashes."""
    from application.audit.bundle import COVERED, SUMS, verify_bundle

    spliced = tmp_path / "spliced"
    shutil.copytree(fuzz.bundle, spliced)
    real = json.loads((spliced / "events.jsonl").read_bytes().splitlines()[-1])
    with open(spliced / "events.jsonl", "ab") as events:
        events.write(canonical_json(_envelope(real)) + b"\n")
    meta = json.loads((spliced / "proofs.json").read_text())
    meta["proofs"].append(
        {**meta["proofs"][-1], "position": meta["size"] + 1, "stream_version": meta["events"] + 1}
    )
    meta["events"] += 1
    (spliced / "proofs.json").write_text(json.dumps(meta))
    report = verify_bundle(spliced, keys=[fuzz.key], writer_keys=[fuzz.writer_key])
    assert (
        not report.ok
        and report.problem == "events.jsonl was changed after export (its SHA-256 is not the one signed)"
    )
    sums = "".join(f"{hashlib.sha256((spliced / n).read_bytes()).hexdigest()}  {n}\n" for n in COVERED)
    (spliced / SUMS).write_text(sums)
    report = verify_bundle(spliced, keys=[fuzz.key], writer_keys=[fuzz.writer_key])
    assert not report.ok and "signature over SHA256SUMS does not match" in str(report.problem)


def test_a_whole_engagement_forged_in_a_stream_of_its_own_is_foreign_throughout(
    forgery_stack: Stack, fuzz: Fuzz, tmp_path: Path
) -> None:
    """Not one event of it is signed, so none can pass as written before signatures: those are only
    the events before the log's first signed one, and nothing can be inserted there later."""
    url = database.create_database(fuzz.admin_url, template=fuzz.template, prefix="fuzz")
    try:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT entry FROM eventlog.events WHERE stream_id = %s ORDER BY position", (fuzz.engagement,)
            ).fetchall()
        positions = []
        for (entry,) in rows:
            doc = json.loads(entry)
            doc["metadata"].pop("writer")
            doc.update(event_id=str(uuid.uuid4()), stream_id="counterfeit")
            positions.append(_append_sql(url, "counterfeit", canonical_json(doc)))

        timeline = clean(audit_on(forgery_stack, url, "timeline", "counterfeit", "--json"))
        assert [(e["position"], e["what"].split(" (")[0]) for e in json.loads(timeline.stdout)] == [
            (p, f"FOREIGN EVENT at position {p}") for p in positions
        ]
        state = clean(audit_on(forgery_stack, url, "state", "counterfeit", "--as-of", "2999-12-31"))
        assert state.returncode == 1
        assert state.stderr.strip() == (
            "error: the log holds no event engagement counterfeit wrote, only events it did not write "
            f"(the first at position {positions[0]}); see `coproduce audit verify`"
        )
        verified = clean(audit_on(forgery_stack, url, "verify", "counterfeit"))
        assert verified.returncode == 1
        for p in positions:
            assert f"FAILED at position {p}: a foreign event" in verified.stdout
        exported = clean(audit_on(forgery_stack, url, "export", "counterfeit", "--out", str(tmp_path / "b")))
        assert exported.returncode == 1 and f"FAILED at position {positions[0]}" in exported.stderr
    finally:
        database.drop_database(fuzz.admin_url, url)


def test_an_operator_disowns_a_foreign_event_no_engagement_can_and_checkpoints_go_on(
    forgery_stack: Stack, fuzz: Fuzz, tmp_path: Path
) -> None:
    """A forgery in a stream no engagement owns would block checkpoints of the whole log for good:
    `coproduce audit disown` records who disowned it and why, and the log can be signed again, with
    the event still reported as foreign."""
    url = database.create_database(fuzz.admin_url, template=fuzz.template, prefix="fuzz")
    try:
        real = last_of(url, fuzz.engagement, "vote_cast")
        [position] = forge(
            url, "made-up", copied_vote(real, person="d2", choice="approve", at=datetime.now(UTC))
        )
        blocked = clean(audit_on(forgery_stack, url, "checkpoint", "--out", str(tmp_path / "c1.txt")))
        assert blocked.returncode == 1 and f"at position {position}" in blocked.stderr
        before = checkpoints(forgery_stack, url)

        mine = clean(audit_on(forgery_stack, url, "disown", "--position", "1", "--reason", "testing"))
        assert mine.returncode == 1
        assert mine.stderr.strip() == (
            "error: the event at position 1 was written by this installation; only a foreign event can be "
            "disowned (`coproduce audit verify` lists them)"
        )
        empty = clean(audit_on(forgery_stack, url, "disown", "--position", str(position), "--reason", " "))
        assert empty.returncode == 1 and "--reason is empty" in empty.stderr

        done = clean(audit_on(
            forgery_stack, url, "disown", "--position", str(position), "--reason", "Appended by a stolen login.",
        ))  # fmt: skip
        assert done.returncode == 0, done.output
        assert f"disowned the foreign event at position {position} (vote_cast in made-up)" in done.stdout
        again = clean(
            audit_on(forgery_stack, url, "disown", "--position", str(position), "--reason", "again")
        )
        assert again.returncode == 1 and "was disowned already" in again.stderr

        signed = clean(audit_on(forgery_stack, url, "checkpoint", "--out", str(tmp_path / "c2.txt")))
        assert signed.returncode == 0, signed.output
        assert checkpoints(forgery_stack, url) == before + 1
        verified = clean(audit_on(forgery_stack, url, "verify"))
        assert verified.returncode == 0, verified.output
        assert f"note: position {position} is a foreign event" in verified.stdout
    finally:
        database.drop_database(fuzz.admin_url, url)
