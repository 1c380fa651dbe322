"""Deliberately broken plans (tests/domain/broken_plans/) each give exactly the problems a consultant needs."""

from pathlib import Path

import pytest

from domain.errors import PlanError
from domain.plan import plan_from_yaml

BROKEN = Path(__file__).parent / "broken_plans"

EXPECTED: dict[str, list[str]] = {
    "unknown-role.yaml": [
        "people[3].roles[0]: unknown role 'carer-repp' (known: carer-rep, facilitator, trustee)",
        "phases[1].gate.quorum.carer: needs 2 carer approvals but the people who can decide (trustee, carer-rep) "
        "include only 1 with constituency 'carer' (c2)",
    ],
    "duplicate-ids.yaml": [
        "people[4].id: duplicate id 'c1' (also people[3])",
        "phases[1].id: duplicate id 'listening' (also phases[0])",
        "training.requirements[0].gates[0]: unknown phase 'respite-review' (known: listening)",
    ],
    "no-phases.yaml": [
        "training.requirements[0].gates[0]: unknown phase 'respite-review' (none are defined)",
        "phases: a plan needs at least one phase",
    ],
    "unsatisfiable-quorum.yaml": [
        "phases[1].gate.quorum.carer: needs 3 carer approvals but the people who can decide (trustee, carer-rep) "
        "include only 2 with constituency 'carer' (c1, c2)",
    ],
    "threshold-off-scale.yaml": ["pace.comfort_threshold: 6 is outside the comfort scale 1..5"],
    "target-equals-baseline.yaml": [
        "evaluation.indicators[0].target: equals the baseline (45); a target must differ from it",
    ],
    "wrong-direction.yaml": [
        "evaluation.indicators[0].target: 60 is above the baseline 45 but direction is 'down' (less is better)",
    ],
    "structural-errors.yaml": [
        "phases[0].title: is required",
        "phases[0].gate.method: input should be 'consent' or 'vote' (got 'majority')",
        "phases[1].min_dwell_days: input should be a valid integer, unable to parse string as an integer "
        "(got 'eight weeks')",
        "phases[1].escalate_after_days: is required",
        "phases[1].escalate_after: is not a known field here (check the spelling)",
    ],
    "unknown-references.yaml": [
        "training.requirements[0].modules[0]: unknown training module 'shared-decision' (known: shared-decisions)",
        "phases[1].gate.evidence.indicators_measured[0]: unknown indicator 'booking_delay' "
        "(known: booking_wait, carers_involved)",
        "evaluation.milestones[0].at_end_of_phase: unknown phase 'review' (known: listening, respite-review)",
    ],
    "duplicate-yaml-key.yaml": ["line 50: key 'comfort_threshold' appears twice in one mapping"],
    "vote-without-count.yaml": [
        "phases[0].gate.four_eyes: needs at least two people who can decide; only f1 can",
        "phases[1].gate.approvals_required: a vote needs approvals_required (how many approvals pass the gate)",
    ],
    "dwell-beyond-escalation.yaml": [
        "phases[1].min_dwell_days: 90 is longer than escalate_after_days (84): "
        "the gate would be escalated before it may open",
    ],
    "reminder-after-escalation.yaml": [
        "phases[1].remind_after_days: 84 is not fewer than escalate_after_days (84): "
        "people would be reminded only once the gate is escalated; remind them sooner",
        "phases[1].escalate_to[0]: unknown role 'treasurer' (known: carer-rep, facilitator, trustee)",
    ],
    "training-never-delivered.yaml": [
        "phases[1].gate: deciders (carer-rep) need training module 'shared-decisions' "
        "but no training activity up to this phase delivers it",
    ],
}


def test_every_broken_plan_file_has_an_expectation() -> None:
    assert sorted(path.name for path in BROKEN.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 10


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_plan_gives_the_precise_errors(name: str) -> None:
    with pytest.raises(PlanError) as caught:
        plan_from_yaml((BROKEN / name).read_text(encoding="utf-8"), name)
    assert str(caught.value).splitlines() == [f"{name}: {line}" for line in EXPECTED[name]]


def test_the_plan_they_were_broken_from_is_valid() -> None:
    base = Path(__file__).parent / "valid_base.yaml"
    assert plan_from_yaml(base.read_text(encoding="utf-8"), "valid_base.yaml").title.startswith("Carers")
