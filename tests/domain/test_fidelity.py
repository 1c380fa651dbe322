"""Signs of token co-production in a plan (``domain.fidelity``): each warning appears when the plan gives
the reason for it, names the field to change, and goes away when the plan is put right."""

from __future__ import annotations

import pytest

from domain.errors import DomainError, PlanError
from domain.events import EvaluationStrategyAgreed
from domain.fidelity import fidelity_warnings, lived_experience_decides
from domain.plan import plan_from_yaml
from tests.domain.helpers import Story
from tests.domain.plans import SMALL_PLAN_YAML, example_plan

ASSESSED = (
    SMALL_PLAN_YAML.replace(
        "    objectives: [Agree the plan]\n",
        "    objectives: [Agree the plan]\n    activities:\n"
        "      - {id: find-out, type: assessment, title: Find out about the organisation}\n",
        1,
    )
    .replace("  min_check_ins: 2\n", "  min_check_ins: 2\n  comfort_by: each_constituency\n", 1)
    .replace("\nevaluation:\n", "\nevaluation:\n  agreed_by: {decision_maker: 1, service_user: 1}\n", 1)
    + "changes: {}\n"
)


def warned(text: str) -> dict[str, str]:
    return {w.path: w.message for w in fidelity_warnings(plan_from_yaml(text, "plan.yaml"))}


def test_a_plan_that_shares_decisions_draws_no_warning() -> None:
    assert warned(ASSESSED) == {}


def test_a_first_gate_decided_before_any_assessment_is_warned_of() -> None:
    found = warned(
        ASSESSED.replace(
            "      - {id: find-out, type: assessment, title: Find out about the organisation}\n", ""
        ).replace("    activities:\n", "", 1)
    )
    assert list(found) == ["phases[0]"]
    assert found["phases[0]"].startswith(
        "the first gate ('setup') can be decided before the organisation is assessed"
    )
    # A readiness re-assessment asked for by the first gate will do instead of an assessment activity.
    reassessed = ASSESSED.replace("type: assessment", "type: review").replace(
        "quorum: {decision_maker: 1}}",
        "quorum: {decision_maker: 1}, evidence: {readiness_reassessed: true}}",
        1,
    )
    assert warned(reassessed) == {}


def test_gates_that_never_need_lived_experience_are_warned_of() -> None:
    # Service users and carers lose their quorums, and no consent gate is theirs to block.
    consulted = (
        ASSESSED.replace("quorum: {decision_maker: 1, service_user: 1}", "quorum: {decision_maker: 1}")
        .replace("deciding_roles: [sponsor, board, user-rep]", "deciding_roles: [sponsor, board]")
        .replace("quorum: {decision_maker: 1, service_user: 2}", "quorum: {decision_maker: 1}")
        .replace("quorum: {service_user: 2}", "quorum: {decision_maker: 1}")
    )
    assert warned(consulted) == {
        "phases": "no gate needs service users' or carers' votes, so people with lived experience are "
        "consulted but never decide; give at least one gate a quorum such as {service_user: 2}"
    }


def test_a_consent_gate_service_users_can_block_counts_as_theirs() -> None:
    plan = plan_from_yaml(ASSESSED.replace("quorum: {decision_maker: 1, service_user: 2}", "quorum: {}"), "p")
    pilot = plan.phases_by_id["pilot"]
    assert pilot.gate.quorum == {} and lived_experience_decides(plan, pilot)
    train_by_vote = plan.phases_by_id["train"].model_copy(
        update={"gate": plan.phases_by_id["train"].gate.model_copy(update={"quorum": {"decision_maker": 1}})}
    )
    assert not lived_experience_decides(plan, train_by_vote)  # a vote they may lose is not a say


def test_existing_decision_makers_who_learn_nothing_are_warned_of() -> None:
    untrained = ASSESSED.replace("    - {roles: [board], modules: [gov], gates: [pilot]}\n", "")
    assert warned(untrained) == {
        "training.requirements": "only new decision makers are trained: nothing is required of the existing "
        "ones (d1, d2, d3), who must learn to share decisions; require a module (for example shared decision "
        "making) of their roles (board, sponsor)"
    }


def test_a_milestone_at_the_end_of_the_last_phase_is_warned_of_as_never_due() -> None:
    never = ASSESSED.replace("at_end_of_phase: pilot}", "at_end_of_phase: widen}")
    assert warned(never) == {
        "evaluation.milestones[0].at_end_of_phase": "'mid' is due at the end of the last phase ('widen'), when "
        "the engagement completes and nothing more is measured, so it never falls due; keep a follow_up period "
        "after the last phase, tie it to an earlier phase or give it a due_on date within the plan"
    }
    assert "evaluation.milestones[0].at_end_of_phase" not in warned(never + "follow_up: {days: 365}\n")


