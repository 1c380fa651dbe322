"""What an engagement does by itself: ``workflows.conductor`` on folded states, with no server.

``next_step`` is asked, after every change, for the one event that should follow; ``due_events`` turns
what has fallen due into events; ``next_wake`` says when the workflow's timer should wake it;
``reopen_at`` when a held or rejected gate opens for another round. States are built with the domain's
story helper on the small test plan (held pseudonymised, as the workflow holds it), and the properties
at the end run the conductor from states reached along generated engagements.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.engagement import EngagementState
from domain.events import (
    AuthorisationExpired,
    CohortWidened,
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    Event,
    GateDecided,
    GateEscalated,
    GateOpened,
    MilestoneDue,
    PaceHoldRecorded,
    PaceHoldReleased,
    PaceOverridden,
    PhaseCompleted,
    PhaseStarted,
    ReminderSent,
)
from domain.plan import Plan, plan_pseudonymised
from domain.state import EMPTY_STATE, apply, fold
from tests.domain.helpers import Story, day
from tests.domain.plans import small_plan
from tests.domain.scenario import RandomChooser, Script
from workflows.conductor import due_events, next_step, next_wake, reopen_at

PLAN = plan_pseudonymised(small_plan())
LEAD = "f1"
INITIAL_COHORT = ("c1", "d1", "d2", "d3", "f1", "s1", "u1", "u2", "u3")  # u4, u5 join when it widens


def with_pace(plan: Plan, **pace: object) -> Plan:
    return Plan.model_validate({**plan.model_dump(), "pace": {**plan.pace.model_dump(), **pace}})


def setup_only() -> Plan:
    """The small plan cut to its first phase (and what refers only to later phases taken out)."""
    data = PLAN.model_dump()
    data["phases"] = data["phases"][:1]
    data["training"]["requirements"] = []
    data["evaluation"]["milestones"] = [ms for ms in data["evaluation"]["milestones"] if ms["id"] == "dated"]
    return Plan.model_validate(data)


def story(plan: Plan = PLAN) -> Story:
    return Story(plan)


def follow(state: EngagementState, now: datetime, limit: int = 50) -> tuple[EngagementState, list[Event]]:
    """Apply ``next_step`` until it has nothing more to say, as the workflow does after every change."""
    chain: list[Event] = []
    for _ in range(limit):
        event = next_step(state, now, LEAD)
        if event is None:
            return state, chain
        state = apply(state, event)
        chain.append(event)
    raise AssertionError(f"next_step did not settle in {limit} steps: {[e.type for e in chain[-6:]]}")


def settle(state: EngagementState, now: datetime, limit: int = 200) -> tuple[EngagementState, list[Event]]:
    """What the workflow records when it wakes at ``now``: what fell due, and what follows by itself."""
    recorded: list[Event] = []
    for _ in range(limit):
        events = due_events(state, now)
        for event in events:
            state = apply(state, event)
        state, chain = follow(state, now)
        if not events and not chain:
            return state, recorded
        recorded += events + chain
    raise AssertionError(f"the engagement did not settle at {now} in {limit} rounds")


def types(events: list[Event]) -> list[str]:
    return [event.type for event in events]


# --- next_step: what follows by itself ------------------------------------------------------------------------


def test_nothing_happens_by_itself_before_the_start_while_paused_or_after_completion() -> None:
    assert next_step(EMPTY_STATE, day(0), LEAD) is None
    s = story().start().on(3).check_ins(u1=4, u2=4)
    assert isinstance(next_step(s.state, s.now, LEAD), GateOpened)  # would open, were it not paused
    s.record(EngagementPaused(occurred_at=s.now, paused_by="f1", reason="Elections."))
    assert next_step(s.state, s.now, LEAD) is None
    s.on(4).record(EngagementResumed(occurred_at=s.now, resumed_by="f1"))
    assert isinstance(next_step(s.state, s.now, LEAD), GateOpened)


def test_the_first_phase_starts_as_soon_as_the_engagement_does() -> None:
    started = apply(EMPTY_STATE, story().start().events[0])
    assert next_step(started, day(0), LEAD) == PhaseStarted(occurred_at=day(0), phase_id="setup")


def test_a_gate_opens_when_the_pace_policy_allows_asked_for_by_the_lead() -> None:
    s = story().start().on(2, 23).check_ins(u1=4, u2=4)
    assert next_step(s.state, s.now, LEAD) is None  # the minimum dwell of 3 days has not passed
    event = next_step(s.state, day(3), LEAD)
    assert isinstance(event, GateOpened)
    assert (event.phase_id, event.round, event.requested_by, event.occurred_at) == ("setup", 1, LEAD, day(3))
    assert [entry.person_id for entry in event.roster] == ["d1", "d2", "d3"]
    assert (event.policy.method, event.policy.quorum) == ("consent", {"decision_maker": 1})


def test_a_gate_waits_for_check_ins_without_holding_when_dwell_is_also_missing() -> None:
    s = story().start().on(2).check_ins(u1=1, u2=1)
    assert next_step(s.state, s.now, LEAD) is None  # comfort is low, but so is the dwell: no hold yet
    assert s.state.phases["setup"].hold is None


def test_a_passed_gate_completes_its_phase_and_the_next_phase_starts() -> None:
    s = story().start().on(3).check_ins(u1=4, u2=4).open_gate("setup").vote("setup", "d1")
    state, chain = follow(s.state, s.now)
    assert chain == [
        GateDecided(occurred_at=day(3), phase_id="setup", round=1, outcome="passed"),
        PhaseCompleted(occurred_at=day(3), phase_id="setup"),
        PhaseStarted(occurred_at=day(3), phase_id="train"),
    ]
    assert state.gates["setup"].decided_by is None and state.current_phase() == "train"


def test_an_open_gate_whose_decision_is_not_met_stays_open() -> None:
    s = story().start().on(3).check_ins(u1=4, u2=4).open_gate("setup").vote("setup", "d1", "abstain")
    assert next_step(s.state, s.now, LEAD) is None
    assert s.state.gates["setup"].status == "open"


def test_under_consent_an_objection_holds_the_gate_saying_what_is_missing() -> None:
    s = story().start().on(3).check_ins(u1=4, u2=4).open_gate("setup")
    s.vote("setup", "d1").vote("setup", "d2", "object", "The papers came late.")
    event = next_step(s.state, s.now, LEAD)
    assert event == GateDecided(
        occurred_at=day(3),
        phase_id="setup",
        round=1,
        outcome="held",
        reason="the objection of d2 to be resolved (consent needs no objection)",
    )
    assert apply(s.state, event).phases["setup"].status == "running"  # a held gate keeps its phase


def test_under_a_vote_an_objection_does_not_hold_the_gate() -> None:
    s = story().through_setup().on(8).check_ins(u1=4, u2=4).open_gate("train")
    s.vote("train", "d2", "object", "Not yet.")
    assert next_step(s.state, s.now, LEAD) is None  # five others may still approve
    s.vote("train", "d3").vote("train", "u1")
    assert next_step(s.state, s.now, LEAD) == GateDecided(
        occurred_at=day(8), phase_id="train", round=1, outcome="passed"
    )


def test_under_a_vote_a_gate_that_can_no_longer_reach_its_approvals_is_rejected_saying_why() -> None:
    s = story().through_setup().on(8).check_ins(u1=4, u2=4).open_gate("train")
    for person in ("u1", "u2", "d2"):
        s.vote("train", person, "object", "Not yet.")
    assert next_step(s.state, s.now, LEAD) is None  # d3, u3 and c1 could still make both quorums
    s.vote("train", "d3", "object", "Not yet.")  # no decision maker is left to approve
    event = next_step(s.state, s.now, LEAD)
    assert event == GateDecided(
        occurred_at=day(8),
        phase_id="train",
        round=1,
        outcome="rejected",
        reason="the gate can no longer reach its approvals: 2 more approvals (0 of 2); "
        "1 more decision_maker approval (0 of 1); 1 more service_user approval (0 of 1)",
    )
    assert apply(s.state, event).gates["train"].status == "rejected"


def test_a_round_everyone_has_voted_in_without_meeting_it_is_decided_not_left_open() -> None:
    """Under consent, everyone abstaining holds the round; under a vote, approvals that can no longer meet
    one constituency's quorum reject it (both reopen after a check-in period)."""
    s = story().start().on(3).check_ins(u1=4, u2=4).open_gate("setup")
    for person in ("d1", "d2", "d3"):
        s.vote("setup", person, "abstain")
    held = next_step(s.state, day(300), LEAD)
    assert isinstance(held, GateDecided) and held.outcome == "held"
    assert (
        held.reason
        == "the gate can no longer reach its approvals: at least one approval; 1 more decision_maker approval (0 of 1)"
    )
    s = story().through_setup().on(8).check_ins(u1=4, u2=4).open_gate("train")
    s.vote("train", "d2", "object", "No.").vote("train", "d3", "object", "No.")
    for person in ("u1", "u2", "u3", "c1"):
        s.vote("train", person)
    rejected = next_step(s.state, day(300), LEAD)
    assert isinstance(rejected, GateDecided) and rejected.outcome == "rejected"
    assert "1 more decision_maker approval (0 of 1)" in (rejected.reason or "")


