"""SQL in user-supplied text is stored verbatim, as text, and never executed; ids refuse it outright.

Every free-text field a person fills in (plan title, organisation name and context, display names, check-in
and measurement notes, session notes, assessment findings, override, objection, pause, resume and
amendment reasons, and the update id, which the log keeps as the causation id) gets an SQL injection
attempt, through the `coproduce` command, the stock `temporal` CLI or a Python client. Each must come back
byte for byte: from the hashed entry for plan text, opened with the people register's keys for personal
text (which the log holds sealed), from the people register for names. The log's tables must all still be
there, its hash chain intact. Fields that are ids refuse such text. Last, free text must not break the
auditor's views.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client
from temporalio.converter import DataConverter

from application.audit.disclosure import register_keys
from application.privacy.sealing import fields_of, open_sealed
from tests.bad_inputs.stack import ProductBug, Stack
from tests.cli.test_end_to_end import QUICK_PLAN
from workers.codec import codec
from workers.keys import master_key
from workers.settings import Settings

ENGAGEMENT = "sec-sql"
SQL = {
    "title": "Co-production'); DROP TABLE eventlog.events; --",
    "organisation": 'Trust" OR "1"="1',
    "context": "$$; TRUNCATE eventlog.events; $$\n-- and again: '; DELETE FROM eventlog.checkpoints; --",
    "display_name": "Robert'); DELETE FROM eventlog.events WHERE true; --",
    "override": "'); DROP TABLE eventlog.events; --",
    "check_in": "x'); SELECT pg_sleep(30); --",
    "session": "1; TRUNCATE eventlog.events CASCADE; --",
    "measurement": "$$; UPDATE eventlog.events SET payload = '{}'; $$",
    "past_co_production": "' OR '1'='1",
    "what_worked": "'; COPY eventlog.events TO PROGRAM 'rm -rf /'; --",
    "what_did_not_work": "\\'; DROP SCHEMA eventlog CASCADE; --",
    "approach_to_change": "'; CREATE ROLE intruder SUPERUSER LOGIN; --",
    "objection": 'Robert"); DROP TABLE eventlog.checkpoints; --',
    "pause": "'; ALTER TABLE eventlog.events DISABLE TRIGGER ALL; --",
    "resume": "'; GRANT coproduce_owner TO coproduce_writer; --",
    "amend": "'; DROP ROLE coproduce_auditor; --",
    "amended_title": "New title'); DELETE FROM eventlog.events; --",
    "update_id": "'); DROP TABLE eventlog.events; -- (retry)",
}
TABLES = ("eventlog.events", "eventlog.checkpoints", "eventlog.subscriptions", "eventlog.audit_events",
          "engagements.timeline", "engagements.votes")  # fmt: skip


class BrokenView(ProductBug):
    """Text a person entered breaks a view of the record (a traceback instead of the text)."""


def _plan(title: str) -> str:
    plan = yaml.safe_load(QUICK_PLAN)
    plan["title"] = title
    plan["organisation"]["name"] = SQL["organisation"]
    plan["organisation"]["context"] = SQL["context"]
    plan["people"][0]["display_name"] = SQL["display_name"]  # f1
    return yaml.safe_dump(plan, sort_keys=False, allow_unicode=True)


def _at(payload: Any, path: str) -> Any:
    for part in path.split("."):
        payload = payload[int(part)] if isinstance(payload, list) else payload[part]
    return payload


@pytest.fixture(scope="module")
def recorded(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An engagement whose every free-text field held SQL; what it recorded, by field."""
    files = tmp_path_factory.mktemp("sql")
    e = stack.start_engagement(_plan(SQL["title"]), ENGAGEMENT)
    # The first phase is held (no check-ins yet): a facilitator overrides the hold, with a reason.
    stack.ok("gate", "override", e, "--phase", "setup", "--as", "f1", "--reason", SQL["override"])
    checked_in = stack.update(
        e, "record_check_in", json.dumps({"person_id": "u1", "comfort": 4, "note": SQL["check_in"]})
    )
    assert checked_in.returncode == 0, checked_in.output
    session = ("--type", "group_work", "--attendees", "u1,d2", "--minutes", "60")
    stack.ok("record", "session", e, "--as", "f1", *session, "--notes", SQL["session"])
    for name, payload in (
        ("agree_evaluation_strategy", {"agreed_by": ["f1", "d1", "u1"]}),
        ("record_measurement", {"by": "f1", "indicator": "waits", "value": 35, "note": SQL["measurement"]}),
    ):
        done = stack.update(e, name, json.dumps(payload))
        assert done.returncode == 0, done.output
    findings = ("past_co_production", "what_worked", "what_did_not_work", "approach_to_change")
    assessment = files / "assessment.yaml"
    scores = {"commitment_items": [4, 4, 4, 4, 4], "efficacy_items": [3, 3, 3, 3, 3, 3, 3]}
    assessment.write_text(yaml.safe_dump({**{k: SQL[k] for k in findings}, **scores}))
    stack.ok("record", "assessment", e, "--as", "f1", "--from-file", str(assessment))
    stack.ok("record", "checkin", e, "--person", "u2", "--comfort", "5", "--update-id", SQL["update_id"])

    async def object_() -> None:  # a Python client with the SDK's default converter: a plain dict
        converter = dataclasses.replace(DataConverter.default, payload_codec=codec(Settings()))
        client = await Client.connect(str(stack.info()["temporal_address"]), data_converter=converter)
        await client.get_workflow_handle(e).execute_update(
            "decide_gate",
            {"person_id": "d2", "phase_id": "setup", "choice": "object", "reason": SQL["objection"]},
            id="sql-objection",
        )

    asyncio.run(object_())
    stack.ok("engagement", "pause", e, "--as", "f1", "--reason", SQL["pause"])
    resumed = stack.update(e, "resume", json.dumps({"by": "f1", "reason": SQL["resume"]}))
    assert resumed.returncode == 0, resumed.output
    amended = files / "amended.yaml"
    amended.write_text(_plan(SQL["amended_title"]))
    stack.ok("engagement", "amend", e, str(amended), "--as", "f1", "--reason", SQL["amend"])
    rows = stack.sql(
        "SELECT event_type, payload, entry, causation_id, event_id FROM eventlog.audit_events WHERE stream_id = %s"
        " ORDER BY position",
        (e,),
    )
    keys = asyncio.run(register_keys(stack.database_url, e, master_key(Settings(), create=False)))
    assert keys, "this test process shares the stack's master key"
    opened = [
        (t, open_sealed(t, payload, event_id, keys), entry, cause)
        for t, payload, entry, cause, event_id in rows
    ]
    return {"rows": opened}