def test_a_milestone_after_completion_needs_a_follow_up_long_enough() -> None:
    later = ASSESSED.replace("at_end_of_phase: pilot}", "after_completion_days: 180}")
    with pytest.raises(PlanError) as refused:
        plan_from_yaml(later, "p.yaml")
    assert "p.yaml: evaluation.milestones[0].after_completion_days: the plan has no follow_up period" in str(
        refused.value
    )
    with pytest.raises(
        PlanError,
        match="180 days leaves no time to measure it before the follow-up ends \\(180 days after the last phase\\)",
    ):
        plan_from_yaml(later + "follow_up: {days: 180}\n", "p.yaml")
    both = ASSESSED.replace("at_end_of_phase: pilot}", "at_end_of_phase: pilot, after_completion_days: 30}")
    with pytest.raises(
        PlanError, match="give exactly one of at_end_of_phase, due_on or after_completion_days"
    ):
        plan_from_yaml(both + "follow_up: {days: 90}\n", "p.yaml")
    assert plan_from_yaml(later + "follow_up: {days: 365}\n", "p.yaml").follow_up.days == 365  # type: ignore[union-attr]


def test_comfort_averaged_over_everyone_is_warned_of() -> None:
    assert warned(SMALL_PLAN_YAML)["pace.comfort_by"].startswith(
        "comfort is one average over everyone, so comfortable staff can hide uneasy service users"
    )


def test_both_examples_draw_no_warning() -> None:
    for name in ("housing-tenant-governance.yaml", "mental-health-lived-experience.yaml"):
        assert fidelity_warnings(example_plan(name)) == [], name


def test_a_plan_in_which_one_person_can_weaken_it_is_warned_of() -> None:
    found = warned(ASSESSED.replace("changes: {}\n", ""))
    assert list(found) == ["changes"]
    assert found["changes"].startswith("one person can weaken the engagement")
    # A policy without co-signers guards nothing either.
    assert list(warned(ASSESSED.replace("changes: {}", "changes: {cosign: {}}"))) == ["changes"]


def test_a_change_policy_names_known_groups_and_co_signers_the_plan_has() -> None:
    with pytest.raises(PlanError) as caught:
        plan_from_yaml(
            ASSESSED.replace("changes: {}", "changes: {amend: [tenant], cosign: {carer: 2}}"), "plan.yaml"
        )
    problems = {p.path: p.message for p in caught.value.problems}
    assert problems["changes.amend[0]"].startswith("unknown group or role 'tenant'")
    assert problems["changes.cosign.carer"] == (
        "asks for 2 co-signer(s) from carer, and the plan has 1; a change could never be co-signed"
    )


def test_an_evaluation_agreed_by_one_group_is_warned_of_and_refused_at_runtime() -> None:
    alone = ASSESSED.replace(
        "  agreed_by: {decision_maker: 1, service_user: 1}\n", "  agreed_by: {decision_maker: 2}\n"
    )
    assert list(warned(alone)) == ["evaluation.agreed_by"]
    assert list(warned(ASSESSED.replace("  agreed_by: {decision_maker: 1, service_user: 1}\n", ""))) == [
        "evaluation.agreed_by"
    ]
    three_carers = ASSESSED.replace(
        "  agreed_by: {decision_maker: 1, service_user: 1}\n", "  agreed_by: {carer: 3}\n"
    )
    with pytest.raises(PlanError) as refused:
        plan_from_yaml(three_carers, "plan.yaml")
    assert str(refused.value) == (
        "plan.yaml: evaluation.agreed_by.carer: needs 3 carer to agree the strategy but the initial group has 1"
    )
    story = Story(plan_from_yaml(ASSESSED, "plan.yaml")).start()
    with pytest.raises(DomainError) as refused_at_runtime:
        story.record(EvaluationStrategyAgreed(occurred_at=story.now, agreed_by=("f1", "d1", "d2")))
    assert str(refused_at_runtime.value).endswith(
        "the plan asks for the evaluation strategy to be agreed by 1 decision maker and 1 service user: it needs "
        "1 more service user"
    )
    story.record(EvaluationStrategyAgreed(occurred_at=story.now, agreed_by=("d1", "u1")))
    assert story.state.evaluation_agreed_by == ("d1", "u1")