def test_a_vote_gate_opened_while_voters_training_has_lapsed_waits_for_them_to_renew_it() -> None:
    """People whose authorisation lapsed still count as possible votes: on day 26 the user reps' 'sdm'
    (21 days, from day 4) has lapsed, so 'widen' (3 approvals, 2 service users) opens and stays open;
    they may renew their training and vote, and the gate is escalated if it stays pending too long."""
    s = story().pilot_ready().open_gate("pilot").vote("pilot", "d1").vote("pilot", "u1").vote("pilot", "u2")
    s.decide("pilot").complete("pilot").start_phase("widen")
    s.on(16).record(CohortWidened(occurred_at=s.now, phase_id="widen", widened_by="f1"))
    s.on(26).check_ins(u1=4, u2=4, u4=4)
    state, chain = follow(s.state, s.now)
    assert types(chain) == ["gate_opened"]
    assert state.gates["widen"].status == "open"
    assert reopen_at(state, "widen") is None


# --- pace holds -------------------------------------------------------------------------------------------------


def test_comfort_below_the_threshold_records_a_hold_and_recovering_comfort_releases_it() -> None:
    s = story().pilot_ready().check_ins(u1=2, u2=3, u3=2)  # day 15: dwell and evidence are in
    hold = next_step(s.state, s.now, LEAD)
    assert hold == PaceHoldRecorded(
        occurred_at=day(15),
        phase_id="pilot",
        waiting_for=("comfort to reach 3.5 (average 2.33 over 3 recent check-ins)",),
        comfort_average=2.33,
    )
    s.record(hold)
    assert next_step(s.state, s.now, LEAD) is None  # held: recorded once, not again
    assert next_step(s.state, day(16), LEAD) is None
    s.on(17).check_ins(u1=4, u2=4, u3=4)  # 3 from u1, 3 from u2: the latest of each counts
    state, chain = follow(s.state, s.now)
    assert chain[0] == PaceHoldReleased(occurred_at=day(17), phase_id="pilot")
    assert isinstance(chain[1], GateOpened) and chain[1].phase_id == "pilot"
    assert state.phases["pilot"].holds_recorded == 1


