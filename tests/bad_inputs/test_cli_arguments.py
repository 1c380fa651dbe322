"""Bad arguments to the `coproduce` command: wrong types, out-of-range values, unknown ids, bad dates,
enormous and odd strings. Each is refused with one sentence and exit 1 (2 for a usage error typer
reports), and the log is unchanged. (tests/cli/test_end_to_end.py has a dozen more; none is repeated.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import CATALOGUE
from .stack import ProductBug, Stack, UnclearMessage, assert_refused, known_bug

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


@dataclass(frozen=True)
class ArgCase:
    id: str
    args: tuple[str, ...]
    expected: tuple[str, ...]
    bug: type[ProductBug] | None = None
    why: str = ""
    exit_code: int = 1


CASES = [
    # -- wrong types and out-of-range numbers ------------------------------------------------------------
    ArgCase("comfort-not-a-number", ("record", "checkin", E, "--person", "u1", "--comfort", "nine"),
            ("Invalid value for '--comfort'",), exit_code=2),
    ArgCase("comfort-below-the-scale", ("record", "checkin", E, "--person", "u1", "--comfort", "-1"),
            ("comfort -1 is outside the scale 1..5",)),
    ArgCase("comfort-beyond-64-bits", ("record", "checkin", E, "--person", "u1", "--comfort", "99999999999999999999"),
            ("comfort 99999999999999999999 is outside the scale 1..5",)),
    ArgCase("session-of-zero-minutes",
            ("record", "session", E, "--as", "f1", "--type", "group_work", "--attendees", "u1", "--minutes", "0"),
            ("duration_minutes: Input should be greater than 0",)),
    ArgCase("negative-expenses",
            ("record", "contribution", E, "--as", "f1", "--person", "u1", "--minutes", "30", "--expenses-pence", "-5"),
            ("expenses_pence: Input should be greater than or equal to 0",)),
    ArgCase("measurement-nan", ("record", "measurement", E, "--as", "f1", "--indicator", "attendance", "--value", "nan"),
            ("value", "nan"), UnclearMessage,
            "says only 'error: Failed decoding arguments' (pydantic sends NaN as null and the worker "
            "cannot decode it); it should say the value must be a finite number"),
    ArgCase("measurement-infinite", ("record", "measurement", E, "--as", "f1", "--indicator", "attendance", "--value", "1e309"),
            ("value", "inf"), UnclearMessage, "says only 'error: Failed decoding arguments'"),
    ArgCase("oric-item-of-6", ("record", "assessment", E, "--as", "f1", "--from-file", ASSESSMENT),
            ("ORIC scores:", "(each item is 1 to 5)")),
    # -- unknown and malformed ids -------------------------------------------------------------------
    ArgCase("person-id-in-capitals", ("record", "checkin", E, "--person", "U1", "--comfort", "3"),
            ("U1",), UnclearMessage,
            "says \"person_id: String should match pattern '^{0,63}$'\": a regex, and mangled at that "
            "(fail() prints with rich markup on, which eats '[a-z0-9]')"),
    ArgCase("phase-id-in-capitals", ("gate", "decide", E, "--phase", "Setup", "--as", "d2", "--approve"),
            ("Setup",), UnclearMessage, "the same mangled regex: \"phase_id: String should match pattern '^{0,63}$'\""),
    ArgCase("engagement-id-with-space-and-slash", ("engagement", "start", QUICK, "--id", "bad id/with slash"),
            ("--id", "bad id/with slash"), UnclearMessage,
            "says \"engagement_id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'\""),
    ArgCase("engagement-id-with-markup", ("record", "checkin", "no[/such]", "--person", "u1", "--comfort", "4"),
            ("there is no engagement 'no[/such]'",)),
    ArgCase("attendee-not-in-the-engagement",
            ("record", "session", E, "--as", "f1", "--type", "group_work", "--attendees", "u1,zz9", "--minutes", "30"),
            ("person 'zz9' is not part of this engagement",)),
    ArgCase("no-attendees", ("record", "session", E, "--as", "f1", "--type", "group_work", "--attendees", ",,", "--minutes", "30"),
            ("attendee_ids: Tuple should have at least 1 item after validation, not 0",)),
    ArgCase("strategy-agreed-by-a-stranger", ("record", "evaluation-strategy", E, "--agreed-by", "zz9"),
            ("person 'zz9' is not part of this engagement",)),
    ArgCase("training-recorded-by-a-stranger",
            ("record", "training", E, "--as", "zz9", "--person", "u2", "--module", "sdm"),
            ("zz9",)),
    ArgCase("lead-not-in-the-plan", ("engagement", "start", QUICK, "--id", "lead-zz9", "--as", "zz9"),
            ("--as zz9: there is no person 'zz9' in the plan",)),
    ArgCase("engagement-id-taken", ("engagement", "start", QUICK, "--id", E),
            (f"an engagement with id '{E}' exists already; choose another id with --id",)),
    ArgCase("status-of-unknown-engagement", ("engagement", "status", "nowhere-1"),
            ("there is no engagement 'nowhere-1'; `coproduce engagement list` shows them",)),
    ArgCase("update-id-of-5000-characters",
            ("record", "checkin", E, "--person", "u1", "--comfort", "4", "--update-id", "k" * 5000),
            ("Temporal refused the request: UpdateId length exceeds limit.",)),
    # -- bad, far-past and far-future dates ---------------------------------------------------------------
    ArgCase("starts-on-month-13", ("engagement", "start", QUICK, "--id", "month-13", "--starts-on", "2025-13-01"),
            ("--starts-on '2025-13-01' is not a date (YYYY-MM-DD), 'today' or 'plan'",)),
    ArgCase("starts-on-year-9999", ("engagement", "start", QUICK, "--id", "year-9999", "--starts-on", "9999-12-01"),
            ("--starts-on",), UnclearMessage,
            "a traceback ending in 'OverflowError: date value out of range' (plan_rescheduled moves ends_on "
            "past 9999-12-31)"),
    ArgCase("as-of-february-30", ("audit", "state", E, "--as-of", "2026-02-30"),
            ("--as-of '2026-02-30' is not a date (YYYY-MM-DD) or an ISO time",)),
    ArgCase("as-of-year-1", ("audit", "state", E, "--as-of", "0001-01-01"),
            (f"engagement {E} started on", "after 0001-01-01")),
    # -- enormous and blank free text ---------------------------------------------------------------------
    ArgCase("pause-reason-of-100-kb", ("engagement", "pause", E, "--as", "f1", "--reason", HUGE),
            ("reason: String should have at most 20000 characters",)),
    ArgCase("blank-pause-reason", ("engagement", "pause", E, "--as", "f1", "--reason", "  \t "),
            ("reason: String should have at least 1 character",)),
    ArgCase("blank-check-in-note", ("record", "checkin", E, "--person", "u1", "--comfort", "3", "--note", "   "),
            ("note: String should have at least 1 character",)),
]  # fmt: skip


def _params() -> list[object]:
    return [
        pytest.param(case, id=case.id, marks=[known_bug(case.bug, case.why)] if case.bug else [])
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_a_bad_argument_is_refused_with_one_sentence_and_changes_nothing(
    stack: Stack, engagement: str, tmp_path: Path, case: ArgCase
) -> None:
    quick = stack.state_dir / f"{engagement}.yaml"  # the plan the catalogue's engagement started from
    assessment = tmp_path / "assessment.yaml"
    assessment.write_text(ORIC_SIX)
    args = [a.replace(QUICK, str(quick)).replace(ASSESSMENT, str(assessment)) for a in case.args]
    before = stack.head()
    started = [a for a in ("lead-zz9", "month-13", "year-9999") if a in args]
    try:
        outcome = stack.coproduce(*args)
        assert_refused(outcome, before, stack.head(), case.expected)
        assert outcome.returncode == case.exit_code, outcome.output
        for engagement_id in started:
            assert not stack.workflow_exists(engagement_id), f"{engagement_id} was started"
    finally:
        for engagement_id in started:
            stack.terminate(engagement_id)
