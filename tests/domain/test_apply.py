"""apply: every event that is impossible in the current state is refused with a clear error, never ignored."""

import pytest

from domain.errors import (
    EngagementNotActive,
    EventOutOfOrder,
    GateError,
    NotStarted,
    PhaseOrderError,
    ReasonRequired,
    RuleViolation,
    UnknownReference,
)
from domain.events import (
    AuthorisationGranted,
    CheckInRecorded,
    CohortWidened,
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    GateEscalated,
    GateOpened,
    MeasurementRecorded,
    PaceOverridden,
    PhaseStarted,
    PlanAmended,
    TrainingCompleted,
    VoteCast,
)
from domain.plan import Plan, plan_diff, plan_sha256
from domain.rules.eligibility import gate_opened_event
from domain.state import EMPTY_STATE, apply, fold
from tests.domain.helpers import T0, Story, day


def check_in(when, person: str = "u1", comfort: int = 4) -> CheckInRecorded:
    return CheckInRecorded(occurred_at=when, person_id=person, comfort=comfort)


def test_nothing_happens_before_the_engagement_starts() -> None:
    with pytest.raises(
        NotStarted, match="check_in_recorded at 2025-01-06T09:00:00Z: the engagement has not started"
    ):
        apply(EMPTY_STATE, check_in(T0))


def test_an_engagement_starts_once() -> None:
    story = Story().start()
    with pytest.raises(NotStarted, match="engagement 'eng-test' has already started"):
        story.record(story.events[0])


def test_time_never_goes_backwards() -> None:
    story = Story().start().on(2).check_ins(u1=4)
    with pytest.raises(EventOutOfOrder, match=r"earlier than the event before it \(2025-01-08T09:00Z\)"):
        story.record(check_in(day(1)))
    story.record(check_in(day(2)))  # the same instant is fine


def test_apply_never_changes_its_input() -> None:
    story = Story().start()
    before = story.state.model_dump_json()
    after = apply(story.state, check_in(day(1)))
    assert story.state.model_dump_json() == before
    assert after.check_in_count == 1 and story.state.check_in_count == 0


def test_votes_need_an_open_gate_of_the_right_round() -> None:
    story = Story().pilot_ready()
    vote = VoteCast(occurred_at=story.now, phase_id="pilot", round=1, person_id="u1", choice="approve")
    with pytest.raises(GateError, match="gate 'pilot' has not been opened"):
        story.record(vote)
    story.open_gate("pilot")
    with pytest.raises(GateError, match="gate 'pilot' is in round 1, not 2"):
        story.record(vote.model_copy(update={"round": 2}))
    story.record(vote)
    with pytest.raises(GateError, match="u1 has already voted on gate 'pilot'"):
        story.record(vote)
    with pytest.raises(GateError, match="s1 is not on the roster of gate 'pilot'"):
        story.record(vote.model_copy(update={"person_id": "s1"}))
    story.vote("pilot", "d1").vote("pilot", "u2").decide("pilot")
    with pytest.raises(GateError, match=r"gate 'pilot' is not open \(round 1 was passed\)"):
        story.vote("pilot", "c1")


def test_objections_holds_and_rejections_need_a_reason_when_the_gate_says_so() -> None:
    story = Story().pilot_ready().open_gate("pilot")
    with pytest.raises(ReasonRequired, match="an objection to gate 'pilot' needs a reason"):
        story.vote("pilot", "u1", "object")
    with pytest.raises(ReasonRequired, match="a gate held needs a reason"):
        story.decide("pilot", "held")
    with pytest.raises(ReasonRequired, match="a gate rejected needs a reason"):
        story.decide("pilot", "rejected")
    story.decide("pilot", "rejected", reason="The pilot group wants another month.")
    assert story.state.gates["pilot"].status == "rejected"
    assert story.state.phases["pilot"].status == "running"  # a rejected gate keeps the phase open


def test_a_gate_opens_only_when_the_pace_policy_allows() -> None:
    story = Story().through_train().agree_evaluation().on(10).measure("attendance", 60).assess()
    with pytest.raises(
        RuleViolation, match="the pace policy does not allow it yet: waiting for the minimum dwell"
    ):
        story.open_gate("pilot")
    story.on(15).check_ins(u1=4, u2=4).open_gate("pilot")
    with pytest.raises(GateError, match="gate 'pilot' is already open"):
        story.open_gate("pilot")


def test_a_gate_snapshot_that_does_not_match_the_plan_is_refused() -> None:
    story = Story().pilot_ready()
    honest = gate_opened_event(story.state, "pilot", "f1", story.now)
    padded = GateOpened(**{**dict(honest), "roster": honest.roster[1:]})
    with pytest.raises(RuleViolation, match="policy or roster does not match the plan"):
        story.record(padded)
    looser = GateOpened(**{**dict(honest), "policy": honest.policy.model_copy(update={"four_eyes": False})})
    with pytest.raises(RuleViolation, match="policy or roster does not match the plan"):
        story.record(looser)