WHERE = [  # (field, event type, path in its payload)
    ("title", "engagement_started", "plan.title"),
    ("organisation", "engagement_started", "plan.organisation.name"),
    ("context", "engagement_started", "plan.organisation.context"),
    ("display_name", "engagement_started", "plan.people.0.display_name"),
    ("override", "pace_overridden", "reason"),
    ("check_in", "check_in_recorded", "note"),
    ("session", "session_held", "notes"),
    ("measurement", "measurement_recorded", "note"),
    ("past_co_production", "assessment_recorded", "past_co_production"),
    ("what_worked", "assessment_recorded", "what_worked"),
    ("what_did_not_work", "assessment_recorded", "what_did_not_work"),
    ("approach_to_change", "assessment_recorded", "approach_to_change"),
    ("objection", "vote_cast", "reason"),
    ("pause", "engagement_paused", "reason"),
    ("resume", "engagement_resumed", "reason"),
    ("amend", "plan_amended", "reason"),
    ("amended_title", "plan_amended", "plan.title"),
]


@pytest.mark.parametrize(("field", "event_type", "path"), WHERE, ids=[w[0] for w in WHERE])
def test_sql_in_free_text_is_stored_byte_for_byte(
    stack: Stack, recorded: dict[str, Any], field: str, event_type: str, path: str
) -> None:
    text = SQL[field]
    in_json = json.dumps(text, ensure_ascii=False)[1:-1].encode()  # the text as the canonical bytes hold it
    rows = [row for row in recorded["rows"] if row[0] == event_type]
    assert rows, f"no {event_type} was recorded"
    if field == "display_name":  # names go to the people register; the log names people by id
        names = stack.sql(
            "SELECT display_name FROM engagements.people_register WHERE engagement_id = %s AND person_id = 'f1'",
            (ENGAGEMENT,),
        )
        assert names == [(text,)]
        assert not any(in_json in bytes(entry) for _, _, entry, _ in rows)
        return
    assert any(_at(payload, path) == text for _, payload, _, _ in rows), [_at(p, path) for _, p, _, _ in rows]
    personal = any(f.path == path for f in fields_of(event_type))
    held = any(in_json in bytes(entry) for _, _, entry, _ in rows)
    assert held != personal, "plan text is held verbatim in the hashed entry; personal text only sealed"


