"""Bad arguments to the `coproduce` command: wrong types, out-of-range values, unknown ids, bad dates,
enormous and odd strings. Each is refused with one sentence and exit 1 (2 for a usage error typer
reports), and the log is unchanged. (tests/cli/test_end_to_end.py has a dozen more; none is repeated.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import CATALOGUE
from .stack import Stack, assert_refused, said_by_the_command

E = CATALOGUE
QUICK = "{quick}"  # replaced by the path of the quick plan
ASSESSMENT = "{assessment}"  # replaced by the path of an assessment with an ORIC item of 6
HUGE = "x" * 100_000  # one argument may hold 128 KiB; the free-text fields hold 20 000 characters

ORIC_SIX = """\
past_co_production: None.
what_worked: Listening events.
what_did_not_work: Surveys.
approach_to_change: Slow.
commitment_items: [4, 4, 6, 4, 4]
efficacy_items: [3, 3, 3, 3, 3, 3, 3]
"""


ID_RULE = "is not an id: use lower-case letters, digits, '-' and '_', up to 64 characters"


@dataclass(frozen=True)
class ArgCase:
    id: str
    args: tuple[str, ...]
    expected: str  # the sentence, exactly (after "error: ")
    exit_code: int = 1


CASES = [
    # -- wrong types and out-of-range numbers ------------------------------------------------------------
    ArgCase("comfort-below-the-scale", ("record", "checkin", E, "--person", "u1", "--comfort", "-1"),
            "comfort -1 is outside the scale 1..5"),
    ArgCase("comfort-beyond-64-bits", ("record", "checkin", E, "--person", "u1", "--comfort", "99999999999999999999"),
            "comfort 99999999999999999999 is outside the scale 1..5"),
    ArgCase("session-of-zero-minutes",
            ("record", "session", E, "--as", "f1", "--type", "group_work", "--attendees", "u1", "--minutes", "0"),
            "duration_minutes must be greater than 0, not 0"),
    ArgCase("negative-expenses",
            ("record", "contribution", E, "--as", "f1", "--person", "u1", "--minutes", "30", "--expenses-pence", "-5"),
            "expenses_pence must be at least 0, not -5"),
    ArgCase("measurement-nan", ("record", "measurement", E, "--as", "f1", "--indicator", "attendance", "--value", "nan"),
            "value must be a finite number, not nan"),
    ArgCase("measurement-infinite", ("record", "measurement", E, "--as", "f1", "--indicator", "attendance", "--value", "1e309"),
            "value must be a finite number, not inf"),
    ArgCase("oric-item-of-6", ("record", "assessment", E, "--as", "f1", "--from-file", ASSESSMENT),
            "ORIC scores: commitment_items[2] must be at most 5, not 6 (each item is 1 to 5)"),
    # -- unknown and malformed ids -------------------------------------------------------------------
    ArgCase("person-id-in-capitals", ("record", "checkin", E, "--person", "U1", "--comfort", "3"),
            f"person_id 'U1' {ID_RULE}"),
    ArgCase("phase-id-in-capitals", ("gate", "decide", E, "--phase", "Setup", "--as", "d2", "--approve"),
            f"phase_id 'Setup' {ID_RULE}"),
    ArgCase("engagement-id-with-space-and-slash", ("engagement", "start", QUICK, "--id", "bad id/with slash"),
            "engagement_id 'bad id/with slash' is not an engagement id: use letters, digits, '.', ':', '-' and "
            "'_', up to 128 characters"),
    ArgCase("engagement-id-with-markup", ("record", "checkin", "no[/such]", "--person", "u1", "--comfort", "4"),
            "there is no engagement 'no[/such]'; `coproduce engagement list` shows them"),
    ArgCase("attendee-not-in-the-engagement",
            ("record", "session", E, "--as", "f1", "--type", "group_work", "--attendees", "u1,zz9", "--minutes", "30"),
            "person 'zz9' is not part of this engagement"),
    ArgCase("no-attendees", ("record", "session", E, "--as", "f1", "--type", "group_work", "--attendees", ",,", "--minutes", "30"),
            "attendee_ids is empty: give at least 1"),
    ArgCase("strategy-agreed-by-a-stranger", ("record", "evaluation-strategy", E, "--agreed-by", "zz9"),
            "person 'zz9' is not part of this engagement"),
    ArgCase("training-recorded-by-a-stranger",
            ("record", "training", E, "--as", "zz9", "--person", "u2", "--module", "sdm"),
            "there is no person 'zz9' in this engagement"),
    ArgCase("lead-not-in-the-plan", ("engagement", "start", QUICK, "--id", "lead-zz9", "--as", "zz9"),
            "--as zz9: there is no person 'zz9' in the plan"),
    ArgCase("engagement-id-taken", ("engagement", "start", QUICK, "--id", E),
            f"an engagement with id '{E}' exists already; choose another id with --id"),
    ArgCase("status-of-unknown-engagement", ("engagement", "status", "nowhere-1"),
            "there is no engagement 'nowhere-1'; `coproduce engagement list` shows them"),
    ArgCase("update-id-of-5000-characters",
            ("record", "checkin", E, "--person", "u1", "--comfort", "4", "--update-id", "k" * 5000),
            "Temporal refused the request: UpdateId length exceeds limit."),
    # -- bad, far-past and far-future dates ---------------------------------------------------------------
    ArgCase("starts-on-month-13", ("engagement", "start", QUICK, "--id", "month-13", "--starts-on", "2025-13-01"),
            "--starts-on '2025-13-01' is not a date (YYYY-MM-DD), 'today' or 'plan'"),
    ArgCase("starts-on-year-9999", ("engagement", "start", QUICK, "--id", "year-9999", "--starts-on", "9999-12-01"),
            "the plan: starts_on: moved to start on 9999-12-01, the plan would end after the year 9999; choose a "
            "start date that keeps it within 2000-01-01 to 2099-12-31"),
    ArgCase("as-of-february-30", ("audit", "state", E, "--as-of", "2026-02-30"),
            "--as-of '2026-02-30' is not a date (YYYY-MM-DD) or an ISO time"),
    ArgCase("as-of-year-1", ("audit", "state", E, "--as-of", "0001-01-01"),
            f"engagement {E} started on {{started}}, after 0001-01-01"),
    # -- enormous and blank free text ---------------------------------------------------------------------
    ArgCase("pause-reason-of-100-kb", ("engagement", "pause", E, "--as", "f1", "--reason", HUGE),
            "reason has 100,000 characters, more than the 20,000 allowed"),
    ArgCase("blank-pause-reason", ("engagement", "pause", E, "--as", "f1", "--reason", "  \t "),
            "reason must not be blank"),
    ArgCase("blank-check-in-note", ("record", "checkin", E, "--person", "u1", "--comfort", "3", "--note", "   "),
            "note must not be blank"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_argument_is_refused_with_one_sentence_and_changes_nothing(
    stack: Stack, engagement: str, tmp_path: Path, case: ArgCase
) -> None:
    quick = stack.state_dir / f"{engagement}.yaml"  # the plan the catalogue's engagement started from
    assessment = tmp_path / "assessment.yaml"
    assessment.write_text(ORIC_SIX)
    args = [a.replace(QUICK, str(quick)).replace(ASSESSMENT, str(assessment)) for a in case.args]
    expected = case.expected.replace("{started}", _started_on(stack, engagement))
    before = stack.head()
    started = [a for a in ("lead-zz9", "month-13", "year-9999") if a in args]
    try:
        outcome = stack.coproduce(*args)
        assert_refused(outcome, before, stack.head(), said_by_the_command(expected))
        assert outcome.returncode == case.exit_code, outcome.output
        for engagement_id in started:
            assert not stack.workflow_exists(engagement_id), f"{engagement_id} was started"
    finally:
        for engagement_id in started:
            stack.terminate(engagement_id)


def test_a_value_of_the_wrong_type_is_a_usage_error(stack: Stack, engagement: str) -> None:
    """Typer refuses it before any of our code runs: exit 2, its usage lines and its boxed sentence."""
    before = stack.head()
    outcome = stack.coproduce("record", "checkin", engagement, "--person", "u1", "--comfort", "nine")
    assert outcome.returncode == 2 and stack.head() == before, outcome.output
    boxed = [line.strip("│ ") for line in outcome.stderr.splitlines() if line.startswith("│")]
    assert boxed == [
        "Invalid value for '--comfort': Input should be a valid integer, unable to parse string as an integer"
    ], outcome.stderr


def _started_on(stack: Stack, engagement: str) -> str:
    """The day the catalogue's engagement started (a refusal of an as-of date before it names it)."""
    (started,) = stack.sql(
        "SELECT occurred_at FROM eventlog.audit_events WHERE stream_id = %s AND stream_version = 1",
        (engagement,),
    )[0]
    return started.date().isoformat()  # type: ignore[attr-defined]
