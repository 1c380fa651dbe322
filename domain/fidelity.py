"""Signs of token co-production in a valid plan: what `plan check` warns about (and refuses, `--strict`).

A plan can be valid and still leave the people it exists for without a real share: consulted, never
deciding. These checks read the plan against the practice (DESIGN.md, "The practice we encode"):

- **lived experience decides**: at least one gate needs the votes of service users or carers (a quorum
  of them), or lets their objection block it (a consent gate they decide);
- **existing decision makers learn to share**: new decision makers are trained before they decide,
  and existing ones (the board, the sponsor) accept sharing decisions: some module is required of them;
- **find out first**: the organisation is assessed before its first gate (an assessment in the first
  phase, or a readiness re-assessment its gate asks for);
- **everybody comfortable**: comfort is judged group by group (``pace.comfort_by: each_constituency``),
  not as one average over everyone in which comfortable staff hide uneasy tenants;
- **success agreed together**: the evaluation strategy is agreed by service users (or carers) and at
  least one other group (``evaluation.agreed_by``);
- **no one hollows it out alone**: the plan has a ``changes`` policy, so an amendment that weakens a
  gate or the pace policy, and an override of a comfort hold, need co-signers (``domain.change_policy``);
- **measure what lasts**: no milestone that can never fall due. The engagement completes when its last
  gate passes, and nothing is measured after that, so a milestone at the end of the last phase is never
  measured (one dated outside the plan is already an error).

Each warning names the field it is about and says what to change, as a `PlanProblem`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.errors import PlanProblem
from domain.vocabulary import Constituency

if TYPE_CHECKING:
    from domain.phases import Phase
    from domain.plan import Plan

LIVED_EXPERIENCE: tuple[Constituency, ...] = ("service_user", "carer")


def fidelity_warnings(plan: Plan) -> list[PlanProblem]:
    """Where ``plan`` risks token co-production, in the order of the plan's sections."""
    warnings: list[PlanProblem] = []
    warnings += _existing_decision_makers_untrained(plan)
    warnings += _lived_experience_never_decides(plan)
    warnings += _no_assessment_before_first_gate(plan)
    warnings += _comfort_averaged(plan)
    warnings += _evaluation_agreed_by_one_group(plan)
    warnings += _changes_unguarded(plan)
    warnings += _milestones_never_due(plan)
    return warnings


def lived_experience_decides(plan: Plan, phase: Phase) -> bool:
    """Whether service users or carers have a real say in ``phase``'s gate: their votes are needed (a
    quorum), or, deciding a consent gate, their objection blocks it."""
    gate = phase.gate
    if any(gate.quorum.get(constituency, 0) > 0 for constituency in LIVED_EXPERIENCE):
        return True
    if gate.method != "consent":
        return False
    return any(
        person.constituency in LIVED_EXPERIENCE and set(person.roles) & set(gate.deciding_roles)
        for person in plan.people
    )


def _lived_experience_never_decides(plan: Plan) -> list[PlanProblem]:
    if any(lived_experience_decides(plan, phase) for phase in plan.phases):
        return []
    return [
        PlanProblem(
            "phases",
            "no gate needs service users' or carers' votes, so people with lived experience are consulted "
            "but never decide; give at least one gate a quorum such as {service_user: 2}",
        )
    ]


def _existing_decision_makers_untrained(plan: Plan) -> list[PlanProblem]:
    deciders = [person for person in plan.people if person.constituency == "decision_maker"]
    roles = {role for person in deciders for role in person.roles}
    trained = {role for requirement in plan.training.requirements for role in requirement.roles}
    if not deciders or trained & roles:
        return []
    people = [person.id for person in deciders]
    return [
        PlanProblem(
            "training.requirements",
            f"only new decision makers are trained: nothing is required of the existing ones "
            f"({', '.join(people)}), who must learn to share decisions; require a module (for example "
            f"shared decision making) of their roles ({', '.join(sorted(roles))})",
        )
    ]


def _no_assessment_before_first_gate(plan: Plan) -> list[PlanProblem]:
    if not plan.phases:
        return []
    first = plan.phases[0]
    if first.gate.evidence.readiness_reassessed or any(a.type == "assessment" for a in first.activities):
        return []
    return [
        PlanProblem(
            "phases[0]",
            f"the first gate ('{first.id}') can be decided before the organisation is assessed (its past "
            "attempts, what worked, how it handles change); plan an assessment activity in this phase, "
            "or set gate.evidence.readiness_reassessed",
        )
    ]


def _comfort_averaged(plan: Plan) -> list[PlanProblem]:
    if plan.pace.comfort_by == "each_constituency":
        return []
    return [
        PlanProblem(
            "pace.comfort_by",
            "comfort is one average over everyone, so comfortable staff can hide uneasy service users; set "
            "comfort_by: each_constituency (and minority_signal: true, so one answer at the bottom of the "
            "scale holds a gate)",
        )
    ]


def _evaluation_agreed_by_one_group(plan: Plan) -> list[PlanProblem]:
    needed = plan.evaluation.agreed_by
    if needed and len(needed) > 1 and set(needed) & {"service_user", "carer"}:
        return []
    return [
        PlanProblem(
            "evaluation.agreed_by",
            "the evaluation strategy can be agreed by one group alone (or one person), so what counts as "
            "success may never be agreed with service users; set agreed_by: {decision_maker: 1, "
            "service_user: 1}",
        )
    ]


def _changes_unguarded(plan: Plan) -> list[PlanProblem]:
    if plan.changes is not None and plan.changes.cosign:
        return []
    return [
        PlanProblem(
            "changes",
            "one person can weaken the engagement: anyone in it may amend the plan (even lower a quorum) and "
            "one facilitator's override lifts a comfort hold; add changes: {} (facilitators amend, and one "
            "decision maker and one service user co-sign what weakens a gate or the pace policy)",
        )
    ]


def _milestones_never_due(plan: Plan) -> list[PlanProblem]:
    warnings = []
    last = plan.phases[-1].id if plan.phases else None
    if plan.follow_up is not None:  # the engagement stays open after its last phase: it falls due then
        return []
    for i, milestone in enumerate(plan.evaluation.milestones):
        if milestone.at_end_of_phase is not None and milestone.at_end_of_phase == last:
            warnings.append(
                PlanProblem(
                    f"evaluation.milestones[{i}].at_end_of_phase",
                    f"'{milestone.id}' is due at the end of the last phase ('{last}'), when the engagement "
                    "completes and nothing more is measured, so it never falls due; keep a follow_up period "
                    "after the last phase, tie it to an earlier phase or give it a due_on date within the plan",
                )
            )
    return warnings
