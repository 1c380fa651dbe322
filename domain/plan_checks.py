"""Cross-reference checks on a structurally valid plan: every problem, with its field path.

Pydantic checks each field on its own; these checks look across fields: duplicate ids, unknown
person/role/module/indicator/phase ids, a gate nobody in the plan can satisfy, a comfort threshold off
the scale, a target equal to its baseline, a date centuries away, and other mistakes a consultant would want caught before an
engagement starts rather than months into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from domain.change_policy import ANYONE
from domain.errors import PlanProblem
from domain.vocabulary import CONSTITUENCIES, rung_index

if TYPE_CHECKING:
    from domain.people import Person
    from domain.phases import Phase
    from domain.plan import Plan


# The dates a plan may use. Engagements run for months, now: a date outside these is a typo (9999 for
# 2025), and would start an engagement that never falls due, or overflow date arithmetic.
FIRST_PLAN_DAY = date(2000, 1, 1)
LAST_PLAN_DAY = date(2099, 12, 31)


def date_problem(day: date) -> str | None:
    """Why a plan may not use ``day`` (None: it may)."""
    if FIRST_PLAN_DAY <= day <= LAST_PLAN_DAY:
        return None
    return (
        f"{day.isoformat()} is not a plausible date for an engagement; use a date from "
        f"{FIRST_PLAN_DAY.isoformat()} to {LAST_PLAN_DAY.isoformat()} (is the year a typo?)"
    )


def plan_problems(plan: Plan) -> list[PlanProblem]:
    """Everything wrong with `plan` across fields, in the order of the plan's sections."""
    problems: list[PlanProblem] = []

    def add(path: str, message: str) -> None:
        problems.append(PlanProblem(path, message))

    for path, day in (("starts_on", plan.starts_on), ("ends_on", plan.ends_on)):
        if (problem := date_problem(day)) is not None:
            add(path, problem)
    if plan.ends_on <= plan.starts_on:
        add("ends_on", f"must be after starts_on ({plan.starts_on.isoformat()})")

    for path, items, attr in (
        ("roles", plan.roles, "id"),
        ("people", plan.people, "id"),
        ("training.modules", plan.training.modules, "id"),
        ("phases", plan.phases, "id"),
        ("evaluation.outcomes", plan.evaluation.outcomes, "id"),
        ("evaluation.indicators", plan.evaluation.indicators, "key"),
        ("evaluation.milestones", plan.evaluation.milestones, "id"),
        ("decision_areas", plan.decision_areas, "id"),
    ):
        _check_unique(add, path, items, attr)

    roles = {role.id for role in plan.roles}
    modules = {module.id for module in plan.training.modules}
    phases = {phase.id for phase in plan.phases}
    indicators = {indicator.key for indicator in plan.evaluation.indicators}
    outcomes = {outcome.id for outcome in plan.evaluation.outcomes}

    for i, person in enumerate(plan.people):
        _check_known(add, f"people[{i}].roles", person.roles, roles, "role")

    for i, requirement in enumerate(plan.training.requirements):
        path = f"training.requirements[{i}]"
        _check_known(add, f"{path}.roles", requirement.roles, roles, "role")
        _check_known(add, f"{path}.modules", requirement.modules, modules, "training module")
        _check_known(add, f"{path}.gates", requirement.gates or (), phases, "phase")

    if not plan.phases:
        add("phases", "a plan needs at least one phase")
    widened_in: str | None = None
    for i, phase in enumerate(plan.phases):
        if phase.cohort == "wider" and widened_in is None:
            widened_in = phase.id
        elif phase.cohort == "initial" and widened_in is not None:
            add(f"phases[{i}].cohort", f"is 'initial' but phase '{widened_in}' already widened the cohort")
        _check_phase(add, plan, i, phase, roles, modules, indicators, widened_in is not None)

    _check_pace(add, plan)
    _check_changes(add, plan, roles)

    for i, indicator in enumerate(plan.evaluation.indicators):
        path = f"evaluation.indicators[{i}]"
        if indicator.outcome is not None and indicator.outcome not in outcomes:
            add(f"{path}.outcome", f"unknown outcome '{indicator.outcome}'{_known(outcomes)}")
        baseline, target = indicator.baseline, indicator.target
        if baseline is None:
            continue
        if target == baseline:
            add(f"{path}.target", f"equals the baseline ({_num(baseline)}); a target must differ from it")
        elif indicator.direction == "up" and target < baseline:
            add(
                f"{path}.target",
                f"{_num(target)} is below the baseline {_num(baseline)} but direction is 'up' (more is better)",
            )
        elif indicator.direction == "down" and target > baseline:
            add(
                f"{path}.target",
                f"{_num(target)} is above the baseline {_num(baseline)} but direction is 'down' (less is better)",
            )

    for group, count in (plan.evaluation.agreed_by or {}).items():
        have = sum(1 for person in plan.people if person.constituency == group and person.cohort == "initial")
        if have < count:
            add(
                f"evaluation.agreed_by.{group}",
                f"needs {count} {group.replace('_', ' ')} to agree the strategy but the initial group has {have}",
            )

    for i, milestone in enumerate(plan.evaluation.milestones):
        path = f"evaluation.milestones[{i}]"
        _check_known(add, f"{path}.indicators", milestone.indicators, indicators, "indicator")
        given = [milestone.at_end_of_phase, milestone.due_on, milestone.after_completion_days]
        if sum(1 for when in given if when is not None) != 1:
            add(path, "give exactly one of at_end_of_phase, due_on or after_completion_days")
        if milestone.after_completion_days is not None:
            if plan.follow_up is None:
                add(
                    f"{path}.after_completion_days",
                    "the plan has no follow_up period, so nothing falls due after the last phase; add "
                    "follow_up: {days: N}",
                )
            elif milestone.after_completion_days >= plan.follow_up.days:
                add(
                    f"{path}.after_completion_days",
                    f"{milestone.after_completion_days} days leaves no time to measure it before the follow-up "
                    f"ends ({plan.follow_up.days} days after the last phase); end the follow-up later",
                )
        if milestone.at_end_of_phase is not None and milestone.at_end_of_phase not in phases:
            add(f"{path}.at_end_of_phase", f"unknown phase '{milestone.at_end_of_phase}'{_known(phases)}")
        if milestone.due_on is not None and (problem := date_problem(milestone.due_on)) is not None:
            add(f"{path}.due_on", problem)
        elif milestone.due_on is not None and not plan.starts_on <= milestone.due_on <= plan.ends_on:
            add(f"{path}.due_on", f"{milestone.due_on.isoformat()} is outside the plan's dates")

    for i, area in enumerate(plan.decision_areas):
        path = f"decision_areas[{i}]"
        _check_known(add, f"{path}.holders", area.holders, roles, "role")
        if rung_index(area.target) < rung_index(area.current):
            add(f"{path}.target", f"'{area.target}' is below the current rung '{area.current}'")

    if plan.recognition.method != "none" and plan.recognition.pence_per_hour == 0:
        add("recognition.pence_per_hour", f"must be above 0 when the method is '{plan.recognition.method}'")
    return problems