def test_a_hold_for_too_few_check_ins_is_a_hold_too() -> None:
    s = story().pilot_ready().on(23)  # the day-15 check-ins are more than 7 days old
    hold = next_step(s.state, s.now, LEAD)
    assert isinstance(hold, PaceHoldRecorded)
    assert hold.waiting_for == ("at least 2 check-ins in the last 7 days (0 so far)",)
    assert hold.comfort_average is None


def test_after_an_override_low_comfort_no_longer_holds_the_phase() -> None:
    s = story().pilot_ready().check_ins(u1=2, u2=3, u3=2)
    s.record(next_step(s.state, s.now, LEAD))  # the hold
    s.on(16).record(PaceOverridden(occurred_at=s.now, phase_id="pilot", overridden_by="f1", reason="Go on."))
    event = next_step(s.state, s.now, LEAD)
    assert isinstance(event, GateOpened) and event.phase_id == "pilot"


# --- held and rejected gates open again ----------------------------------------------------------------------


def test_a_held_gate_opens_for_a_new_round_after_one_check_in_period() -> None:
    s = story().start().on(3).check_ins(u1=4, u2=4).open_gate("setup")
    s.vote("setup", "d1", "object", "Too soon.")
    s.record(next_step(s.state, s.now, LEAD))  # held
    assert reopen_at(s.state, "setup") == day(6)  # check-ins every 3 days
    s.on(5).check_ins(u1=4, u2=4)
    assert next_step(s.state, day(6) - timedelta(minutes=1), LEAD) is None
    event = next_step(s.state, day(6), LEAD)
    assert isinstance(event, GateOpened) and (event.round, event.requested_by) == (2, LEAD)


