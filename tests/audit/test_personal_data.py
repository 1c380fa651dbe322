"""Personal data in the log of a year run by the workflow: nothing in clear, and forgetting a person.

The year (tests/audit/conftest.py) runs the example plan, whose people have names, with scripted people
who give reasons and record an assessment. The log must hold none of that text in clear; after
`coproduce people forget`, every reader shows the person as forgotten and their text as erased, while
the log, its proofs and every decision's counts stay exactly as they were.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rich.console import Console

from application.audit.bundle import verify_bundle
from application.privacy.register import PeopleRegister
from application.privacy.sealing import ENGAGEMENT_OWNER, ERASED, PREFIX, open_sealed, sealed_owner
from application.simulation import assessment, demo_responses
from coproduce.cli.render import status_view
from domain.plan import plan_rescheduled
from eventlog import EventLog
from tests.session_keys import SESSION_KEYS
from tests.workflows.conftest import example_plan
from workers.keys import master_key
from workers.settings import Settings

from .conftest import Year

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, url: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    env.update(COPRODUCE_STATE_DIR=str(state), COPRODUCE_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "coproduce", *args],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


def personal_texts(year: Year) -> list[str]:
    """Every name in the plan and every piece of free text the year's people wrote."""
    plan = plan_rescheduled(example_plan(), year.weekly[0].as_of.date())
    written = assessment("f01")
    return [
        *(p.display_name for p in plan.people),
        *demo_responses(plan).objections.values(),
        written.past_co_production, written.what_worked, written.what_did_not_work, written.approach_to_change,
    ]  # fmt: skip


def stored_text(url: str) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT convert_from(entry, 'UTF8'), payload::text FROM eventlog.events"
        ).fetchall()
    return "\n".join(a + b for a, b in rows)


