"""The read-only views auditors query with psql, as the auditor role, on a year recorded by the workflow."""

from __future__ import annotations

import psycopg
import pytest

from workers.database import migrate_database

from .conftest import Year


def as_auditor(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET ROLE coproduce_auditor")
    return conn


def test_the_views_say_what_the_log_says(year: Year) -> None:
    votes = [i for i in year.history if i.record.type == "vote_cast"]
    with as_auditor(year.database_url) as conn:
        [(engagement, organisation, events)] = conn.execute(
            "SELECT engagement_id, organisation, events FROM engagements.summary"
        ).fetchall()
        assert engagement == year.engagement_id and events == len(year.history)
        assert organisation == year.final.state.require_plan().organisation.name

        rows = conn.execute(
            "SELECT position, person_id, constituency, choice, reason FROM engagements.votes ORDER BY position"
        ).fetchall()
        assert [r[0] for r in rows] == [v.record.position for v in votes]
        for (_, person, constituency, choice, reason), vote in zip(rows, votes, strict=True):
            # the auditor's psql sees that a reason was given, never its text (sealed personal data)
            given = "(sealed)" if vote.event.reason is not None else None
            assert (person, choice, reason) == (vote.event.person_id, vote.event.choice, given)
            assert constituency  # from the gate's roster

        decided = conn.execute(
            "SELECT phase_id, round, outcome, objections FROM engagements.gate_decisions ORDER BY position"
        ).fetchall()
        assert len(decided) == sum(1 for i in year.history if i.record.type == "gate_decided")
        assert any(outcome != "passed" and objections > 0 for _, _, outcome, objections in decided)

        check_ins = conn.execute(
            "SELECT count(*), min(comfort), max(comfort) FROM engagements.check_ins"
        ).fetchone()
        assert check_ins[0] == year.final.state.check_in_count and 1 <= check_ins[1] <= check_ins[2] <= 5
        timeline = conn.execute("SELECT count(*) FROM engagements.timeline").fetchone()
        assert timeline[0] == len(year.history)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO eventlog.events (stream_id) VALUES ('x')",
        "DELETE FROM eventlog.events",
        "CREATE VIEW engagements.mine AS SELECT 1",
        "SELECT * FROM eventlog.events",  # the raw table: only the views are the auditor's
    ],
)
def test_the_auditor_can_read_views_but_change_nothing(year: Year, statement: str) -> None:
    with as_auditor(year.database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


async def test_migrating_again_changes_nothing(year: Year) -> None:
    assert await migrate_database(year.database_url) == []