def test_sql_in_an_update_id_is_kept_verbatim_as_the_causation_id(recorded: dict[str, Any]) -> None:
    causes = [cause for event_type, _, _, cause in recorded["rows"] if event_type == "check_in_recorded"]
    assert SQL["update_id"] in causes


def test_the_log_is_whole_after_the_injection_attempts(stack: Stack, recorded: dict[str, Any]) -> None:
    for table in TABLES:
        assert stack.sql("SELECT to_regclass(%s) IS NOT NULL", (table,)) == [(True,)], table
    assert stack.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'intruder'") == [(0,)]
    enabled = stack.sql("SELECT tgenabled FROM pg_trigger WHERE tgname = 'events_append_only'")
    assert enabled == [("A",)]  # ENABLE ALWAYS, still
    count = stack.sql("SELECT count(*) FROM eventlog.events WHERE stream_id = %s", (ENGAGEMENT,))
    assert count == [(len(recorded["rows"]),)]
    verified = stack.coproduce("audit", "verify", ENGAGEMENT)
    assert verified.returncode == 0 and "log: OK" in verified.stdout, verified.output
    timeline = stack.sql(
        "SELECT reason FROM engagements.timeline WHERE engagement_id = %s AND reason IS NOT NULL",
        (ENGAGEMENT,),
    )
    reasons = {reason for (reason,) in timeline}
    assert reasons == {"(sealed)"}  # personal text: the auditor's psql sees that it was given, not what


def test_an_organisation_name_with_quotes_survives_the_search_attributes(
    stack: Stack, recorded: dict[str, Any]
) -> None:
    listed = json.loads(stack.ok("engagement", "list", "--json").stdout)
    assert {"id": ENGAGEMENT, "organisation": SQL["organisation"]}.items() <= next(
        row for row in listed if row["id"] == ENGAGEMENT
    ).items()


@pytest.mark.parametrize(
    "attempt",
    ["engagement-id", "person-id", "phase-id", "module-id"],
)
def test_sql_in_an_id_is_refused_before_it_reaches_anything(
    stack: Stack, recorded: dict[str, Any], tmp_path: Path, attempt: str
) -> None:
    sql = "x'); DROP TABLE eventlog.events; --"
    before = stack.head()
    if attempt == "engagement-id":
        plan = tmp_path / "plan.yaml"
        plan.write_text(QUICK_PLAN)
        done = stack.coproduce("engagement", "start", str(plan), "--id", sql)
    elif attempt == "person-id":
        done = stack.update(ENGAGEMENT, "record_check_in", json.dumps({"person_id": sql, "comfort": 4}))
    elif attempt == "phase-id":
        done = stack.coproduce("gate", "decide", ENGAGEMENT, "--phase", sql, "--as", "d3", "--approve")
    else:
        done = stack.coproduce(
            "record", "training", ENGAGEMENT, "--as", "f1", "--person", "u1", "--module", sql
        )
    assert done.returncode not in (0, None), done.output
    assert stack.head() == before
    assert stack.sql("SELECT to_regclass('eventlog.events') IS NOT NULL") == [(True,)]


def test_free_text_cannot_break_the_auditors_timeline(stack: Stack) -> None:
    engagement = stack.start_engagement(QUICK_PLAN, "sec-markup")
    note = "[/oops] and [bold]APPROVED BY THE BOARD[/bold]"
    checked_in = stack.update(
        engagement, "record_check_in", json.dumps({"person_id": "u1", "comfort": 4, "note": note})
    )
    assert checked_in.returncode == 0, checked_in.output
    timeline = stack.coproduce("audit", "timeline", engagement)
    if timeline.returncode != 0 or note not in timeline.stdout:
        raise BrokenView(f"exit {timeline.returncode}:\n{timeline.output[-1500:]}")