def _check_phase(
    add: Any,
    plan: Plan,
    i: int,
    phase: Phase,
    roles: set[str],
    modules: set[str],
    indicators: set[str],
    widened: bool,
) -> None:
    path = f"phases[{i}]"
    for j, activity in enumerate(phase.activities):
        _check_known(add, f"{path}.activities[{j}].modules", activity.modules, modules, "training module")
        if activity.modules and activity.type != "training":
            add(f"{path}.activities[{j}].modules", "only training activities deliver modules")
    _check_unique(add, f"{path}.activities", phase.activities, "id")
    if phase.min_dwell_days > phase.escalate_after_days:
        add(
            f"{path}.min_dwell_days",
            f"{phase.min_dwell_days} is longer than escalate_after_days ({phase.escalate_after_days}): "
            "the gate would be escalated before it may open",
        )

    if phase.remind_after_days is not None and phase.remind_after_days >= phase.escalate_after_days:
        add(
            f"{path}.remind_after_days",
            f"{phase.remind_after_days} is not fewer than escalate_after_days ({phase.escalate_after_days}): "
            "people would be reminded only once the gate is escalated; remind them sooner",
        )
    _check_known(add, f"{path}.escalate_to", phase.escalate_to, roles, "role")

    gate = phase.gate
    _check_known(add, f"{path}.gate.deciding_roles", gate.deciding_roles, roles, "role")
    _check_known(
        add,
        f"{path}.gate.evidence.indicators_measured",
        gate.evidence.indicators_measured,
        indicators,
        "indicator",
    )
    if gate.method == "vote" and gate.approvals_required is None:
        add(
            f"{path}.gate.approvals_required",
            "a vote needs approvals_required (how many approvals pass the gate)",
        )
    if gate.method == "consent" and gate.approvals_required is not None:
        add(
            f"{path}.gate.approvals_required",
            "only a vote takes approvals_required; consent passes on no objection",
        )

    # Who could decide this gate: people with a deciding role, in the cohort taking part by then.
    roster = [
        person
        for person in plan.people
        if (widened or person.cohort == "initial")
        and any(role in gate.deciding_roles for role in person.roles)
    ]
    deciders = f"the people who can decide ({', '.join(gate.deciding_roles)})"
    if not roster:
        add(
            f"{path}.gate.deciding_roles",
            f"nobody in the {'plan' if widened else 'initial group'} holds one of these roles",
        )
        return
    for constituency, needed in sorted(gate.quorum.items()):
        members = [person.id for person in roster if person.constituency == constituency]
        if len(members) < needed:
            add(
                f"{path}.gate.quorum.{constituency}",
                f"needs {needed} {constituency} approval{'s' if needed != 1 else ''} but {deciders} "
                f"include only {len(members)} with constituency '{constituency}'{_ids(members)}",
            )
    if gate.approvals_required is not None and gate.approvals_required > len(roster):
        add(
            f"{path}.gate.approvals_required",
            f"needs {gate.approvals_required} approvals but {deciders} number only {len(roster)}",
        )
    if gate.four_eyes and len(roster) < 2:
        add(f"{path}.gate.four_eyes", f"needs at least two people who can decide; only {roster[0].id} can")

    _check_training_delivered(add, plan, i, phase, roster)


