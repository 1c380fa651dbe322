"""Decision areas on the ladder of co-production."""

import pytest

from domain.errors import RuleViolation
from domain.events import RungChanged
from domain.plan import plan_from_yaml
from domain.rules.ladder import ladder_positions
from domain.vocabulary import RUNGS, rung_group
from tests.domain.helpers import Story
from tests.domain.plans import SMALL_PLAN_YAML


def moved(story: Story, area: str, from_rung: str, to_rung: str) -> Story:
    return story.record(
        RungChanged(
            occurred_at=story.now, area_id=area, from_rung=from_rung, to_rung=to_rung, agreed_by=("d1", "u1")
        )
    )


def test_positions_show_start_current_target_and_steps() -> None:
    story = moved(
        moved(Story().start(), "policy", "consultation", "engagement"), "policy", "engagement", "co-design"
    )
    policy, budget = ladder_positions(story.state)
    assert (policy.started_on, policy.current, policy.target) == (
        "consultation",
        "co-design",
        "co-production",
    )
    assert (policy.steps_climbed, policy.steps_to_target, policy.reached, policy.group) == (
        2,
        1,
        False,
        "doing with",
    )
    assert (budget.current, budget.steps_climbed, budget.steps_to_target, budget.group) == (
        "informing",
        0,
        3,
        "doing for",
    )
    history = story.state.decision_areas["policy"].changes
    assert [(c.from_rung, c.to_rung, c.agreed_by) for c in history] == [
        ("consultation", "engagement", ("d1", "u1")),
        ("engagement", "co-design", ("d1", "u1")),
    ]


def test_a_rung_change_must_start_from_where_the_area_is() -> None:
    with pytest.raises(RuleViolation, match="decision area 'budget' is on 'informing', not 'consultation'"):
        moved(Story().start(), "budget", "consultation", "co-design")


def test_the_ladder_has_seven_rungs_in_three_groups() -> None:
    assert RUNGS[0] == "coercion" and RUNGS[-1] == "co-production" and len(RUNGS) == 7
    assert [rung_group(r) for r in RUNGS] == ["doing to"] * 2 + ["doing for"] * 3 + ["doing with"] * 2


def test_under_a_change_policy_the_holders_and_a_service_user_agree_a_move_into_doing_with() -> None:
    policed = Story(plan_from_yaml(SMALL_PLAN_YAML + "changes: {}\n", "plan.yaml")).start()

    def move(to_rung: str, *agreed_by: str) -> None:
        at = policed.state.decision_areas["policy"].rung
        policed.record(RungChanged(occurred_at=policed.now, area_id="policy", from_rung=at, to_rung=to_rung,
                                   agreed_by=agreed_by))  # fmt: skip

    with pytest.raises(RuleViolation, match=r"moving 'policy' needs someone who holds it now \(board\)"):
        move("engagement", "d1", "u1")  # d1 is the sponsor; the board holds the policy
    move("engagement", "d2")
    with pytest.raises(RuleViolation, match="moving 'policy' to co-design needs a service user or carer"):
        move("co-design", "d2", "d3")
    move("co-design", "d2", "c1")
    assert policed.state.decision_areas["policy"].rung == "co-design"
    # Without the policy, the rule plans had before it: anyone in the engagement may agree a move.
    moved(Story().start(), "policy", "consultation", "co-production")
