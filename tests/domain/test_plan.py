"""Plans: the examples validate, problems are reported all at once with paths, hashing and diffs behave."""

import json

import pytest
import yaml
from pydantic import ValidationError

from domain.errors import PlanError
from domain.plan import (
    PERSONAL_VALUE,
    STRUCTURE_ONLY,
    Plan,
    canonical_plan_json,
    plan_diff,
    plan_from_yaml,
    plan_json_schema,
    plan_sha256,
)
from tests.domain.plans import EXAMPLE_FILES, SMALL_PLAN_YAML, example_plan, example_yaml, small_plan


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_plans_validate_and_run_a_full_year(name: str) -> None:
    plan = example_plan(name)
    assert (plan.ends_on - plan.starts_on).days >= 360
    assert len(plan.phases) >= 6
    assert {p.constituency for p in plan.people} >= {"service_user", "decision_maker", "staff", "facilitator"}
    assert any(p.cohort == "wider" for p in plan.people)
    assert all(i.baseline != i.target for i in plan.evaluation.indicators)
    assert any(i.direction == "down" for i in plan.evaluation.indicators)


def test_the_two_examples_are_different_engagements() -> None:
    housing, health = (example_plan(name) for name in EXAMPLE_FILES)
    assert housing.organisation.sector == "housing" and health.organisation.sector == "health"
    assert {p.id for p in housing.phases} != {p.id for p in health.phases}
    assert housing.recognition.method != health.recognition.method
    assert plan_sha256(housing) != plan_sha256(health)


def test_every_problem_is_reported_at_once_with_file_and_field_path() -> None:
    text = SMALL_PLAN_YAML.replace("method: consent, quorum: {decision_maker: 1}", "method: majority")
    text = text.replace("min_dwell_days: 5\n", "min_dwell_days: five\n", 1)
    text = text.replace("title: Small test engagement\n", "")
    with pytest.raises(PlanError) as caught:
        plan_from_yaml(text, "plans/small.yaml")
    lines = str(caught.value).splitlines()
    assert "plans/small.yaml: title: is required" in lines
    assert (
        "plans/small.yaml: phases[0].gate.method: input should be 'consent' or 'vote' (got 'majority')"
        in lines
    )
    assert any(
        line.startswith("plans/small.yaml: phases[1].min_dwell_days: input should be a valid integer")
        for line in lines
    )
    assert len(lines) == 3
    assert [p.path for p in caught.value.problems] == [
        "title",
        "phases[0].gate.method",
        "phases[1].min_dwell_days",
    ]


def test_cross_reference_problems_are_all_listed_too() -> None:
    text = SMALL_PLAN_YAML.replace("roles: [sponsor]}", "roles: [spnosor]}").replace(
        "comfort_threshold: 3.5", "comfort_threshold: 7"
    )
    with pytest.raises(PlanError) as caught:
        plan_from_yaml(text, "small.yaml")
    paths = [p.path for p in caught.value.problems]
    assert "people[1].roles[0]" in paths
    assert "pace.comfort_threshold" in paths
    assert "small.yaml: pace.comfort_threshold: 7 is outside the comfort scale 1..5" in str(caught.value)


def test_a_mistyped_field_name_is_caught_rather_than_ignored() -> None:
    text = SMALL_PLAN_YAML.replace("check_in_every_days: 3", "check_in_every_day: 3")
    with pytest.raises(PlanError, match=r"small.yaml: pace.check_in_every_day: is not a known field here"):
        plan_from_yaml(text, "small.yaml")


def test_yaml_syntax_errors_name_the_line() -> None:
    with pytest.raises(PlanError, match=r"^x.yaml: line 2, column \d+: is not valid YAML"):
        plan_from_yaml("title: a\n  bad: [unclosed\n", "x.yaml")


def test_a_plan_must_be_a_mapping() -> None:
    with pytest.raises(PlanError, match=r"^x.yaml: \(top\): a plan is a YAML mapping of sections, got list$"):
        plan_from_yaml("- a\n- b\n", "x.yaml")
    with pytest.raises(PlanError, match="got nothing"):
        plan_from_yaml("", "x.yaml")