def test_a_rejected_gate_opens_again_after_one_check_in_period() -> None:
    s = story().through_setup().on(8).check_ins(u1=4, u2=4).open_gate("train")
    for person in ("d2", "d3", "u1", "u2", "u3"):
        s.vote("train", person, "object", "Not yet.")
    s.record(next_step(s.state, s.now, LEAD))  # rejected
    assert reopen_at(s.state, "train") == day(11)
    s.on(11).check_ins(u1=4, u2=4)
    event = next_step(s.state, s.now, LEAD)
    assert isinstance(event, GateOpened) and event.round == 2


def test_reopen_at_is_only_for_held_or_rejected_gates() -> None:
    s = story().start()
    assert reopen_at(s.state, "setup") is None  # no gate yet
    s.on(3).check_ins(u1=4, u2=4).open_gate("setup")
    assert reopen_at(s.state, "setup") is None  # open
    s.vote("setup", "d1").decide("setup")
    assert reopen_at(s.state, "setup") is None  # passed


# --- phases and the end -------------------------------------------------------------------------------------------


def test_phases_start_together_only_as_far_as_the_pace_policy_allows() -> None:
    one_at_a_time = story().start()
    assert next_step(one_at_a_time.state, one_at_a_time.now, LEAD) is None
    two_at_once = story(with_pace(PLAN, max_concurrent_phases=2)).start()
    state, chain = follow(two_at_once.state, two_at_once.now)
    assert chain == [PhaseStarted(occurred_at=day(0), phase_id="train")]
    assert state.running_phases() == ("setup", "train")


def test_a_later_phase_whose_gate_passed_completes_only_after_the_earlier_one() -> None:
    s = story(with_pace(PLAN, max_concurrent_phases=2)).start().start_phase("train")
    s.on(2).check_ins(u1=4, u2=4)
    s.on(5).check_ins(u1=4, u2=4).open_gate("train").vote("train", "d2").vote("train", "u1")
    state, chain = follow(s.state, s.now)  # phases in plan order: 'setup' opens, 'train' passes
    assert [(e.type, getattr(e, "phase_id", None)) for e in chain] == [
        ("gate_opened", "setup"),
        ("gate_decided", "train"),
    ]
    assert state.phases["train"].status == "running"  # not completed before 'setup'
    s.record(chain[0]).record(chain[1]).vote("setup", "d1")
    state, chain = follow(s.state, s.now)
    assert [(e.type, getattr(e, "phase_id", None)) for e in chain] == [
        ("gate_decided", "setup"),
        ("phase_completed", "setup"),
        ("phase_completed", "train"),
        ("phase_started", "pilot"),
        ("phase_started", "widen"),
    ]


def test_the_engagement_completes_after_its_last_phase() -> None:
    s = story(setup_only()).start().on(3).check_ins(u1=4, u2=4).open_gate("setup").vote("setup", "d1")
    state, chain = follow(s.state, s.now)
    assert types(chain) == ["gate_decided", "phase_completed", "engagement_completed"]
    assert chain[-1] == EngagementCompleted(occurred_at=day(3), completed_by=LEAD)
    assert state.status == "completed"
    assert next_step(state, day(4), LEAD) is None
    assert due_events(state, day(400)) == [] and next_wake(state, day(4)) is None


