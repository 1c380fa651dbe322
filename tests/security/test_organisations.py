"""One client organisation's auditor, in psql, against another organisation's engagements.

Two organisations start engagements on the running stack (the real ``engagement start``). An
administrator gives organisation A's auditor a database login of its own and grants it A
(``coproduce organisations grant-login``). That login then tries every read we can think of on B's
rows: each view by B's engagement id, by position, by counting; the raw tables; the scope tables;
becoming the whole-log auditor; switching row security off. Each time it sees A's rows only, or is
refused, and B's id appears nowhere in what it gets back.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.bad_inputs.stack import Stack
from tests.domain.plans import SMALL_PLAN_YAML

RIVERSIDE = SMALL_PLAN_YAML.replace(
    "organisation: {name: Test Trust, sector: charity}",
    "organisation: {name: Riverside Housing (scopes test), sector: housing}",
)
HILLTOP = SMALL_PLAN_YAML.replace(
    "organisation: {name: Test Trust, sector: charity}",
    "organisation: {name: Hilltop Care, sector: charity, id: hilltop-scopes-test}",
)
A, B = "riverside-housing-scopes-test", "hilltop-scopes-test"

# Every view an auditor may read, with the column naming the engagement (or stream) of each row.
VIEWS = {
    "eventlog.audit_events": "stream_id",
    "eventlog.audit_streams": "stream_id",
    "engagements.summary": "engagement_id",
    "engagements.timeline": "engagement_id",
    "engagements.votes": "engagement_id",
    "engagements.gate_decisions": "engagement_id",
    "engagements.check_ins": "engagement_id",
    "engagements.measurements": "engagement_id",
    "engagements.open_gates": "engagement_id",
}


@pytest.fixture(scope="module")
def two_organisations(stack: Stack) -> dict[str, list[str]]:
    """Two engagements of Riverside's, one of Hilltop's, each with a check-in."""
    suffix = secrets.token_hex(3)
    engagements = {A: [f"riverside-{suffix}-1", f"riverside-{suffix}-2"], B: [f"hilltop-{suffix}"]}
    for organisation, plan in ((A, RIVERSIDE), (B, HILLTOP)):
        for engagement in engagements[organisation]:
            stack.start_engagement(plan, engagement)
            stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")
    return engagements


@contextmanager
def new_login(stack: Stack) -> Iterator[tuple[str, str]]:
    """A fresh database login with a password and no rights yet; dropped afterwards."""
    name, password = f"org_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with psycopg.connect(stack.database_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password))
        )
    try:
        yield name, password
    finally:
        with psycopg.connect(stack.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def riverside_credentials(stack: Stack, two_organisations: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    """Riverside's auditor's own login, granted A by an administrator."""
    with new_login(stack) as (name, password):
        stack.ok("organisations", "grant-login", A, name)
        yield name, password


@pytest.fixture
def riverside_login(stack: Stack, two_organisations: dict[str, list[str]]) -> Iterator[psycopg.Connection]:
    """Riverside's auditor, logged in as themself in psql's way, after an administrator granted them A."""
    with new_login(stack) as (name, password):
        granted = json.loads(stack.ok("organisations", "grant-login", A, name, "--json").stdout)
        assert granted["id"] == A and name in granted["logins"]
        with psycopg.connect(stack.database_url, user=name, password=password, autocommit=True) as conn:
            yield conn


def test_each_engagement_belongs_to_its_organisation(
    stack: Stack, two_organisations: dict[str, list[str]]
) -> None:
    listed = {row["id"]: row for row in json.loads(stack.ok("organisations", "list", "--json").stdout)}
    assert listed[A]["names"] == ["Riverside Housing (scopes test)"]
    assert listed[A]["engagements"] == sorted(two_organisations[A])
    assert listed[B]["engagements"] == two_organisations[B]  # the plan's own id, not the name's slug
    words = stack.ok("organisations", "list").stdout
    assert f"{A} (Riverside Housing (scopes test)): 2 engagement(s)" in words


@pytest.mark.parametrize("view", VIEWS)
def test_the_login_reads_its_organisations_rows_and_no_others(
    stack: Stack, two_organisations: dict[str, list[str]], riverside_login: psycopg.Connection, view: str
) -> None:
    column = VIEWS[view]
    ours = set(two_organisations[A]) | {f"people/{e}" for e in two_organisations[A]}
    theirs = two_organisations[B][0]
    rows = riverside_login.execute(f"SELECT {column}, t::text FROM {view} t").fetchall()
    assert {row[0] for row in rows} <= ours, f"{view} shows another organisation's rows"
    assert not any(theirs in text for _, text in rows)
    assert riverside_login.execute(
        f"SELECT count(*) FROM {view} WHERE {column} = %s", (theirs,)
    ).fetchone() == (0,)
    if view in (
        "eventlog.audit_events",
        "engagements.summary",
        "engagements.timeline",
        "engagements.check_ins",
    ):
        assert {row[0] for row in rows} >= set(two_organisations[A])  # and it does see its own
        with psycopg.connect(stack.database_url, autocommit=True) as admin:  # everyone else sees all
            admin.execute("SET ROLE coproduce_auditor")
            assert (
                admin.execute(f"SELECT count(*) FROM {view} WHERE {column} = %s", (theirs,)).fetchone()[0] > 0
            )


def test_the_login_cannot_find_the_other_organisations_events_by_position(
    stack: Stack, two_organisations: dict[str, list[str]], riverside_login: psycopg.Connection
) -> None:
    theirs = [row[0] for row in stack.sql(
        "SELECT position FROM eventlog.audit_events WHERE stream_id = %s", (two_organisations[B][0],)
    )]  # fmt: skip
    assert theirs
    found = riverside_login.execute(
        "SELECT count(*) FROM eventlog.audit_events WHERE position = ANY(%s)", (theirs,)
    ).fetchone()
    assert found == (0,)
    (size,) = riverside_login.execute("SELECT size FROM eventlog.audit_head").fetchone()
    assert size not in theirs  # the head it sees is its own last event, never one of B's


@pytest.mark.parametrize(
    "statement",
    [
        "SET ROLE coproduce_auditor",  # the whole-log auditor's rights are inherited, not reachable
        "SET ROLE coproduce_writer",
        "SELECT * FROM eventlog.events",  # the raw table: only the views
        "SELECT * FROM eventlog.stream_scopes",  # which stream is whose would name B's engagements
        "SELECT * FROM eventlog.reader_scopes",
        "DELETE FROM eventlog.reader_scopes",
        "INSERT INTO eventlog.reader_scopes (reader, scope) VALUES (current_user, 'hilltop-scopes-test')",
        "ALTER TABLE eventlog.events DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE eventlog.events NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY readers_see_their_scopes ON eventlog.events",
    ],
)
def test_the_login_cannot_get_around_its_scope(riverside_login: psycopg.Connection, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        riverside_login.execute(statement)


def test_row_security_cannot_be_switched_off_by_the_login(riverside_login: psycopg.Connection) -> None:
    riverside_login.execute("SET row_security = off")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        riverside_login.execute("SELECT count(*) FROM eventlog.audit_events")


def test_the_scoped_role_alone_reads_nothing(riverside_login: psycopg.Connection) -> None:
    riverside_login.execute("SET ROLE coproduce_scoped_auditor")  # no scope is granted to the role itself
    for view, column in VIEWS.items():
        assert riverside_login.execute(f"SELECT count({column}) FROM {view}").fetchone() == (0,), view


def test_a_revoked_login_reads_nothing_at_its_next_query(
    stack: Stack, two_organisations: dict[str, list[str]], riverside_login: psycopg.Connection
) -> None:
    (login,) = riverside_login.execute("SELECT current_user").fetchone()
    assert riverside_login.execute("SELECT count(*) FROM engagements.summary").fetchone() == (2,)
    said = stack.ok("organisations", "revoke-login", A, login).stdout
    assert f"{login} no longer reads {A}'s engagements" in said
    assert riverside_login.execute("SELECT count(*) FROM engagements.summary").fetchone() == (0,)
    again = json.loads(stack.ok("organisations", "revoke-login", A, login, "--json").stdout)
    assert again == {"organisation": A, "login": login, "revoked": False}


@pytest.mark.parametrize(
    ("grant", "said"),
    [
        (
            "ALTER ROLE {} SUPERUSER",
            "is a superuser or bypasses row-level security, so no scope can limit it",
        ),
        (
            "ALTER ROLE {} BYPASSRLS",
            "is a superuser or bypasses row-level security, so no scope can limit it",
        ),
        ("GRANT coproduce_auditor TO {}", "can read every event as coproduce_auditor; revoke that"),
        ("GRANT coproduce_writer TO {}", "holds the writer's or the owner's rights and reads every event"),
    ],
)
def test_a_login_that_reads_everything_is_not_granted_an_organisation(
    stack: Stack, two_organisations: dict[str, list[str]], grant: str, said: str
) -> None:
    with new_login(stack) as (name, _):
        with psycopg.connect(stack.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL(grant).format(sql.Identifier(name)))
        done = stack.coproduce("organisations", "grant-login", A, name)
        assert done.returncode != 0 and said in done.output, done.output
        assert "Traceback" not in done.output
        granted = stack.sql("SELECT count(*) FROM eventlog.reader_scopes WHERE reader = %s", (name,))
        assert granted == [(0,)]  # nothing half-written
        member = stack.sql(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = 'coproduce_scoped_auditor' AND u.rolname = %s",
            (name,),
        )
        assert member == [(0,)]  # not granted the role either


def test_a_login_that_does_not_exist_is_named(stack: Stack, two_organisations: dict[str, list[str]]) -> None:
    done = stack.coproduce("organisations", "grant-login", A, "nobody_by_this_name")
    assert done.returncode != 0
    assert "there is no database login 'nobody_by_this_name'; create it first" in done.output


def test_an_unknown_organisation_is_refused_in_one_sentence(
    stack: Stack, two_organisations: dict[str, list[str]]
) -> None:
    with new_login(stack) as (name, _):
        done = stack.coproduce("organisations", "grant-login", "no-such-org", name)
    assert done.returncode != 0
    assert "there is no organisation 'no-such-org' with engagements in the log" in done.output


def test_engagements_from_before_organisations_are_put_in_theirs_by_migrate(
    stack: Stack, two_organisations: dict[str, list[str]]
) -> None:
    engagement = two_organisations[B][0]
    with psycopg.connect(stack.database_url, autocommit=True) as admin:  # as a log written before 0004
        admin.execute(
            "DELETE FROM eventlog.stream_scopes WHERE stream_id IN (%s, %s)",
            (engagement, f"people/{engagement}"),
        )
    stack.ok("db", "migrate")
    scopes = stack.sql(
        "SELECT stream_id, scope FROM eventlog.stream_scopes WHERE stream_id IN (%s, %s) ORDER BY 1",
        (engagement, f"people/{engagement}"),
    )
    assert scopes == [(engagement, B), (f"people/{engagement}", B)]


def test_an_organisations_export_holds_its_engagements_and_no_other_organisations_events(
    stack: Stack, two_organisations: dict[str, list[str]], tmp_path: Path
) -> None:
    out = tmp_path / "riverside"
    done = json.loads(stack.ok("audit", "export", "--organisation", A, "--out", str(out), "--json").stdout)
    assert done["organisation"] == A
    assert sorted(b["engagement_id"] for b in done["bundles"]) == sorted(two_organisations[A])
    assert sorted(p.name for p in out.iterdir()) == sorted(two_organisations[A])
    theirs = two_organisations[B][0]
    their_entries = [
        bytes(row[0])
        for row in stack.sql("SELECT entry FROM eventlog.audit_events WHERE stream_id = %s", (theirs,))
    ]
    for file in (f for f in out.rglob("*") if f.is_file()):
        data = file.read_bytes()
        assert theirs.encode() not in data, file
        assert not any(entry in data for entry in their_entries), file
    checkpoints = {(out / e / "checkpoint.txt").read_text() for e in two_organisations[A]}
    assert len(checkpoints) == 1  # one checkpoint of the whole log proves both bundles
    for engagement in two_organisations[A]:
        assert "OK" in stack.ok("audit", "verify-bundle", str(out / engagement)).stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("--organisation", "no-such-org"),
            "there is no organisation 'no-such-org' with engagements in the log",
        ),
        (("some-engagement", "--organisation", A), "give either an engagement's id or --organisation ORG"),
        ((), "give either an engagement's id or --organisation ORG"),
    ],
)
def test_an_export_asked_for_wrongly_is_refused_in_one_sentence(
    stack: Stack, two_organisations: dict[str, list[str]], tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    before = stack.head()
    done = stack.coproduce("audit", "export", *args, "--out", str(tmp_path / "nothing"))
    assert done.returncode != 0 and said in done.output, done.output
    assert not (tmp_path / "nothing").exists() and stack.head() == before  # nothing written, nothing signed


def test_the_coproduce_command_as_that_login_reads_its_organisation_and_says_nothing_of_the_other(
    stack: Stack, two_organisations: dict[str, list[str]], riverside_credentials: tuple[str, str]
) -> None:
    name, password = riverside_credentials
    env = {
        **stack.env,
        "COPRODUCE_DATABASE_URL": make_conninfo(stack.database_url, user=name, password=password),
    }

    def audit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "coproduce", "audit", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ours, theirs = two_organisations[A][0], two_organisations[B][0]
    shown = audit("timeline", ours, "--json")
    assert shown.returncode == 0, shown.stderr
    assert any(entry["event"] == "check_in_recorded" for entry in json.loads(shown.stdout))
    for command in (
        ("timeline", theirs),
        ("state", theirs, "--as-of", "2099-01-01"),
        ("timeline", theirs, "--json"),
    ):
        refused = audit(*command)
        assert refused.returncode == 1, refused
        assert refused.stdout == "" and "Traceback" not in refused.stderr
        [sentence] = refused.stderr.strip().splitlines()
        nowhere = audit(command[0], "no-such-engagement", *command[2:])
        # the same answer as for an engagement that does not exist: nothing says B's is there
        assert sentence == nowhere.stderr.strip().replace("no-such-engagement", theirs), (
            sentence,
            nowhere.stderr,
        )