def test_the_log_holds_no_name_or_free_text_in_clear(year: Year) -> None:
    stored = stored_text(year.database_url)
    assert PREFIX in stored  # reasons and findings were written, sealed
    for text in personal_texts(year):
        assert text not in stored, text
    # ... while the operator, with the register's keys, reads them as written
    objections = [i.event.reason for i in year.history if i.record.type == "vote_cast" and i.event.reason]
    assert objections and set(objections) <= set(
        demo_responses(year.final.state.require_plan()).objections.values()
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_forgetting_a_person_erases_their_text_and_changes_no_decision(
    year: Year, year_copy: str, state: Path, tmp_path: Path
) -> None:
    url = year_copy
    objector = next(
        i.event.person_id for i in year.history if i.record.type == "vote_cast" and i.event.reason
    )
    before = json.loads(cli("audit", "timeline", year.engagement_id, "--json", url=url, state=state).stdout)
    assert any(e["person_id"] == objector and e["reason"] for e in before)

    refused = cli(
        "people", "forget", year.engagement_id, objector, "--as", "f01", "--reason", " ", url=url, state=state
    )
    assert refused.returncode == 1 and "--reason is empty" in refused.stderr
    unknown = cli(
        "people",
        "forget",
        year.engagement_id,
        "zz9",
        "--as",
        "f01",
        "--reason",
        "asked",
        url=url,
        state=state,
    )
    assert unknown.returncode == 1 and "there is no person 'zz9'" in unknown.stderr

    done = cli(
        "people", "forget", year.engagement_id, objector, "--as", "f01",
        "--reason", "erasure request by email, 2026-11-20", url=url, state=state,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "forgotten person #1" in done.stdout
    again = cli(
        "people",
        "forget",
        year.engagement_id,
        objector,
        "--as",
        "f01",
        "--reason",
        "again",
        url=url,
        state=state,
    )
    assert again.returncode == 1 and "was forgotten already, as forgotten person #1" in again.stderr

    # the timeline: the same entries and decisions; the person is "forgotten person #1", their text erased
    after = json.loads(cli("audit", "timeline", year.engagement_id, "--json", url=url, state=state).stdout)
    assert [(e["position"], e["event"], e["choice"]) for e in after] == [
        (e["position"], e["event"], e["choice"]) for e in before
    ]
    assert not [json.dumps(e) for e in after if objector in json.dumps(e)]
    theirs = [a for a, b in zip(after, before, strict=True) if b["person_id"] == objector]
    assert theirs and all(e["person_id"] == "forgotten person #1" for e in theirs)
    assert all(e["reason"] in (None, ERASED) for e in theirs)
    assert any(e["reason"] == ERASED for e in theirs)
    others = [
        (a, b)
        for a, b in zip(after, before, strict=True)
        if b["person_id"] != objector and b["reason"] and objector not in b["reason"]
    ]
    assert others and all(a["reason"] == b["reason"] for a, b in others)  # everyone else's text is intact

    # the log still verifies, and a bundle exported now verifies offline and shows the person forgotten
    verified = cli("audit", "verify", url=url, state=state)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    folder = tmp_path / "bundle"
    exported = cli("audit", "export", year.engagement_id, "--out", str(folder), "--personal-text", "included",
                   url=url, state=state)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert verify_bundle(folder).ok
    report = (folder / "report.html").read_text()
    assert "forgotten person #1" in report and f">{objector}<" not in report
    assert "included" in json.loads((folder / "proofs.json").read_text())["personal_text"]

    # with every key that remains (and the master key), the person's sealed text opens under none
    sealed = [
        value
        for value in _strings(_payloads(url, year.engagement_id))
        if value.startswith(PREFIX) and sealed_owner(value) == objector
    ]
    assert sealed
    remaining = asyncio.run(_remaining_keys(url, year.engagement_id))
    assert objector not in remaining
    for value in sealed:
        raw = value[len(PREFIX) + len(objector) + 1 :]
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        for key in remaining.values():
            with pytest.raises(InvalidTag):
                AESGCM(key).decrypt(blob[:12], blob[12:], None)


def test_forgetting_the_facilitator_keeps_the_organisations_assessment(
    year: Year, year_copy: str, state: Path
) -> None:
    url, written = year_copy, assessment("f01")
    with psycopg.connect(url) as conn:
        assessments = conn.execute(
            "SELECT event_id, payload FROM eventlog.events WHERE stream_id = %s AND event_type = %s",
            (year.engagement_id, "assessment_recorded"),
        ).fetchall()
    assert assessments and all(recorded["recorded_by"] == "f01" for _, recorded in assessments)
    done = cli("people", "forget", year.engagement_id, "f01", "--as", "f02", "--reason", "left, asked to be forgotten",
               url=url, state=state)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # The findings are sealed under the engagement's key, which forgetting f01 leaves alone: they still open.
    remaining = asyncio.run(_remaining_keys(url, year.engagement_id))
    assert "f01" not in remaining
    findings = ("past_co_production", "what_worked", "what_did_not_work", "approach_to_change")
    for event_id, recorded in assessments:  # the first, and the re-assessments a gate asked for
        opened = open_sealed("assessment_recorded", recorded, event_id, remaining)
        assert [opened[f] for f in findings] == [getattr(written, f) for f in findings]
        assert all(sealed_owner(recorded[f]) == ENGAGEMENT_OWNER for f in findings)


def test_a_redacted_bundle_shows_no_personal_text(year: Year, state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    exported = cli(
        "audit", "export", year.engagement_id, "--out", str(folder), url=year.database_url, state=state
    )
    assert exported.returncode == 0, exported.stderr
    report = (folder / "report.html").read_text()
    for text in personal_texts(year):
        assert text not in report, text
    assert "(withheld)" in report
    assert json.loads((folder / "proofs.json").read_text())["personal_text"].startswith("redacted")
    assert verify_bundle(folder).ok


def _payloads(url: str, engagement_id: str) -> list[object]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT payload FROM eventlog.events WHERE stream_id = %s", (engagement_id,)
        ).fetchall()
    return [row[0] for row in rows]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def _remaining_keys(url: str, engagement_id: str) -> dict[str, bytes]:
    log = await EventLog.open(url, min_size=1, max_size=1)
    try:
        return await PeopleRegister(log.pool, master_key(Settings())).all_keys(engagement_id)
    finally:
        await log.close()


def test_the_status_shows_a_forgotten_voter_by_their_number(year: Year) -> None:
    open_gate = next(s for s in year.weekly if s.gate is not None and s.gate.may_still_vote)
    assert open_gate.gate is not None
    person = open_gate.gate.may_still_vote[0]
    console = Console(width=200, record=True)
    console.print(status_view(open_gate, {person: "forgotten person #3"}))
    shown = console.export_text()
    assert "forgotten person #3" in shown
    assert not re.search(rf"(?<![\w-]){re.escape(person)}(?![\w-])", shown)
