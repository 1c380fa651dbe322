"""The pace policy: dwell, comfort (exactly at the threshold is enough; each group's; a minority signal),
evidence, cohort, holds and overrides."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.events import EngagementPaused, PaceHoldRecorded, PaceOverridden
from domain.rules.pace import comfort_waiting_for, pace_check, recent_comfort
from tests.domain.helpers import Story, day
from tests.domain.plans import small_plan


def pilot_with_evidence() -> Story:
    """Pilot running since day 8 (dwell 7 days), attendance measured and readiness re-assessed on day 10."""
    return Story().through_train().agree_evaluation().on(10).measure("attendance", 60).assess()


def test_comfort_exactly_at_the_threshold_lets_the_phase_advance() -> None:
    story = pilot_with_evidence().on(15).check_ins(u1=3, u2=4)  # threshold 3.5
    check = pace_check(story.state, "pilot", story.now)
    assert check.comfort.average == 3.5
    assert check.may_advance and check.waiting_for == ()


def test_comfort_just_below_the_threshold_holds_the_phase() -> None:
    story = pilot_with_evidence().on(15).check_ins(u1=3, u2=4, u3=3)
    check = pace_check(story.state, "pilot", story.now)
    assert not check.may_advance
    assert check.waiting_for == ("comfort to reach 3.5 (average 3.33 over 3 recent check-ins)",)


def test_too_few_recent_check_ins_hold_the_phase() -> None:
    story = pilot_with_evidence().on(15).check_ins(u1=5)
    assert pace_check(story.state, "pilot", story.now).waiting_for == (
        "at least 2 check-ins in the last 7 days (1 so far)",
    )


def test_each_persons_latest_check_in_counts_once_within_the_window() -> None:
    story = pilot_with_evidence().on(11).check_ins(u1=1, u2=1).on(15).check_ins(u1=5)
    assert recent_comfort(story.state, story.now).model_dump() == {"average": 3.0, "check_ins": 2}
    assert recent_comfort(story.state, day(19)).model_dump() == {"average": 5.0, "check_ins": 1}


def test_the_wider_groups_check_ins_count_only_once_it_is_widened() -> None:
    story = pilot_with_evidence().on(15).check_ins(u1=4, u2=4, u4=1, u5=1)
    assert recent_comfort(story.state, story.now).average == 4.0


def test_the_minimum_dwell_must_pass() -> None:
    story = pilot_with_evidence().on(13).check_ins(u1=4, u2=4)
    check = pace_check(story.state, "pilot", story.now)
    assert check.waiting_for == ("the minimum dwell of 7 days to pass (on 2025-01-21)",)
    assert check.dwell_ends_at == day(15)


def test_required_evidence_must_be_recorded_during_the_phase() -> None:
    story = Story().through_setup().on(4).train("u1", "u2", module="sdm").agree_evaluation()
    story.on(7).measure("attendance", 50).assess()  # during 'train', before the pilot began on day 8
    story.on(8).check_ins(u1=4, u2=4).open_gate("train")
    story.vote("train", "d2").vote("train", "u1").decide("train")
    story.complete("train").start_phase("pilot").on(15).check_ins(u1=4, u2=4)
    assert pace_check(story.state, "pilot", story.now).waiting_for == (
        "a measurement of 'attendance' during this phase",
        "a readiness re-assessment (ORIC) during this phase",
    )


def test_a_phase_with_the_wider_group_waits_for_the_cohort_to_widen() -> None:
    story = pilot_with_evidence().on(15).check_ins(u1=4, u2=4).open_gate("pilot")
    story.vote("pilot", "d1").vote("pilot", "u1").vote("pilot", "u2").decide("pilot").complete("pilot")
    story.start_phase("widen").on(21).check_ins(u1=4, u2=4)
    assert pace_check(story.state, "widen", story.now).waiting_for == ("the cohort to be widened",)


def test_a_facilitators_override_waives_the_comfort_condition_for_the_phase() -> None:
    story = pilot_with_evidence().on(15).check_ins(u1=2, u2=2)
    waiting = pace_check(story.state, "pilot", story.now).waiting_for
    story.record(
        PaceHoldRecorded(occurred_at=story.now, phase_id="pilot", waiting_for=waiting, comfort_average=2.0)
    )
    assert story.state.phases["pilot"].hold is not None
    story.on(16).record(
        PaceOverridden(
            occurred_at=story.now, phase_id="pilot", overridden_by="f1", reason="The group chose to go on."
        )
    )
    check = pace_check(story.state, "pilot", story.now)
    assert check.may_advance and check.comfort_overridden
    assert story.state.phases["pilot"].hold is None


def test_a_paused_engagement_does_not_advance() -> None:
    story = pilot_with_evidence().on(15).check_ins(u1=4, u2=4)
    story.record(EngagementPaused(occurred_at=story.now, paused_by="f1", reason="Summer break."))
    assert pace_check(story.state, "pilot", story.now).waiting_for == ("the engagement to be resumed",)


def test_phases_not_running_cannot_advance() -> None:
    story = pilot_with_evidence()
    assert pace_check(story.state, "widen", story.now).waiting_for == ("phase 'widen' to start",)
    assert pace_check(story.state, "setup", story.now).waiting_for == ("phase 'setup' is over",)
    with pytest.raises(DomainError, match="there is no phase 'nope' in the plan"):
        pace_check(story.state, "nope", story.now)


# -- everybody comfortable, not the room on average (pace.comfort_by, pace.minority_signal) ---------------
def fair(comfort_by: str = "each_constituency", minority_signal: bool = False) -> Story:
    """The pilot with its evidence in, under a plan whose pace policy listens to each group."""
    plan = small_plan()
    pace = plan.pace.model_copy(update={"comfort_by": comfort_by, "minority_signal": minority_signal})
    story = Story(plan.model_copy(update={"pace": pace}))
    return story.through_train().agree_evaluation().on(10).measure("attendance", 60).assess()


def test_comfortable_staff_and_board_cannot_hide_uneasy_service_users() -> None:
    # Threshold 3.5: overall 3.6 is enough, but the service users average 2.5.
    answers = {"u1": 2, "u2": 3, "d1": 5, "d2": 5, "s1": 3}
    assert pace_check(fair("everyone").on(15).check_ins(**answers).state, "pilot", day(15)).may_advance
    check = pace_check(fair().on(15).check_ins(**answers).state, "pilot", day(15))
    assert not check.may_advance
    assert check.waiting_for == (
        "comfort to reach 3.5 in every group (service users 2.50 over 2; staff 3.00 over 1)",
    )
    eased = fair().on(15).check_ins(**answers).on(16).check_ins(u1=4, u2=4, s1=4)
    assert pace_check(eased.state, "pilot", day(16)).may_advance


def test_one_answer_at_the_bottom_of_the_scale_holds_the_gate_as_a_minority_signal() -> None:
    answers = {"u1": 1, "u2": 5, "u3": 5, "d1": 5, "d2": 5}  # 4.2 on average: enough without the signal
    assert pace_check(fair("everyone").on(15).check_ins(**answers).state, "pilot", day(15)).may_advance
    check = pace_check(
        fair("everyone", minority_signal=True).on(15).check_ins(**answers).state, "pilot", day(15)
    )
    assert check.waiting_for == (
        "the minority signal to clear: 1 recent answer at the bottom of the comfort scale (1)",
    )


@given(
    answers=st.dictionaries(
        st.sampled_from(["u1", "u2", "u3", "c1", "d1", "d2", "s1"]), st.integers(1, 5), min_size=2
    )
)
@settings(max_examples=150, deadline=None)
def test_each_group_comfortable_means_the_room_is_too(answers: dict[str, int]) -> None:
    """A weighted mean of averages at or above the threshold is too: the fair rule never lets a gate open
    that the average over everyone would hold, and the minority signal only ever holds more."""
    everyone = comfort_waiting_for(fair("everyone").on(15).check_ins(**answers).state, day(15))
    each = comfort_waiting_for(fair().on(15).check_ins(**answers).state, day(15))
    signal = comfort_waiting_for(fair(minority_signal=True).on(15).check_ins(**answers).state, day(15))
    if each is None:
        assert everyone is None
    if signal is None:
        assert each is None and 1 not in answers.values()