# --- due_events: what falls due -----------------------------------------------------------------------------------


def test_a_check_in_round_reminds_everyone_taking_part() -> None:
    s = story().start()
    assert due_events(s.state, day(3) - timedelta(seconds=1)) == []
    assert due_events(s.state, day(3)) == [
        ReminderSent(occurred_at=day(3), kind="check_in", person_ids=INITIAL_COHORT)
    ]
    s.on(3).record(due_events(s.state, day(3))[0])
    assert due_events(s.state, day(5)) == []  # the next round is three days after this one
    assert types(due_events(s.state, day(6))) == ["reminder_sent"]


def test_a_check_in_round_also_reminds_who_may_still_vote_and_measure() -> None:
    s = story().pilot_ready(trained=("u2", "u3", "c1")).open_gate("pilot").vote("pilot", "d1")
    s.record(ReminderSent(occurred_at=day(19), kind="check_in", person_ids=INITIAL_COHORT))
    s.on(20).record(MilestoneDue(occurred_at=s.now, milestone_id="dated"))
    reminders = due_events(s.state, day(22))
    assert reminders == [
        ReminderSent(occurred_at=day(22), kind="check_in", person_ids=INITIAL_COHORT),
        # u1 is untrained and d1 has voted: neither is reminded to vote
        ReminderSent(
            occurred_at=day(22),
            kind="gate_vote",
            reference="pilot",
            person_ids=("c1", "d2", "d3", "u2", "u3"),
        ),
        ReminderSent(occurred_at=day(22), kind="milestone", reference="dated"),
    ]
    s.measure("waits", 30, milestone_id="dated")
    assert [e.kind for e in due_events(s.state, day(22))] == ["check_in", "gate_vote"]  # type: ignore[attr-defined]


def test_dated_milestones_and_end_of_phase_milestones_fall_due() -> None:
    s = story().pilot_ready().on(18)
    s.record(ReminderSent(occurred_at=s.now, kind="check_in", person_ids=INITIAL_COHORT))
    assert due_events(s.state, day(20)) == [MilestoneDue(occurred_at=day(20), milestone_id="dated")]
    s.on(20).record(due_events(s.state, s.now)[0])
    s.open_gate("pilot").vote("pilot", "d1").vote("pilot", "u1").vote("pilot", "u2").decide("pilot")
    s.complete("pilot")
    assert due_events(s.state, s.now) == [MilestoneDue(occurred_at=day(20), milestone_id="mid")]


def test_a_phase_whose_gate_has_not_passed_in_time_is_escalated_once() -> None:
    s = story().start()
    s.record(ReminderSent(occurred_at=day(9), kind="check_in", person_ids=INITIAL_COHORT))
    assert due_events(s.state, day(10) - timedelta(seconds=1)) == []
    assert due_events(s.state, day(10)) == [GateEscalated(occurred_at=day(10), phase_id="setup")]
    s.on(10).record(due_events(s.state, s.now)[0])
    assert due_events(s.state, day(11)) == []


def test_authorisations_expire_one_at_a_time() -> None:
    s = story().through_train()  # sdm for u1, u2, u3, c1 on day 4, valid 21 days
    s.on(20).record(MilestoneDue(occurred_at=s.now, milestone_id="dated"))
    s.on(24).record(ReminderSent(occurred_at=s.now, kind="check_in", person_ids=INITIAL_COHORT))
    assert due_events(s.state, day(25) - timedelta(seconds=1)) == []
    expired = []
    state = s.state
    while events := due_events(state, day(25)):
        assert len(events) == 1  # one item at a time: the next may depend on this one
        expired += events
        state = apply(state, events[0])
    assert expired == [
        AuthorisationExpired(occurred_at=day(25), person_id=person, module_id="sdm")
        for person in ("c1", "u1", "u2", "u3")
    ]


