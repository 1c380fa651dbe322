"""From an input to the events it records: every builder in ``workflows.commands``, with no server.

Each builder is called on a folded ``EngagementState`` (built with the domain's story helper, on the
small test plan held pseudonymised, as the workflow holds it), then its events are applied to a copy of
the state with ``dry_run``, exactly as the workflow's validators do. A refusal is asserted by its whole
sentence: that sentence is what the person who sent the input reads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from domain.engagement import EngagementState
from domain.errors import DomainError
from domain.events import (
    AssessmentRecorded,
    AuthorisationGranted,
    BaselineRecorded,
    CheckInRecorded,
    CohortWidened,
    ContributionLogged,
    EngagementPaused,
    EngagementResumed,
    EngagementStarted,
    EvaluationStrategyAgreed,
    Event,
    MeasurementRecorded,
    PaceHoldRecorded,
    PaceOverridden,
    ParticipantJoined,
    PlanAmended,
    RecognitionPaid,
    RungChanged,
    SessionHeld,
    TrainingCompleted,
    VoteCast,
)
from domain.plan import Plan, plan_diff, plan_pseudonymised, plan_sha256
from domain.rules.pace import pace_check
from domain.state import EMPTY_STATE, apply
from tests.domain.helpers import T0, Story, day
from tests.domain.plans import small_plan
from workflows import commands
from workflows import messages as m
from workflows.commands import CommandRefused

PLAN = plan_pseudonymised(small_plan())  # the workflow starts every engagement with names taken out

Builder = Callable[[EngagementState, Any, datetime], list[Event]]


def story() -> Story:
    return Story(PLAN)


def accepted(build: Builder, state: EngagementState, msg: m.Message, now: datetime) -> list[Event]:
    """The events the input records; they must apply to the state as the validator applies them."""
    events = build(state, msg, now)
    commands.dry_run(state, events)
    return events


def refusal(build: Builder, state: EngagementState, msg: m.Message, now: datetime) -> str:
    """The sentence the input is refused with (by the builder, or by the domain in the dry run)."""
    before = state.model_dump_json()
    with pytest.raises(DomainError) as caught:
        commands.dry_run(state, build(state, msg, now))
    assert state.model_dump_json() == before  # a refused input leaves no trace
    return str(caught.value)


def refused_by_builder(build: Builder, state: EngagementState, msg: m.Message, now: datetime) -> str:
    with pytest.raises(CommandRefused) as caught:
        build(state, msg, now)
    return str(caught.value)


# --- the assessment and the evaluation strategy ------------------------------------------------------


def assessment(**changes: Any) -> m.RecordAssessment:
    values: dict[str, Any] = {
        "by": "f1",
        "past_co_production": "A forum in 2019.",
        "what_worked": "Small groups.",
        "what_did_not_work": "Evening meetings.",
        "approach_to_change": "Careful.",
        "commitment_items": (4, 4, 3, 4, 5),
        "efficacy_items": (3, 3, 4, 3, 4, 3, 3),
        "respondents": 12,
    }
    return m.RecordAssessment(**{**values, **changes})


def test_an_assessment_records_the_findings_and_the_oric_means() -> None:
    s = story().start().on(2)
    [event] = accepted(commands.record_assessment, s.state, assessment(), s.now)
    assert isinstance(event, AssessmentRecorded)
    assert (event.recorded_by, event.occurred_at, event.what_did_not_work) == (
        "f1",
        day(2),
        "Evening meetings.",
    )
    assert (event.oric.commitment_mean, event.oric.efficacy_mean, event.oric.respondents) == (4.0, 3.29, 12)
    assert commands.dry_run(s.state, [event]).assessments[-1].efficacy_mean == 3.29


@pytest.mark.parametrize("items", [(6, 4, 4, 4, 4), (0, 4, 4, 4, 4)])
def test_an_oric_item_off_the_scale_is_refused(items: tuple[int, ...]) -> None:
    s = story().start()
    sentence = refused_by_builder(
        commands.record_assessment, s.state, assessment(commitment_items=items), s.now
    )
    bound = "at most 5, not 6" if items[0] > 5 else "at least 1, not 0"
    assert sentence == f"ORIC scores: commitment_items[0] must be {bound} (each item is 1 to 5)"


def test_free_text_that_cannot_be_stored_is_refused_naming_each_field() -> None:
    s = story().start()
    msg = assessment(past_co_production="A forum\x01", what_worked="   ")
    assert refused_by_builder(commands.record_assessment, s.state, msg, s.now) == (
        "past_co_production contains the control character U+0001 (remove it), "
        "and what_worked must not be blank"
    )


def test_the_evaluation_strategy_is_agreed_by_people_of_the_engagement() -> None:
    s = story().start()
    msg = m.AgreeEvaluationStrategy(agreed_by=("d1", "u1"))
    [event] = accepted(commands.agree_evaluation_strategy, s.state, msg, s.now)
    assert isinstance(event, EvaluationStrategyAgreed) and event.agreed_by == ("d1", "u1")
    stranger = m.AgreeEvaluationStrategy(agreed_by=("d1", "x9"))
    assert refusal(commands.agree_evaluation_strategy, s.state, stranger, s.now) == (
        "evaluation_strategy_agreed at 2025-01-06T09:00:00Z: person 'x9' is not part of this engagement"
    )


# --- sessions and training ------------------------------------------------------------------------------


def test_a_session_goes_to_the_current_phase_and_is_numbered_within_it() -> None:
    s = story().through_setup()  # 'train' runs
    msg = m.RecordSession(
        by="f1",
        activity_type="training",
        activity_id="course",
        attendee_ids=("u1", "u2"),
        duration_minutes=90,
    )
    [first] = accepted(commands.record_session, s.state, msg, s.now)
    assert isinstance(first, SessionHeld)
    assert (first.phase_id, first.session_id, first.attendee_ids, first.recorded_by) == (
        "train",
        "train-1",
        ("u1", "u2"),
        "f1",
    )
    s.record(first)
    [second] = accepted(commands.record_session, s.state, msg, s.now)
    assert second.session_id == "train-2"
    named = msg.model_copy(update={"session_id": "kick-off"})
    assert accepted(commands.record_session, s.state, named, s.now)[0].session_id == "kick-off"


def test_a_session_needs_a_running_phase_and_an_activity_that_phase_plans() -> None:
    s = story().start()
    msg = m.RecordSession(
        by="f1", activity_type="training", activity_id="course", attendee_ids=("u1",), duration_minutes=60
    )
    assert refusal(commands.record_session, s.state, msg, s.now) == (
        "session_held at 2025-01-06T09:00:00Z: phase 'setup' plans no activity 'course'"
    )
    not_yet = apply(EMPTY_STATE, s.events[0])  # started, but no phase has started yet
    assert isinstance(s.events[0], EngagementStarted)
    assert refused_by_builder(commands.record_session, not_yet, msg, s.now) == (
        "no phase is running; name the phase"
    )
    stranger = msg.model_copy(
        update={"activity_id": None, "activity_type": "focus_group", "attendee_ids": ("x9",)}
    )
    assert refusal(commands.record_session, s.state, stranger, s.now) == (
        "session_held at 2025-01-06T09:00:00Z: person 'x9' is not part of this engagement"
    )


def test_training_completes_the_module_and_authorises_until_it_lapses() -> None:
    s = story().start().on(4)
    sdm = m.RecordTraining(by="f1", person_id="u1", module_id="sdm", session_id="train-1")
    completed, granted = accepted(commands.record_training, s.state, sdm, s.now)
    assert isinstance(completed, TrainingCompleted) and isinstance(granted, AuthorisationGranted)
    assert (completed.person_id, completed.module_id, completed.session_id) == ("u1", "sdm", "train-1")
    assert (granted.person_id, granted.module_id, granted.expires_at) == ("u1", "sdm", day(25))  # 21 days
    gov = m.RecordTraining(by="f1", person_id="d2", module_id="gov")
    assert accepted(commands.record_training, s.state, gov, s.now)[1].expires_at is None  # never lapses
    after = commands.dry_run(s.state, [completed, granted])
    assert after.people["u1"].authorisations["sdm"][-1].valid_at(day(24))


@pytest.mark.parametrize(
    "by, person, module, sentence",
    [
        ("d1", "u1", "sdm", "only a facilitator may record training, and d1 is not one"),
        ("u1", "u1", "sdm", "only a facilitator may record training, and u1 is not one"),
        ("x9", "u1", "sdm", "there is no person 'x9' in this engagement"),
        ("f1", "u1", "first-aid", "there is no training module 'first-aid' in the plan"),
    ],
)
def test_only_a_facilitator_records_training_and_only_for_a_planned_module(
    by: str, person: str, module: str, sentence: str
) -> None:
    s = story().start()
    msg = m.RecordTraining(by=by, person_id=person, module_id=module)
    assert refused_by_builder(commands.record_training, s.state, msg, s.now) == sentence


def test_training_for_someone_outside_the_engagement_is_refused() -> None:
    s = story().start()
    msg = m.RecordTraining(by="f1", person_id="x9", module_id="sdm")
    assert refusal(commands.record_training, s.state, msg, s.now) == (
        "training_completed at 2025-01-06T09:00:00Z: person 'x9' is not part of this engagement"
    )


# --- measurements and check-ins -----------------------------------------------------------------------


def test_a_baseline_and_a_measurement_are_different_events() -> None:
    s = story().start().agree_evaluation()
    baseline = m.RecordMeasurement(
        by="f1", indicator="attendance", value=40, baseline=True, note="Registers."
    )
    [first] = accepted(commands.record_measurement, s.state, baseline, s.now)
    assert isinstance(first, BaselineRecorded)
    assert (first.indicator, first.value, first.recorded_by, first.note) == (
        "attendance",
        40,
        "f1",
        "Registers.",
    )
    s.record(first)
    assert s.state.indicators["attendance"].baseline == 40
    point = m.RecordMeasurement(by="f1", indicator="waits", value=35, milestone_id="dated")
    [second] = accepted(commands.record_measurement, s.state, point, s.now)
    assert isinstance(second, MeasurementRecorded)
    assert (second.indicator, second.value, second.milestone_id) == ("waits", 35, "dated")


def test_a_baseline_for_a_milestone_is_refused() -> None:
    s = story().start().agree_evaluation()
    msg = m.RecordMeasurement(by="f1", indicator="waits", value=35, baseline=True, milestone_id="dated")
    assert refused_by_builder(commands.record_measurement, s.state, msg, s.now) == (
        "a baseline is not measured for a milestone; leave milestone_id out"
    )


def test_measurements_the_domain_cannot_take_are_refused_with_its_sentence() -> None:
    s = story().start()
    msg = m.RecordMeasurement(by="f1", indicator="waits", value=35)
    assert refusal(commands.record_measurement, s.state, msg, s.now) == (
        "measurement_recorded at 2025-01-06T09:00:00Z: the evaluation strategy has not been agreed yet; "
        "agree it before measuring"
    )
    s.agree_evaluation().measure("attendance", 50)
    late = m.RecordMeasurement(by="f1", indicator="attendance", value=40, baseline=True)
    assert refusal(commands.record_measurement, s.state, late, s.now) == (
        "baseline_recorded at 2025-01-06T09:00:00Z: 'attendance' has been measured already; "
        "its baseline comes first"
    )
    wrong = m.RecordMeasurement(by="f1", indicator="attendance", value=40, milestone_id="dated")
    assert refusal(commands.record_measurement, s.state, wrong, s.now) == (
        "measurement_recorded at 2025-01-06T09:00:00Z: milestone 'dated' does not measure 'attendance'"
    )


def test_a_check_in_records_comfort_on_the_plans_scale() -> None:
    s = story().start().on(1)
    [event] = accepted(commands.record_check_in, s.state, m.RecordCheckIn(person_id="u1", comfort=2), s.now)
    assert isinstance(event, CheckInRecorded) and (event.person_id, event.comfort) == ("u1", 2)
    assert commands.dry_run(s.state, [event]).check_ins["u1"].comfort == 2
    assert refusal(commands.record_check_in, s.state, m.RecordCheckIn(person_id="u1", comfort=6), s.now) == (
        "check_in_recorded at 2025-01-07T09:00:00Z: comfort 6 is outside the scale 1..5"
    )
    too_long = m.RecordCheckIn(person_id="u1", comfort=3, note="x" * 20_001)
    assert refused_by_builder(commands.record_check_in, s.state, too_long, s.now) == (
        "note has 20,001 characters, more than the 20,000 allowed"
    )


# --- people and the cohort ----------------------------------------------------------------------------------


def test_a_facilitator_adds_a_participant() -> None:
    s = story().start()
    msg = m.AddParticipant(by="f1", person_id="n1", constituency="carer", roles=("user-rep",), cohort="wider")
    [event] = accepted(commands.add_participant, s.state, msg, s.now)
    assert isinstance(event, ParticipantJoined)
    assert (event.person_id, event.constituency, event.roles, event.cohort) == (
        "n1",
        "carer",
        ("user-rep",),
        "wider",
    )
    assert refused_by_builder(
        commands.add_participant, s.state, msg.model_copy(update={"by": "d1"}), s.now
    ) == ("only a facilitator may add a participant, and d1 is not one")
    twice = msg.model_copy(update={"person_id": "u1"})
    assert refusal(commands.add_participant, s.state, twice, s.now) == (
        "participant_joined at 2025-01-06T09:00:00Z: person 'u1' is already part of this engagement"
    )


def test_widening_goes_to_the_running_phase_that_works_with_the_wider_group() -> None:
    plan = Plan.model_validate(
        {**PLAN.model_dump(), "pace": {**PLAN.pace.model_dump(), "max_concurrent_phases": 2}}
    )
    s = Story(plan).pilot_ready().open_gate("pilot").vote("pilot", "d1").vote("pilot", "u1")
    s.vote("pilot", "u2").decide("pilot").start_phase("widen")  # 'pilot' (passed) and 'widen' run
    assert s.state.current_phase() == "pilot"
    [event] = accepted(commands.widen_cohort, s.state, m.WidenCohort(by="f1"), s.now)
    assert isinstance(event, CohortWidened) and (event.phase_id, event.widened_by) == ("widen", "f1")
    assert commands.dry_run(s.state, [event]).cohort == "wider"


def test_widening_in_a_phase_with_the_initial_group_is_refused() -> None:
    s = story().start()
    assert refusal(commands.widen_cohort, s.state, m.WidenCohort(by="f1"), s.now) == (
        "cohort_widened at 2025-01-06T09:00:00Z: the cohort widens in a running phase that works with "
        "the wider group, not 'setup'"
    )


# --- amending the plan ----------------------------------------------------------------------------------------


def test_an_amendment_records_the_new_plan_without_names_and_what_changed() -> None:
    s = story().through_setup()
    named = small_plan()  # as an operator sends it, with people's names
    pilot = named.phases_by_id["pilot"].model_copy(update={"min_dwell_days": 14})
    longer = Plan.model_validate(
        {**named.model_dump(), "phases": [pilot if p.id == "pilot" else p for p in named.phases]}
    )
    msg = m.AmendPlan(by="f1", plan=longer, reason="The group asked for longer.")
    [event] = accepted(commands.amend_plan, s.state, msg, s.now)
    assert isinstance(event, PlanAmended)
    assert all(person.display_name == person.id for person in event.plan.people)  # names stay out of the log
    assert [(c.path, c.before, c.after) for c in event.changes] == [("phases[pilot].min_dwell_days", 7, 14)]
    assert event.plan_sha256 == plan_sha256(event.plan) and event.changes == plan_diff(PLAN, event.plan)
    assert commands.dry_run(s.state, [event]).require_plan().phases_by_id["pilot"].min_dwell_days == 14


def test_an_amendment_identical_to_the_plan_is_refused() -> None:
    s = story().start()
    msg = m.AmendPlan(by="f1", plan=small_plan(), reason="No change, only names.")
    assert refused_by_builder(commands.amend_plan, s.state, msg, s.now) == (
        "the amended plan is the same as the current one; there is nothing to record"
    )


def test_an_amendment_that_rewrites_the_past_is_refused() -> None:
    s = story().through_setup()
    without_setup = Plan.model_validate(
        {**PLAN.model_dump(), "phases": [p.model_dump() for p in PLAN.phases[1:]]}
    )
    msg = m.AmendPlan(by="f1", plan=without_setup, reason="Setup was not needed.")
    assert refusal(commands.amend_plan, s.state, msg, s.now) == (
        "plan_amended at 2025-01-09T09:00:00Z: the amendment would rewrite what already happened: "
        "phases already started (setup, train) must stay first, in the same order"
    )


# --- votes --------------------------------------------------------------------------------------------------


def vote(
    person: str, phase: str = "pilot", choice: str = "approve", reason: str | None = None
) -> m.DecideGate:
    return m.DecideGate(person_id=person, phase_id=phase, choice=choice, reason=reason)  # type: ignore[arg-type]


def test_a_vote_on_the_open_gate_is_recorded_in_its_round() -> None:
    s = story().pilot_ready().open_gate("pilot")
    [event] = accepted(commands.decide_gate, s.state, vote("u1", reason="Ready."), s.now)
    assert isinstance(event, VoteCast)
    assert (event.phase_id, event.round, event.person_id, event.choice, event.reason) == (
        "pilot",
        1,
        "u1",
        "approve",
        "Ready.",
    )
    after = commands.dry_run(s.state, [event])
    assert after.gates["pilot"].votes["u1"].counted


def test_a_vote_in_a_later_round_carries_that_round() -> None:
    s = story().pilot_ready().open_gate("pilot").vote("pilot", "u1", "object", "Not yet.")
    s.decide("pilot", "held", reason="u1 objects").on(18).check_ins(u1=4, u2=4).open_gate("pilot")
    assert accepted(commands.decide_gate, s.state, vote("u1"), s.now)[0].round == 2


@pytest.mark.parametrize(
    "msg, sentence",
    [
        (vote("u1", phase="launch"), "there is no phase 'launch' in the plan"),
        (vote("u1", phase="widen"), "gate 'widen' has not been opened"),
        (vote("u1", phase="setup"), "gate 'setup' is not open (it was passed)"),
        (vote("x9"), "x9 is not part of this engagement"),
        (
            vote("s1"),
            "s1 is not on the roster for gate 'pilot': their roles (none) are not among its deciding roles "
            "(sponsor, board, user-rep)",
        ),
        (vote("u4"), "u4 belongs to the wider group, which has not been formed yet"),
        (vote("u1"), "u1 has not completed the training module 'sdm'"),  # trained: u2, u3, c1 only
        (vote("u2", choice="object"), "an objection to gate 'pilot' needs a reason"),
        (vote("u2", choice="object", reason="   "), "an objection to gate 'pilot' needs a reason"),
        (vote("d1"), "d1 has already voted on gate 'pilot' (abstain)"),
    ],
)
def test_a_vote_that_could_not_count_is_refused_saying_why(msg: m.DecideGate, sentence: str) -> None:
    s = story().pilot_ready(trained=("u2", "u3", "c1")).open_gate("pilot").vote("pilot", "d1", "abstain")
    assert refused_by_builder(commands.decide_gate, s.state, msg, s.now) == sentence


def test_a_vote_after_the_voters_authorisation_expired_is_refused() -> None:
    s = story().pilot_ready().open_gate("pilot").on(26)  # 'sdm' (trained on day 4) lasts 21 days
    assert refused_by_builder(commands.decide_gate, s.state, vote("u1"), s.now) == (
        "u1's authorisation for 'sdm' expired on 2025-01-31; renewing the training restores it"
    )


def test_with_four_eyes_whoever_asked_for_the_gate_cannot_approve_it() -> None:
    s = story().start().on(3).check_ins(u1=4, u2=4).open_gate("setup", requested_by="d1")
    assert refused_by_builder(commands.decide_gate, s.state, vote("d1", phase="setup"), s.now) == (
        "d1 asked for gate 'setup', and four eyes are required: someone else must approve it"
    )
    objection = vote("d1", phase="setup", choice="object", reason="Too soon.")
    assert accepted(commands.decide_gate, s.state, objection, s.now)[0].choice == "object"  # may object
    assert accepted(commands.decide_gate, s.state, vote("d2", phase="setup"), s.now)[0].person_id == "d2"


def test_without_four_eyes_whoever_asked_may_approve() -> None:
    setup = PLAN.phases_by_id["setup"]
    relaxed = setup.model_copy(update={"gate": setup.gate.model_copy(update={"four_eyes": False})})
    plan = Plan.model_validate(
        {**PLAN.model_dump(), "phases": [relaxed if p.id == "setup" else p for p in PLAN.phases]}
    )
    s = Story(plan).start().on(3).check_ins(u1=4, u2=4).open_gate("setup", requested_by="d1")
    assert accepted(commands.decide_gate, s.state, vote("d1", phase="setup"), s.now)[0].person_id == "d1"


# --- pace, money, the ladder ---------------------------------------------------------------------------------


def test_a_facilitator_overrides_a_pace_hold() -> None:
    s = story().pilot_ready().check_ins(u1=2, u2=3, u3=2)
    waiting = pace_check(s.state, "pilot", s.now).waiting_for
    s.record(PaceHoldRecorded(occurred_at=s.now, phase_id="pilot", waiting_for=waiting))
    msg = m.OverrideHold(by="f1", phase_id="pilot", reason="Low scores were about meeting times.")
    [event] = accepted(commands.override_hold, s.state, msg, s.now)
    assert isinstance(event, PaceOverridden) and (event.phase_id, event.overridden_by) == ("pilot", "f1")
    after = commands.dry_run(s.state, [event])
    assert after.phases["pilot"].hold is None and pace_check(after, "pilot", s.now).may_advance
    assert refusal(commands.override_hold, s.state, msg.model_copy(update={"by": "d1"}), s.now) == (
        "pace_overridden at 2025-01-21T09:00:00Z: only a facilitator may override a pace hold, and d1 is not one"
    )
    assert refusal(commands.override_hold, s.state, msg.model_copy(update={"phase_id": "setup"}), s.now) == (
        "pace_overridden at 2025-01-21T09:00:00Z: phase 'setup' is not held, so there is nothing to override"
    )
    assert refused_by_builder(
        commands.override_hold, s.state, msg.model_copy(update={"reason": " "}), s.now
    ) == ("reason must not be blank")


def test_time_given_is_logged_and_recognition_paid_up_to_what_is_owed() -> None:
    s = story().start()
    given = m.RecordContribution(by="f1", person_id="u1", minutes=90, session_id="setup-1")
    [logged] = accepted(commands.record_contribution, s.state, given, s.now)
    assert isinstance(logged, ContributionLogged)
    assert (logged.person_id, logged.minutes, logged.expenses_pence, logged.session_id) == (
        "u1",
        90,
        0,
        "setup-1",
    )
    s.record(logged)
    assert s.state.recognition["u1"].fee_earned_pence == 3000  # 90 minutes at 2000p an hour
    pay = m.RecordRecognition(by="f1", person_id="u1", fee_pence=3000, form="payment")
    [paid] = accepted(commands.record_recognition, s.state, pay, s.now)
    assert isinstance(paid, RecognitionPaid) and (paid.fee_pence, paid.form) == (3000, "payment")
    too_much = pay.model_copy(update={"fee_pence": 3001})
    assert refusal(commands.record_recognition, s.state, too_much, s.now) == (
        "recognition_paid at 2025-01-06T09:00:00Z: u1 is owed 3000p in fees and 0p in expenses, "
        "less than the 3001p and 0p paid"
    )
    voucher = pay.model_copy(update={"form": "voucher"})
    assert refusal(commands.record_recognition, s.state, voucher, s.now) == (
        "recognition_paid at 2025-01-06T09:00:00Z: the recognition policy pays fees by hourly_rate, "
        "not as a voucher"
    )


def test_a_decision_area_moves_from_the_rung_it_is_on() -> None:
    s = story().start()
    msg = m.ChangeRung(area_id="policy", to_rung="co-design", agreed_by=("d1", "u1"))
    [event] = accepted(commands.change_rung, s.state, msg, s.now)
    assert isinstance(event, RungChanged)
    assert (event.area_id, event.from_rung, event.to_rung, event.agreed_by) == (
        "policy",
        "consultation",
        "co-design",
        ("d1", "u1"),
    )
    assert commands.dry_run(s.state, [event]).decision_areas["policy"].rung == "co-design"


@pytest.mark.parametrize(
    "area, rung, sentence",
    [
        ("policy", "consultation", "decision area 'policy' is already at 'consultation'"),
        ("budget", "informing", "decision area 'budget' is already at 'informing'"),
        ("housing", "co-design", "there is no decision area 'housing' in the plan"),
    ],
)
def test_a_ladder_move_to_the_same_rung_or_an_unknown_area_is_refused(
    area: str, rung: str, sentence: str
) -> None:
    s = story().start()
    msg = m.ChangeRung(area_id=area, to_rung=rung, agreed_by=("d1",))  # type: ignore[arg-type]
    assert refused_by_builder(commands.change_rung, s.state, msg, s.now) == sentence


# --- pausing and resuming -----------------------------------------------------------------------------------


def test_a_facilitator_pauses_and_resumes() -> None:
    s = story().start().on(3)
    [paused] = accepted(commands.pause, s.state, m.Pause(by="f1", reason="Board elections."), s.now)
    assert isinstance(paused, EngagementPaused) and (paused.paused_by, paused.reason) == (
        "f1",
        "Board elections.",
    )
    s.record(paused)
    assert s.state.status == "paused"
    [resumed] = accepted(commands.resume, s.state, m.Resume(by="f1"), s.now)
    assert isinstance(resumed, EngagementResumed) and resumed.resumed_by == "f1"
    assert commands.dry_run(s.state, [resumed]).status == "active"


@pytest.mark.parametrize(
    "build, msg, sentence",
    [
        (
            commands.pause,
            m.Pause(by="d1", reason="Elections."),
            "only a facilitator may pause the engagement, and d1 is not one",
        ),
        (commands.pause, m.Pause(by="x9", reason="Elections."), "there is no person 'x9' in this engagement"),
        (
            commands.resume,
            m.Resume(by="u1"),
            "only a facilitator may resume the engagement, and u1 is not one",
        ),
    ],
)
def test_only_a_facilitator_pauses_or_resumes(build: Builder, msg: m.Message, sentence: str) -> None:
    s = story().start()
    assert refused_by_builder(build, s.state, msg, s.now) == sentence


def test_pausing_twice_or_resuming_what_runs_is_refused() -> None:
    s = story().start()
    assert refusal(commands.resume, s.state, m.Resume(by="f1"), s.now) == (
        "engagement_resumed at 2025-01-06T09:00:00Z: the engagement is not paused, so it cannot be resumed"
    )
    assert refused_by_builder(commands.pause, s.state, m.Pause(by="f1", reason=""), s.now) == (
        "reason must not be blank"
    )
    s.record(accepted(commands.pause, s.state, m.Pause(by="f1", reason="Elections."), s.now)[0])
    assert refusal(commands.pause, s.state, m.Pause(by="f1", reason="Again."), s.now) == (
        "engagement_paused at 2025-01-06T09:00:00Z: the engagement is already paused (since 2025-01-06)"
    )


def test_while_paused_facts_are_accepted_and_votes_are_not() -> None:
    s = story().pilot_ready().open_gate("pilot")
    s.record(EngagementPaused(occurred_at=s.now, paused_by="f1", reason="Elections."))
    assert accepted(commands.record_check_in, s.state, m.RecordCheckIn(person_id="u1", comfort=3), s.now)
    assert refusal(commands.decide_gate, s.state, vote("u1"), s.now) == (
        "vote_cast at 2025-01-21T09:00:00Z: the engagement is paused (since 2025-01-21); resume it first"
    )


# --- who acts, and the dry run ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "msg, actor",
    [
        (m.RecordTraining(by="f1", person_id="u1", module_id="sdm"), "f1"),
        (m.RecordCheckIn(person_id="u2", comfort=3), "u2"),
        (vote("u3"), "u3"),
        (m.AgreeEvaluationStrategy(agreed_by=("d1", "u1")), "d1"),
        (m.ChangeRung(area_id="policy", to_rung="co-design", agreed_by=("u1", "d1")), "u1"),
    ],
)
def test_the_actor_is_who_acts(msg: m.Message, actor: str) -> None:
    assert commands.actor_of(msg) == actor


def test_the_dry_run_leaves_the_state_it_was_given_alone() -> None:
    s = story().start()
    before = s.state.model_dump_json()
    events = accepted(commands.record_check_in, s.state, m.RecordCheckIn(person_id="u1", comfort=4), day(1))
    after = commands.dry_run(s.state, events)
    assert s.state.model_dump_json() == before and s.state.check_in_count == 0
    assert after.check_in_count == 1 and after.last_event_at == day(1)
    earlier = events[0].model_copy(update={"occurred_at": T0})
    with pytest.raises(DomainError, match="earlier than the event before it"):
        commands.dry_run(after, [earlier])


def test_a_command_refusal_is_a_domain_error() -> None:
    """The workflow's validators turn any ``DomainError`` into a refusal; ``CommandRefused`` is one."""
    assert issubclass(CommandRefused, DomainError)