def test_building_a_plan_directly_runs_the_same_cross_reference_checks() -> None:
    data = yaml.safe_load(SMALL_PLAN_YAML)
    data["people"][0]["roles"] = ["no-such-role"]
    with pytest.raises(ValidationError, match=r"people\[0\].roles\[0\]: unknown role 'no-such-role'"):
        Plan.model_validate(data)
    # Reading back from the log checks structure only, so stricter checks never block a replay.
    assert Plan.model_validate(data, context=STRUCTURE_ONLY).people[0].roles == ("no-such-role",)


def test_json_schema_is_exportable_and_marks_personal_data() -> None:
    schema = plan_json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) >= {"title", "organisation", "people", "phases", "evaluation"}
    person = schema["$defs"]["Person"]["properties"]
    assert person["display_name"]["personal_data"] is True
    assert "personal_data" not in person["id"]
    json.dumps(schema)  # serialisable as is


def test_sha256_ignores_formatting_and_key_order_but_not_content() -> None:
    plan = small_plan()
    reordered = yaml.safe_dump(dict(reversed(list(yaml.safe_load(SMALL_PLAN_YAML).items()))), sort_keys=False)
    assert plan_sha256(plan_from_yaml(reordered, "r.yaml")) == plan_sha256(plan)
    changed = plan_from_yaml(SMALL_PLAN_YAML.replace("min_dwell_days: 7", "min_dwell_days: 8"), "c.yaml")
    assert plan_sha256(changed) != plan_sha256(plan)
    # Writing a default value out does not change the plan's identity.
    explicit = SMALL_PLAN_YAML.replace(
        "check_in_every_days: 3", "check_in_every_days: 3\n  max_concurrent_phases: 1"
    )
    assert plan_sha256(plan_from_yaml(explicit, "e.yaml")) == plan_sha256(plan)
    assert json.loads(canonical_plan_json(plan))["title"] == "Small test engagement"


def test_plan_survives_a_json_round_trip_exactly() -> None:
    for plan in (small_plan(), *(example_plan(name) for name in EXAMPLE_FILES)):
        again = Plan.model_validate_json(plan.model_dump_json())
        assert again == plan
        assert plan_sha256(again) == plan_sha256(plan)


def test_plan_diff_lists_changed_leaves_by_id_and_hides_names() -> None:
    old = small_plan()
    new_text = (
        SMALL_PLAN_YAML.replace("min_dwell_days: 7", "min_dwell_days: 10")
        .replace("Uma User", "Uma Renamed")
        .replace("  - {id: budget, title: Budget, current: informing, target: co-design}\n", "")
    )
    changes = plan_diff(old, plan_from_yaml(new_text, "new.yaml"))
    by_path = {change.path: change for change in changes}
    assert by_path["phases[pilot].min_dwell_days"].before == 7
    assert by_path["phases[pilot].min_dwell_days"].after == 10
    assert by_path["people[u1].display_name"].before == PERSONAL_VALUE
    assert "Uma" not in json.dumps([c.model_dump() for c in changes])
    assert by_path["decision_areas[budget].title"].change == "removed"
    assert [c.path for c in changes] == sorted(by_path)
    assert plan_diff(old, old) == ()


def test_duplicate_keys_in_yaml_are_reported_with_their_line() -> None:
    text = "title: One\ntitle: Two\n"
    with pytest.raises(PlanError, match=r"^d.yaml: line 2: key 'title' appears twice in one mapping$"):
        plan_from_yaml(text, "d.yaml")


def test_examples_read_the_same_from_their_files() -> None:
    for name in EXAMPLE_FILES:
        assert plan_from_yaml(example_yaml(name), name) == example_plan(name)


def test_plans_read_back_from_the_log_or_a_status_are_not_rechecked_against_newer_rules() -> None:
    """An engagement started under older, looser checks must still replay and show its status."""
    from domain.engagement import EngagementState
    from domain.events import event_from_record, event_to_record
    from tests.domain.helpers import Story

    story = Story().start()
    kind, version, payload = event_to_record(story.events[0])
    payload["plan"]["people"][0]["roles"] = ["retired-role"]  # what a stricter future check would refuse
    assert event_from_record(kind, version, payload).plan.people[0].roles == ("retired-role",)
    status = json.loads(story.state.model_dump_json())
    status["plan"] = payload["plan"]
    assert EngagementState.model_validate(status).require_plan().people[0].roles == ("retired-role",)
    assert EngagementState.model_validate_json(story.state.model_dump_json()) == story.state