def test_while_paused_milestones_fall_due_but_check_ins_and_escalations_wait() -> None:
    s = story().start().on(2)
    s.record(EngagementPaused(occurred_at=s.now, paused_by="f1", reason="Elections."))
    assert due_events(s.state, day(12)) == []  # check-in round due day 3, escalation day 10
    assert due_events(s.state, day(20)) == [MilestoneDue(occurred_at=day(20), milestone_id="dated")]
    s.on(20).record(due_events(s.state, s.now)[0])
    s.on(21).record(EngagementResumed(occurred_at=s.now, resumed_by="f1"))
    round_ = due_events(s.state, s.now)  # the round comes once resumed, and one item at a time
    assert [(e.kind, e.reference) for e in round_] == [("check_in", None), ("milestone", "dated")]  # type: ignore[attr-defined]


def test_nothing_falls_due_before_the_start() -> None:
    assert due_events(EMPTY_STATE, day(100)) == []
    assert next_wake(EMPTY_STATE, day(0)) is None


# --- next_wake ------------------------------------------------------------------------------------------------------


def test_the_workflow_wakes_for_the_earliest_thing_due() -> None:
    s = story().start()
    assert next_wake(s.state, s.now) == day(3)  # the first check-in round, and setup's dwell
    assert next_wake(s.state, day(3)) == day(10)  # the round still due at 3 is for due_events, not a wake
    s.on(3).check_ins(u1=4, u2=4).open_gate("setup").vote("setup", "d1", "object", "Too soon.")
    s.record(next_step(s.state, s.now, LEAD))  # held: may open again on day 6
    s.record(due_events(s.state, s.now)[0])  # the check-in round of day 3: next on day 6
    assert next_wake(s.state, s.now) == day(6)
    s.on(4).record(ReminderSent(occurred_at=s.now, kind="check_in", person_ids=INITIAL_COHORT))
    assert next_wake(s.state, s.now) == day(6)  # the reopening, before the round of day 7


def test_the_workflow_wakes_when_an_authorisation_lapses() -> None:
    s = story().through_train().on(23)
    s.record(ReminderSent(occurred_at=s.now, kind="check_in", person_ids=INITIAL_COHORT))
    assert next_wake(s.state, s.now) == day(25)  # before the round of day 26 and the escalation of day 29


# --- properties over states reached along generated engagements -----------------------------------------------------


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def drawn_state(data: st.DataObject) -> tuple[EngagementState, datetime]:
    """A state somewhere along a generated engagement on the small plan, and a moment at or after it."""
    seed = data.draw(st.integers(0, 2**32), label="seed")
    events = Script(plan=PLAN, chooser=RandomChooser(seed)).run(data.draw(st.integers(1, 30), label="days"))
    cut = data.draw(st.integers(1, len(events)), label="cut")
    state = fold(events[:cut])
    later = timedelta(minutes=data.draw(st.integers(0, 60 * 24 * 30), label="minutes later"))
    assert state.last_event_at is not None
    return state, state.last_event_at + later


@PROPERTY
@given(st.data())
def test_next_wake_is_never_in_the_past(data: st.DataObject) -> None:
    state, now = drawn_state(data)
    wake = next_wake(state, now)
    assert wake is None or wake > now
    settled, _ = settle(state, now)
    wake = next_wake(settled, now)
    assert wake is None or wake > now


@PROPERTY
@given(st.data())
def test_following_next_step_terminates_and_every_step_applies(data: st.DataObject) -> None:
    state, now = drawn_state(data)
    after, chain = follow(state, now)  # raises the domain's error if a step cannot happen
    assert next_step(after, now, LEAD) is None
    assert len(chain) <= 3 * len(after.phases) + 1
    assert all(event.occurred_at == now for event in chain)


@PROPERTY
@given(st.data())
def test_left_alone_an_engagement_only_records_what_may_happen(data: st.DataObject) -> None:
    """From any state, sixty days with nobody doing anything: every timer and step applies cleanly, the
    clock only moves forward, and each wake finds something to do or moves on."""
    state, now = drawn_state(data)
    end = now + timedelta(days=60)
    while True:
        state, _ = settle(state, now)
        assert due_events(state, now) == [] and next_step(state, now, LEAD) is None
        wake = next_wake(state, now)
        if wake is None or wake > end:
            break
        assert wake > now
        now = wake
    if state.status == "active":
        assert next_wake(state, now) is not None  # a running engagement always has a next check-in round