def test_phases_start_and_complete_in_turn() -> None:
    story = Story().start()
    with pytest.raises(PhaseOrderError, match="phase 'train' comes first and has not started"):
        story.start_phase("pilot")
    with pytest.raises(RuleViolation, match="allows 1 phase"):
        story.start_phase("train")
    with pytest.raises(PhaseOrderError, match=r"phase 'pilot' is not running \(it is pending\)"):
        story.complete("pilot")
    with pytest.raises(PhaseOrderError, match="the gate of phase 'setup' has not passed"):
        story.complete("setup")
    with pytest.raises(PhaseOrderError, match="phase 'setup' has already started"):
        story.start_phase("setup")
    with pytest.raises(UnknownReference, match="there is no phase 'launch' in the plan"):
        story.record(PhaseStarted(occurred_at=story.now, phase_id="launch"))


def test_while_paused_facts_are_recorded_but_nothing_moves_on() -> None:
    story = Story().start().on(3).check_ins(u1=4, u2=4)
    story.record(
        EngagementPaused(occurred_at=story.now, paused_by="f1", reason="The group asked for a break.")
    )
    story.check_ins(u3=3)
    with pytest.raises(
        EngagementNotActive, match=r"the engagement is paused \(since 2025-01-09\); resume it first"
    ):
        story.open_gate("setup")
    with pytest.raises(EngagementNotActive, match="already paused"):
        story.record(EngagementPaused(occurred_at=story.now, paused_by="f1", reason="Again."))
    story.on(5).record(EngagementResumed(occurred_at=story.now, resumed_by="f1"))
    story.check_ins(u1=4, u2=4).open_gate("setup")
    with pytest.raises(EngagementNotActive, match="not paused"):
        story.record(EngagementResumed(occurred_at=story.now, resumed_by="f1"))


def test_nothing_is_recorded_after_completion_and_completion_needs_every_phase() -> None:
    story = Story().start()
    with pytest.raises(PhaseOrderError, match="phases not completed yet: setup, train, pilot, widen"):
        story.record(EngagementCompleted(occurred_at=story.now, completed_by="f1"))


def test_references_to_unknown_people_modules_and_indicators_are_refused() -> None:
    story = Story().start()
    with pytest.raises(UnknownReference, match="person 'x9' is not part of this engagement"):
        story.record(check_in(T0, person="x9"))
    with pytest.raises(UnknownReference, match="there is no training module 'sdm2' in the plan"):
        story.record(TrainingCompleted(occurred_at=T0, person_id="u1", module_id="sdm2"))
    story.agree_evaluation()
    with pytest.raises(UnknownReference, match="there is no indicator 'wait' in the evaluation strategy"):
        story.measure("wait", 3)


def test_check_ins_must_be_on_the_comfort_scale() -> None:
    with pytest.raises(RuleViolation, match=r"comfort 6 is outside the scale 1..5"):
        Story().start().check_ins(u1=6)


def test_authorisation_follows_training_and_lasts_as_the_plan_says() -> None:
    story = Story().start()
    grant = AuthorisationGranted(occurred_at=T0, person_id="u1", module_id="sdm", expires_at=day(21))
    with pytest.raises(RuleViolation, match="u1 has not completed 'sdm', so cannot be authorised"):
        story.record(grant)
    story.record(TrainingCompleted(occurred_at=T0, person_id="u1", module_id="sdm"))
    with pytest.raises(RuleViolation, match="should expire at 2025-01-27T09:00Z"):
        story.record(grant.model_copy(update={"expires_at": day(365)}))
    story.record(grant)


def test_measurements_wait_for_the_evaluation_strategy() -> None:
    story = Story().start()
    with pytest.raises(RuleViolation, match="the evaluation strategy has not been agreed yet"):
        story.measure("waits", 35)
    story.agree_evaluation()
    with pytest.raises(RuleViolation, match="milestone 'dated' does not measure 'attendance'"):
        story.measure("attendance", 35, milestone_id="dated")
    story.measure("waits", 35, milestone_id="dated")
    assert story.state.indicators["waits"].measurements[-1].milestone_id == "dated"


def test_only_a_facilitator_overrides_and_only_a_hold() -> None:
    story = Story().pilot_ready()
    override = PaceOverridden(occurred_at=story.now, phase_id="pilot", overridden_by="d1", reason="Go.")
    with pytest.raises(RuleViolation, match="only a facilitator may override a pace hold, and d1 is not one"):
        story.record(override)
    with pytest.raises(RuleViolation, match="phase 'pilot' is not held, so there is nothing to override"):
        story.record(override.model_copy(update={"overridden_by": "f1"}))


