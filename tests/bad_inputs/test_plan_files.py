"""Bad plan files, given to `coproduce plan check FILE` and `coproduce engagement start FILE`.

Each case breaks the quick plan of the CLI tests (tests/cli/test_end_to_end.py) in one way. A broken plan
must be refused with every problem named by its field path (the cases give each, exactly), and
`engagement start` must leave no trace:
no engagement started, nothing in the log. (tests/domain/test_broken_plans.py checks the parser's
messages for other broken plans, without the CLI.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_end_to_end import QUICK_PLAN

from .stack import LogChanged, Stack, assert_refused, said_by_the_command

Mutation = Callable[[str], str | bytes]


def edit(*pairs: tuple[str, str]) -> Mutation:
    """Replace each ``old`` by ``new`` once; ``old`` must be in the plan (so a changed plan is noticed)."""

    def apply(text: str) -> str:
        for old, new in pairs:
            assert old in text, f"the quick plan no longer contains {old!r}"
            text = text.replace(old, new, 1)
        return text

    return apply


def replace_phases(phases: str) -> Mutation:
    def apply(text: str) -> str:
        before, rest = text.split("\nphases:\n", 1)
        return f"{before}\nphases: {phases}\npace:{rest.split(chr(10) + 'pace:', 1)[1]}"

    return apply


ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefg", "bcdefgh", strict=True)
)


IMPLAUSIBLE = "is not a plausible date for an engagement; use a date from 2000-01-01 to 2099-12-31 (is the year a typo?)"


@dataclass(frozen=True)
class PlanCase:
    id: str
    command: str  # "check" or "start"
    mutate: Mutation
    expected: tuple[str, ...]  # every problem, exactly: "<field path>: <what is wrong>", in order
    problems: bool = True  # False: not a plan at all, `expected` is the one thing said after the file's name


CASES = [
    # -- malformed YAML and files that are not plans --------------------------------------------------
    PlanCase("unclosed-flow-mapping", "check",
             edit(("  - {id: sponsor, title: Sponsor}", "  - {id: sponsor, title: Sponsor")),
             ("line 8, column 5: is not valid YAML: expected ',' or '}', but got '{'",)),
    PlanCase("tab-indentation", "start", edit(("  - {id: sponsor", "\t- {id: sponsor")),
             ("line 7, column 1: is not valid YAML: found character '\\t' that cannot start any token",)),
    PlanCase("empty-file", "check", lambda _: "",
             ("(top): a plan is a YAML mapping of sections, got nothing",)),
    PlanCase("a-list-not-a-plan", "check", lambda _: "- title\n- phases\n",
             ("(top): a plan is a YAML mapping of sections, got list",)),
    PlanCase("latin-1-not-utf-8", "check", lambda text: text.replace("Test Trust", "Café Trust").encode("latin-1"),
             ("is not a plan (a YAML text file)",), problems=False),
    PlanCase("yaml-alias-bomb", "check", lambda text: "a: &a [x, x, x, x, x, x, x, x, x]\n" + ALIAS_BOMB + text,
             tuple(f"{key}: is not a known field here (check the spelling)" for key in "abcdefgh")),
    # -- wrong types --------------------------------------------------------------------------------
    PlanCase("organisation-is-a-string", "start",
             edit(("organisation: {name: Test Trust, sector: charity}", "organisation: Test Trust")),
             ("organisation: input should be a valid dictionary or instance of Organisation (got 'Test Trust')",)),
    PlanCase("objectives-is-a-number", "check", edit(("objectives: [Agree the plan]", "objectives: 3")),
             ("phases[0].objectives: input should be a valid tuple (got 3)",)),
    PlanCase("format-version-from-the-future", "check", edit(("\ntitle:", "\nformat_version: 2\ntitle:")),
             ("format_version: input should be 1 (got 2)",)),
    PlanCase("yes-read-as-a-boolean-id", "check", edit(("{id: d3,", "{id: yes,")),
             ("people[3].id: input should be a valid string (got True)",)),
    # -- unknown ids, empty or duplicated lists, gates nobody can satisfy -----------------------------
    PlanCase("decision-area-held-by-unknown-role", "check", edit(("holders: [board]", "holders: [boardd]")),
             ("decision_areas[0].holders[0]: unknown role 'boardd' (known: board, facilitator, sponsor, user-rep)",)),
    PlanCase("indicator-for-unknown-outcome", "check",
             edit(("data_source: Registers}", "data_source: Registers, outcome: happiness}")),
             ("evaluation.indicators[0].outcome: unknown outcome 'happiness' (known: voice)",)),
    PlanCase("empty-phase-list", "start", replace_phases("[]"),
             ("training.requirements[0].gates[0]: unknown phase 'train' (none are defined)",
              "training.requirements[0].gates[1]: unknown phase 'pilot' (none are defined)",
              "training.requirements[0].gates[2]: unknown phase 'widen' (none are defined)",
              "training.requirements[1].gates[0]: unknown phase 'pilot' (none are defined)",
              "phases: a plan needs at least one phase",
              "evaluation.milestones[0].at_end_of_phase: unknown phase 'pilot' (none are defined)")),
    PlanCase("duplicate-person", "start",
             edit(("constituency: staff}\n", "constituency: staff}\n"
                   "  - {id: u1, display_name: Uma Again, constituency: carer, roles: [user-rep]}\n")),
             ("people[9].id: duplicate id 'u1' (also people[4])",)),
    PlanCase("gate-no-constituency-can-satisfy", "start",
             edit(("quorum: {decision_maker: 1}}", "quorum: {decision_maker: 1, carer: 1}}")),
             ("phases[0].gate.quorum.carer: needs 1 carer approval but the people who can decide (sponsor, board) "
              "include only 0 with constituency 'carer'",)),
    PlanCase("quorum-of-unknown-constituency", "check",
             edit(("quorum: {decision_maker: 1}}", "quorum: {tenant: 1}}")),
             ("phases[0].gate.quorum.tenant: input should be 'service_user', 'carer', 'staff', 'decision_maker', "
              "'partner' or 'facilitator' (got 'tenant')",)),
    PlanCase("more-approvals-than-deciders", "check", edit(("approvals_required: 2", "approvals_required: 50")),
             ("phases[1].gate.approvals_required: needs 50 approvals but the people who can decide "
              "(board, user-rep) number only 6",)),
    # -- out-of-range values ---------------------------------------------------------------------------
    PlanCase("comfort-scale-upside-down", "check",
             edit(("  min_check_ins: 1\n", "  min_check_ins: 1\n  comfort_scale: {low: 5, high: 1}\n")),
             ("pace.comfort_scale: low (5) must be below high (1)",)),
    PlanCase("negative-check-in-interval", "check", edit(("check_in_every_days: 3", "check_in_every_days: -3")),
             ("pace.check_in_every_days: input should be greater than or equal to 1 (got -3)",)),
    PlanCase("comfort-threshold-nan", "check", edit(("comfort_threshold: 2", "comfort_threshold: .nan")),
             ("pace.comfort_threshold: input should be a finite number (got nan)",)),
    PlanCase("infinite-target", "start", edit(("target: 80", "target: .inf")),
             ("evaluation.indicators[0].target: input should be a finite number (got inf)",)),
    PlanCase("comfort-scale-beyond-json-integers", "start",
             edit(("  min_check_ins: 1\n", "  min_check_ins: 1\n  comfort_scale: {low: -99999999999999999999, high: 5}\n")),
             ("pace.comfort_scale.low: input should be greater than or equal to -100 (got -99999999999999999999)",)),
    PlanCase("escalation-after-a-billion-years", "start",
             edit(("escalate_after_days: 10", "escalate_after_days: 99999999999")),
             ("phases[0].escalate_after_days: input should be less than or equal to 3650 (got 99999999999)",)),
    # -- enormous strings, control characters ----------------------------------------------------------
    PlanCase("enormous-title", "start", edit(("title: Small test engagement", "title: " + "T" * 1_000_000)),
             ("title: string should have at most 500 characters",)),
    PlanCase("enormous-organisation-context", "check",
             edit(("sector: charity}", "sector: charity, context: " + "c" * 3_000_000 + "}")),
             ("organisation.context: string should have at most 20000 characters",)),
    PlanCase("enormous-organisation-context", "start",
             edit(("sector: charity}", "sector: charity, context: " + "c" * 3_000_000 + "}")),
             ("organisation.context: string should have at most 20000 characters",)),
    PlanCase("control-characters-in-title", "check",
             edit(("title: Small test engagement", 'title: "Small \\e[31mred\\a test"')),
             ("title: contains the control character U+001B (remove it)",)),
    PlanCase("nul-in-title", "start", edit(("title: Small test engagement", 'title: "Small\\0test"')),
             ("title: contains the control character U+0000 (remove it)",)),
    # -- impossible, far-past and far-future dates -------------------------------------------------------
    PlanCase("impossible-date", "check", edit(("starts_on: 2025-01-06", "starts_on: 2025-02-30")),
             ("starts_on: is not a date that exists (day value is outside expected range); write it YYYY-MM-DD "
              "(got '2025-02-30')",)),
    PlanCase("impossible-date", "start", edit(("starts_on: 2025-01-06", "starts_on: 2025-02-30")),
             ("starts_on: is not a date that exists (day value is outside expected range); write it YYYY-MM-DD "
              "(got '2025-02-30')",)),
    PlanCase("dates-from-year-1-to-9999", "start",
             edit(("starts_on: 2025-01-06", "starts_on: 0001-01-06"), ("ends_on: 2025-06-30", "ends_on: 9999-06-30"),
                  ("due_on: 2025-01-26", "due_on: 0001-01-26")),
             (f"starts_on: 0001-01-06 {IMPLAUSIBLE}", f"ends_on: 9999-06-30 {IMPLAUSIBLE}",
              f"evaluation.milestones[1].due_on: 0001-01-26 {IMPLAUSIBLE}")),
    PlanCase("dates-in-year-9999", "check",
             edit(("starts_on: 2025-01-06", "starts_on: 9999-01-06"), ("ends_on: 2025-06-30", "ends_on: 9999-06-30"),
                  ("due_on: 2025-01-26", "due_on: 9999-01-26")),
             (f"starts_on: 9999-01-06 {IMPLAUSIBLE}", f"ends_on: 9999-06-30 {IMPLAUSIBLE}",
              f"evaluation.milestones[1].due_on: 9999-01-26 {IMPLAUSIBLE}")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[f"{case.command}:{case.id}" for case in CASES])
def test_a_broken_plan_is_refused_with_its_problems_and_leaves_no_trace(
    stack: Stack, tmp_path: Path, case: PlanCase
) -> None:
    plan_file = tmp_path / f"{case.id}.yaml"
    content = case.mutate(QUICK_PLAN)
    if isinstance(content, bytes):
        plan_file.write_bytes(content)
    else:
        plan_file.write_text(content, encoding="utf-8")
    engagement_id = f"plan-{case.id}"
    before = stack.head()
    try:
        if case.command == "check":
            outcome = stack.coproduce("plan", "check", str(plan_file))
        else:
            outcome = stack.coproduce(
                "engagement", "start", str(plan_file), "--id", engagement_id, "--as", "f1"
            )
        after = stack.head()
        if (
            outcome.returncode not in (0, None)
            and case.command == "start"
            and stack.workflow_exists(engagement_id)
        ):
            raise LogChanged(f"refused, yet engagement {engagement_id} was started:\n{outcome.output}")
        assert_refused(outcome, before, after, said_by_the_command(_problems(case, str(plan_file))))
    finally:
        if case.command == "start":
            stack.terminate(engagement_id)  # a wrongly started engagement may be stuck retrying


def _problems(case: PlanCase, source: str) -> str:
    """What the command says about the plan: each problem on a line of its own, after the file's name
    (`plan check` counts them first)."""
    if not case.problems:
        return f"{source} {case.expected[0]}"
    lines = "\n".join(f"{source}: {problem}" for problem in case.expected)
    if case.command == "start":
        return lines
    count = len(case.expected)
    return f"{source} has {count} problem{'s' if count != 1 else ''}:\n{lines}"


def test_a_directory_is_not_a_plan(stack: Stack, tmp_path: Path) -> None:
    before = stack.head()
    outcome = stack.coproduce("plan", "check", str(tmp_path))
    assert_refused(
        outcome, before, stack.head(), said_by_the_command(f"{tmp_path} is not a plan (a YAML text file)")
    )
