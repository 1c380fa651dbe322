"""The retention rule: what a plan may say, and who falls due when."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import PlanError
from domain.plan import Plan, canonical_plan_json, plan_from_yaml
from domain.rules.retention import participants, retention_due_at, retention_outcome

from .plans import SMALL_PLAN_YAML, small_plan
from .scenario import RandomChooser, Script

RULE = "retention:\n  forget_participants_after_days: 730\n"


def test_a_plan_states_its_retention_rule_in_days_after_completion() -> None:
    plan = plan_from_yaml(SMALL_PLAN_YAML + RULE, "plan.yaml")
    assert plan.retention is not None and plan.retention.forget_participants_after_days == 730
    assert plan.retention.described() == (
        "participants are forgotten 730 days after the engagement completes, unless they opted to stay"
    )


def test_a_plan_without_a_rule_keeps_its_meaning_and_its_hash() -> None:
    plan = small_plan()
    assert plan.retention is None
    assert "retention" not in canonical_plan_json(plan)  # old plans hash as they did


@pytest.mark.parametrize("value", ["0", "-5", "3651", "two years", "1.5", "true"])
def test_a_bad_retention_period_is_one_clear_sentence(value: str) -> None:
    with pytest.raises(PlanError) as caught:
        plan_from_yaml(SMALL_PLAN_YAML + f"retention:\n  forget_participants_after_days: {value}\n", "p.yaml")
    [problem] = caught.value.problems
    assert problem.path == "retention.forget_participants_after_days"
    assert problem.message.startswith(
        "must be a whole number of days from 1 to 3650 after the engagement completes"
    )


def test_an_unknown_retention_field_is_named() -> None:
    with pytest.raises(PlanError) as caught:
        plan_from_yaml(SMALL_PLAN_YAML + "retention:\n  forget_after_days: 730\n", "p.yaml")
    paths = [p.path for p in caught.value.problems]
    assert "retention.forget_after_days" in paths and "retention.forget_participants_after_days" in paths


def _with_rule(days: int) -> Plan:
    return Plan.model_validate(
        {**small_plan().model_dump(), "retention": {"forget_participants_after_days": days}}
    )


def test_nothing_falls_due_before_completion_or_without_a_rule() -> None:
    script = Script(_with_rule(30), RandomChooser(7))
    script.run(days=20)
    assert script.state.status != "completed"
    assert retention_due_at(script.state) is None
    assert retention_outcome(script.state, script.now + timedelta(days=9999), forgotten=(), stayed=()) is None
    plain = Script(small_plan(), RandomChooser(7))
    plain.run()
    assert plain.state.status == "completed" and retention_due_at(plain.state) is None


def test_participants_fall_due_the_set_days_after_completion_but_not_who_stays_or_was_forgotten() -> None:
    script = Script(_with_rule(730), RandomChooser(7))
    script.run()
    state = script.state
    assert state.status == "completed" and state.completed_at is not None
    due = state.completed_at + timedelta(days=730)
    assert retention_due_at(state) == due
    covered = participants(state)
    assert "f1" not in covered and {"u1", "d1", "c1", "s1"} <= set(covered)  # facilitators are kept
    assert retention_outcome(state, due - timedelta(seconds=1), forgotten=(), stayed=()) is None
    outcome = retention_outcome(state, due, forgotten={"d2"}, stayed={"u1"})
    assert outcome is not None and outcome.due_at == due
    assert outcome.stayed == ("u1",) and outcome.forgotten_before == ("d2",)
    assert set(outcome.forget) == set(covered) - {"u1", "d2"}