def test_escalation_comes_only_after_the_expected_duration() -> None:
    story = Story().start().on(9)
    with pytest.raises(RuleViolation, match="not due for escalation until 2025-01-16"):
        story.record(GateEscalated(occurred_at=story.now, phase_id="setup"))
    story.on(10).record(GateEscalated(occurred_at=story.now, phase_id="setup"))
    assert story.state.phases["setup"].escalated_at == day(10)


def test_the_cohort_widens_only_in_a_phase_with_the_wider_group() -> None:
    story = Story().start()
    with pytest.raises(PhaseOrderError, match="not 'setup'"):
        story.record(CohortWidened(occurred_at=story.now, phase_id="setup", widened_by="f1"))


def amended(story: Story, plan: Plan, reason: str = "The group asked for longer.") -> PlanAmended:
    old = story.state.require_plan()
    return PlanAmended(
        occurred_at=story.now,
        plan=plan,
        plan_sha256=plan_sha256(plan),
        changes=plan_diff(old, plan),
        amended_by="f1",
        reason=reason,
    )


def test_a_plan_amendment_changes_what_is_still_to_come() -> None:
    story = Story().through_setup()
    old = story.state.require_plan()
    pilot = old.phases_by_id["pilot"].model_copy(update={"min_dwell_days": 14})
    new = Plan.model_validate(
        {**old.model_dump(), "phases": [p if p.id != "pilot" else pilot for p in old.phases]}
    )
    story.record(amended(story, new))
    assert story.state.require_plan().phases_by_id["pilot"].min_dwell_days == 14
    assert story.state.amendments == 1 and story.state.plan_sha256 == plan_sha256(new)


def test_a_plan_amendment_cannot_rewrite_what_already_happened() -> None:
    story = Story().through_setup()
    old = story.state.require_plan()
    without_setup = Plan.model_validate(
        {**old.model_dump(), "phases": [p.model_dump() for p in old.phases[1:]]}
    )
    with pytest.raises(RuleViolation, match=r"phases already started \(setup, train\) must stay first"):
        story.record(amended(story, without_setup))
    honest = amended(story, without_setup)
    with pytest.raises(RuleViolation, match="changes are not the difference between the plans"):
        story.record(honest.model_copy(update={"changes": honest.changes[:1]}))


def test_fold_as_of_shows_the_engagement_as_it_stood_then() -> None:
    story = Story().through_train()
    then = fold(story.events, as_of=day(3, 1))
    assert then.phases["setup"].status == "completed" and then.phases["train"].status == "running"
    assert then.last_event_at == day(3)
    assert fold(story.events, as_of=day(-1)) == EMPTY_STATE
    assert fold(story.events) == story.state


def test_a_measurement_of_an_unknown_milestone_is_refused() -> None:
    story = Story().start().agree_evaluation()
    event = MeasurementRecorded(
        occurred_at=story.now, indicator="waits", value=3, milestone_id="q9", recorded_by="f1"
    )
    with pytest.raises(UnknownReference, match="there is no milestone 'q9' in the plan"):
        story.record(event)


def test_with_phases_in_parallel_a_later_phase_still_completes_after_an_earlier_one() -> None:
    plan = Story().plan
    parallel = Plan.model_validate(
        {**plan.model_dump(), "pace": {**plan.pace.model_dump(), "max_concurrent_phases": 2}}
    )
    story = Story(parallel).start().on(1).start_phase("train")
    with pytest.raises(RuleViolation, match="allows 2 phase"):
        story.start_phase("pilot")
    story.on(6).check_ins(u1=4, u2=4).open_gate("train")
    story.vote("train", "d2").vote("train", "u1").decide("train")
    with pytest.raises(PhaseOrderError, match="earlier phases must complete first: setup"):
        story.complete("train")


def test_records_the_fold_builds_without_validation_are_valid() -> None:
    """`evolve` and `record` skip validation for speed; everything they built must validate as is."""
    from domain.engagement import CheckIn, RecognitionAccount, VoteRecord
    from tests.domain.plans import example_plan
    from tests.domain.scenario import scripted_history

    state = fold(scripted_history(example_plan("housing-tenant-governance.yaml"), seed=11))
    parts = [
        *state.check_ins.values(),
        *state.recognition.values(),
        *(vote for gate in state.gates.values() for vote in gate.votes.values()),
        *(
            period
            for p in state.people.values()
            for periods in p.authorisations.values()
            for period in periods
        ),
        *state.people.values(),
        *state.phases.values(),
        *state.gates.values(),
    ]
    assert {type(part) for part in parts} >= {CheckIn, RecognitionAccount, VoteRecord}
    for part in parts:
        assert type(part).model_validate(part.model_dump()) == part