def _check_training_delivered(add: Any, plan: Plan, i: int, phase: Phase, roster: Sequence[Person]) -> None:
    """Every module a decider needs must be delivered by a training activity in this phase or before."""
    delivered = {
        module for earlier in plan.phases[: i + 1] for a in earlier.activities for module in a.modules
    }
    needed: dict[str, set[str]] = {}
    for person in roster:
        for module in plan.training.modules_required(phase.id, person.roles):
            needed.setdefault(module, set()).update(r for r in person.roles if r in phase.gate.deciding_roles)
    for module in sorted(needed.keys() - delivered):
        if module in plan.modules_by_id:
            add(
                f"phases[{i}].gate",
                f"deciders ({', '.join(sorted(needed[module]))}) need training module '{module}' "
                "but no training activity up to this phase delivers it",
            )


def _check_pace(add: Any, plan: Plan) -> None:
    scale = plan.pace.comfort_scale
    if scale.low >= scale.high:
        add("pace.comfort_scale", f"low ({scale.low}) must be below high ({scale.high})")
    elif not scale.low <= plan.pace.comfort_threshold <= scale.high:
        add(
            "pace.comfort_threshold",
            f"{_num(plan.pace.comfort_threshold)} is outside the comfort scale {scale.low}..{scale.high}",
        )


def _check_changes(add: Any, plan: Plan, roles: set[str]) -> None:
    """Who may change the engagement names known groups or roles, and its co-signers can be found."""
    policy = plan.changes
    if policy is None:
        return
    known = roles | set(CONSTITUENCIES) | {ANYONE}
    for power in ("amend", "widen", "pause", "request_pause"):
        _check_known(add, f"changes.{power}", getattr(policy, power), known, "group or role")
    for constituency, count in policy.cosign.items():
        have = sum(1 for person in plan.people if person.constituency == constituency)
        if have < count:
            add(
                f"changes.cosign.{constituency}",
                f"asks for {count} co-signer(s) from {constituency}, and the plan has {have}; "
                "a change could never be co-signed",
            )


def _check_unique(add: Any, path: str, items: Sequence[Any], attr: str) -> None:
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        value = getattr(item, attr)
        if value in first:
            add(f"{path}[{i}].{attr}", f"duplicate {attr} '{value}' (also {path}[{first[value]}])")
        else:
            first[value] = i


def _check_known(add: Any, path: str, values: Iterable[str], known: set[str], what: str) -> None:
    for j, value in enumerate(values):
        if value not in known:
            add(f"{path}[{j}]", f"unknown {what} '{value}'{_known(known)}")


def _known(known: set[str]) -> str:
    names = sorted(known)
    if not names:
        return " (none are defined)"
    listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f" (known: {listed})"


def _ids(ids: list[str]) -> str:
    return f" ({', '.join(ids)})" if ids else ""


def _num(value: float) -> str:
    return f"{value:g}"
