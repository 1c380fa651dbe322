"""A scripted engagement: walks a plan through its days, producing a valid history of domain events.

The script plays the people; the workflow's own pure code plays the engagement. What people do (check
in, hold sessions, train, measure, vote, pause, override a hold, amend the plan, pay) goes through the
update builders of ``workflows.commands``, as the workflow's updates do; what happens by itself (the
first phase starting, check-in rounds and their reminders, milestones falling due, escalations,
authorisations lapsing, gates opening, passing, being held or rejected, pace holds and their release,
phases completing and starting, the engagement completing) comes from ``workflows.conductor``: after
every input the script records what has fallen due and what follows (``settle``), and between inputs it
wakes when ``next_wake`` says, as the workflow's timer does.

Every choice comes from a `Chooser`, so the same script serves the property tests (choices drawn by
hypothesis) and the benchmark (a seeded `random.Random`). Each event is applied as soon as it is made, so
a script that produced an impossible event fails at once with the domain's own error. The awkward cases
are there on purpose: pace holds and overrides, objections, votes the workflow refuses (untrained or
lapsed voters), pauses, escalations, authorisations that expire, an amendment, a late joiner.

Two inputs are recorded as events directly, not through a builder: the start (the workflow builds it
from its input, taking names out of the plan; the script keeps them, so the plan's personal fields are
exercised where they are marked) and the amendment (for the same reason: ``amend_plan`` would take the
names out and so record them as changes).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from domain.errors import DomainError
from domain.events import (
    EngagementStarted,
    Event,
    MilestoneDue,
    PhaseCompleted,
    PlanAmended,
)
from domain.events.outputs import OutputKind
from domain.phases import Phase, PlannedActivity
from domain.plan import Plan, plan_diff, plan_sha256
from domain.rules.eligibility import authorisation_problems
from domain.rules.recognition import recognition_owed
from domain.state import EMPTY_STATE, EngagementState, apply
from domain.vocabulary import RUNGS, ActivityType, rung_index
from workflows import commands
from workflows import messages as m
from workflows.commands import CommandRefused
from workflows.conductor import due_events, next_step, next_wake

# Events that may follow one moment by themselves before the script calls it a loop (the workflow's cap).
MAX_FOLLOW_UPS = 100

Builder = Callable[[EngagementState, Any, datetime], list[Event]]


# The output an activity of each type leaves behind, once its last session is held.
OUTPUT_OF: dict[ActivityType, OutputKind] = {
    "policy_and_procedure": "policy",
    "research": "research_findings",
    "focus_group": "focus_group_findings",
}


class Chooser(Protocol):
    def integer(self, low: int, high: int) -> int:
        """A whole number from low to high inclusive."""
        ...


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)


@dataclass
class Script:
    plan: Plan
    chooser: Chooser
    start: datetime = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # run() starts at 09:00 on the plan's starts_on
    engagement_id: str = "eng-1"
    lead: str = ""  # who started the engagement (the first facilitator): the workflow's lead
    state: EngagementState = EMPTY_STATE
    events: list[Event] = field(default_factory=list)
    now: datetime = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    sessions_done: dict[tuple[str, str], int] = field(default_factory=dict)
    paused_until: datetime | None = None
    milestone_todo: list[tuple[str, str]] = field(default_factory=list)
    completed_phases: list[str] = field(default_factory=list)  # by the conductor, awaiting a ladder move
    amended: bool = False
    joined: bool = False
    session_counter: int = 0
    # Memos of the conductor's answers for an unchanged state (see settle and _next_wake).
    _settled: tuple[EngagementState | None, datetime | None] = (None, None)
    _wake: tuple[EngagementState | None, datetime | None] = (None, None)

    # --- plumbing ------------------------------------------------------------------------------------

    def chance(self, percent: int) -> bool:
        return self.chooser.integer(0, 99) < percent

    def emit(self, event: Event) -> None:
        self.state = apply(self.state, event)
        self.events.append(event)
        if isinstance(event, MilestoneDue):
            for key in self.plan_now.milestones_by_id[event.milestone_id].indicators:
                self.milestone_todo.append((event.milestone_id, key))
        elif isinstance(event, PhaseCompleted):
            self.completed_phases.append(event.phase_id)

    def settle(self) -> None:
        """Record what has fallen due by now and what follows by itself, until nothing does (what the
        workflow does after every input and whenever its timer wakes it)."""
        settled_state, settled_at = self._settled
        if settled_state is self.state and settled_at == self.now:
            return
        for _ in range(MAX_FOLLOW_UPS):
            events = [] if self._nothing_due() else due_events(self.state, self.now)
            for event in events:
                self.emit(event)
            while (step := next_step(self.state, self.now, self.lead)) is not None:
                self.emit(step)
                events.append(step)
                if len(events) > MAX_FOLLOW_UPS:
                    raise AssertionError(f"the conductor keeps going at {self.now}: {events[-5:]}")
            if not events:
                self._settled = (self.state, self.now)
                return
        raise AssertionError(f"the engagement does not settle at {self.now}")

    def wait_until(self, moment: datetime) -> None:
        """Let time pass until ``moment``, waking (and settling) whenever something falls due on the way,
        as the workflow's timer does; at ``moment`` itself only an input or a timer wakes it."""
        self.settle()
        while (wake := self._next_wake()) is not None and wake <= moment:
            self.now = wake
            self.settle()
        self.now = max(self.now, moment)

    def _next_wake(self) -> datetime | None:
        """``next_wake`` for the settled state, asked once per state: with no new event, it stays the
        next wake for as long as it is still ahead."""
        wake_for, wake = self._wake
        if wake_for is not self.state or (wake is not None and wake <= self.now):
            wake = next_wake(self.state, self.now)
            self._wake = (self.state, wake)
        return wake

    def _nothing_due(self) -> bool:
        """Whether ``due_events`` would find nothing: the state has not changed since it was settled
        and asked for its next wake, and that wake is still ahead."""
        wake_for, wake = self._wake
        return wake_for is self.state and (wake is None or wake > self.now)

    def tick(self) -> datetime:
        """Advance the clock by 0..20 minutes (0 makes events share a timestamp, as real ones do)."""
        self.wait_until(self.now + timedelta(minutes=self.chooser.integer(0, 20)))
        return self.now

    def send(self, build: Builder, msg: m.Message) -> None:
        """One person's input, a little later: the events its builder makes, then what follows. Nothing
        is sent once the engagement has completed (people stop recording then). Time passes before it
        arrives, so what it answered may have moved on: then it is refused, as the workflow's validator
        would refuse it (``CommandRefused`` from the builder is left to the caller)."""
        when = self.tick()
        if self.state.status == "completed":
            return
        events = build(self.state, msg, when)
        try:
            commands.dry_run(self.state, events)
        except DomainError:
            return
        for event in events:
            self.emit(event)
        self.settle()

    @property
    def facilitator(self) -> str:
        return next(p.id for p in self.state.require_plan().people if p.constituency == "facilitator")

    @property
    def plan_now(self) -> Plan:
        return self.state.require_plan()

    def taking_part(self) -> list[str]:
        return [pid for pid, person in sorted(self.state.people.items()) if self.state.takes_part(person)]

    # --- the run -------------------------------------------------------------------------------------

    def run(self, days: int = 900) -> list[Event]:
        self.start = self.now = datetime.combine(self.plan.starts_on, time(9, 0), tzinfo=UTC)
        self.lead = next(p.id for p in self.plan.people if p.constituency == "facilitator")
        self.emit(
            EngagementStarted(
                occurred_at=self.now,
                engagement_id=self.engagement_id,
                plan=self.plan,
                plan_sha256=plan_sha256(self.plan),
                started_by=self.lead,
            )
        )
        self.settle()  # the first phase starts by itself
        for day in range(1, days + 1):
            self.wait_until(datetime.combine(self.start.date() + timedelta(days=day), time(9, 0), tzinfo=UTC))
            if self.state.status == "completed":
                break
            self.one_day(day)
        return self.events

    def one_day(self, day: int) -> None:
        facilitator = self.facilitator
        if self.state.status == "following_up":  # every phase is done: only the milestones are measured
            self.measure_milestones()
            return
        if self.state.status == "paused":
            if self.paused_until is not None and self.now >= self.paused_until:
                self.send(commands.resume, m.Resume(by=facilitator))
            else:
                self.check_ins(day)
                return
        elif day > 10 and self.chance(1):
            self.paused_until = self.now + timedelta(days=self.chooser.integer(3, 15))
            self.send(commands.pause, m.Pause(by=facilitator, reason="The group asked for a break."))
            return
        if day == 2:
            self.assess()
        if day == 4:
            agreed_by = [  # the first decision maker and the first service user, and one more of either
                next(p.id for p in self.plan.people if p.constituency == group and p.cohort == "initial")
                for group in ("decision_maker", "service_user")
            ]
            agreed_by += [p.id for p in self.plan.people if p.constituency == "decision_maker"][1:2]
            self.send(
                commands.agree_evaluation_strategy, m.AgreeEvaluationStrategy(agreed_by=tuple(agreed_by))
            )
        if day == 5:
            for indicator in self.plan.evaluation.indicators:
                if indicator.baseline is None:
                    value = float(self.chooser.integer(20, 60))
                    self.send(
                        commands.record_measurement,
                        m.RecordMeasurement(
                            by=facilitator, indicator=indicator.key, value=value, baseline=True
                        ),
                    )
        self.check_ins(day)
        self.measure_milestones()
        for phase_id in self.state.running_phases():
            self.work_on(self.plan_now.phases_by_id[phase_id])
        self.climb_the_ladder()
        if not self.joined and day > 20 and self.chance(3):
            self.join_someone()
        if not self.amended and day > 10 and self.chance(4):
            self.amend()
        if day % 28 == 0:
            self.pay()

    # --- recording facts -----------------------------------------------------------------------------

    def assess(self) -> None:
        self.send(
            commands.record_assessment,
            m.RecordAssessment(
                by=self.facilitator,
                past_co_production="A residents' forum ran until 2021 and faded.",
                what_worked="Estate walkabouts with the housing officers.",
                what_did_not_work="Papers nobody could read; meetings in office hours.",
                approach_to_change="Cautious; the board wants evidence before moving.",
                commitment_items=tuple(float(self.chooser.integer(2, 5)) for _ in range(5)),
                efficacy_items=tuple(float(self.chooser.integer(2, 5)) for _ in range(7)),
                respondents=self.chooser.integer(5, 40),
            ),
        )

    def check_ins(self, day: int) -> None:
        """People check in on the plan's cadence (reminded or not: while paused no round is sent)."""
        pace = self.plan_now.pace
        if day % pace.check_in_every_days:
            return
        scale = pace.comfort_scale
        for person_id in self.taking_part():
            if self.chance(80):
                spread = scale.high - scale.low
                comfort = (
                    scale.high - self.chooser.integer(0, spread) * self.chooser.integer(0, spread) // spread
                )
                note = "Going a bit fast for me." if comfort <= scale.low + 1 and self.chance(50) else None
                self.send(
                    commands.record_check_in, m.RecordCheckIn(person_id=person_id, comfort=comfort, note=note)
                )

    def train(self, person_id: str, module_id: str, session_id: str | None = None) -> None:
        msg = m.RecordTraining(
            by=self.facilitator, person_id=person_id, module_id=module_id, session_id=session_id
        )
        self.send(commands.record_training, msg)

    def measure(self, key: str, milestone_id: str | None = None) -> None:
        indicator = self.plan_now.indicators_by_key[key]
        baseline = self.state.indicators[key].baseline or 0.0
        step = (indicator.target - baseline) * self.chooser.integer(-2, 12) / 10
        msg = m.RecordMeasurement(
            by=self.facilitator, indicator=key, value=round(baseline + step, 2), milestone_id=milestone_id
        )
        self.send(commands.record_measurement, msg)

    def measure_milestones(self) -> None:
        if self.state.evaluation_agreed_at is None:
            return
        remaining = []
        for milestone_id, key in self.milestone_todo:
            if self.chance(40):
                self.measure(key, milestone_id)
            else:
                remaining.append((milestone_id, key))
        self.milestone_todo = remaining

    def pay(self) -> None:
        method = self.plan_now.recognition.method
        for owed in recognition_owed(self.state):
            if owed.total_owed_pence > 0:
                self.send(
                    commands.record_recognition,
                    m.RecordRecognition(
                        by=self.facilitator,
                        person_id=owed.person_id,
                        fee_pence=owed.fee_owed_pence,
                        expenses_pence=owed.expenses_owed_pence,
                        form="voucher" if method == "vouchers" and owed.fee_owed_pence else "payment",
                    ),
                )

    # --- phases and gates ----------------------------------------------------------------------------

    def work_on(self, phase: Phase) -> None:
        progress = self.state.phases[phase.id]
        if progress.status != "running" or self.state.status != "active":
            return  # completed (or the engagement with it) by what happened earlier today
        assert progress.started_at is not None
        days_in = (self.now - progress.started_at).days
        if phase.cohort == "wider" and self.state.cohort == "initial":
            self.send(commands.widen_cohort, m.WidenCohort(by=self.facilitator, phase_id=phase.id))
        for activity in phase.activities:
            if self.sessions_done.get((phase.id, activity.id), 0) < activity.sessions and self.chance(30):
                self.hold_session(phase, activity)
        if days_in * 2 >= phase.min_dwell_days and self.state.evaluation_agreed_at is not None:
            for key in phase.gate.evidence.indicators_measured:
                measured = any(p.at >= progress.started_at for p in self.state.indicators[key].measurements)
                if not measured and self.chance(30):
                    self.measure(key)
            reassessed = any(a.at >= progress.started_at for a in self.state.assessments)
            if phase.gate.evidence.readiness_reassessed and not reassessed and self.chance(30):
                self.assess()
        self.catch_up_training(phase)
        if self.state.phases[phase.id].hold is not None and self.chance(25):
            reason = "The group agreed to go ahead; the low scores were about meeting times."
            self.send(
                commands.override_hold, m.OverrideHold(by=self.facilitator, phase_id=phase.id, reason=reason)
            )
        self.cosign_changes()
        gate = self.state.gates.get(phase.id)
        if gate is not None and gate.status == "open":
            self.votes(phase)

    def cosign_changes(self) -> None:
        """Someone from each group a waiting change needs co-signs it, sooner or later (an override the
        plan's change policy asks co-signers for waits for them)."""
        for change_id, change in list(self.state.changes.items()):
            if change.status != "waiting":
                continue
            for constituency, count in change.needs.items():
                signed = sum(1 for theirs in change.cosigned.values() if theirs == constituency)
                signers = [
                    p.person_id
                    for p in self.state.people.values()
                    if p.constituency == constituency and p.person_id not in change.cosigned
                ]
                if signed < count and signers and self.chance(40):
                    person_id = signers[self.chooser.integer(0, len(signers) - 1)]
                    try:
                        self.send(commands.cosign_change, m.CosignChange(by=person_id, change_id=change_id))
                    except CommandRefused:
                        continue
                    change = self.state.changes[change_id]

    def hold_session(self, phase: Phase, activity: PlannedActivity) -> None:
        people = self.taking_part()
        attendees = [pid for pid in people if self.chance(70)] or [people[0]]
        self.session_counter += 1
        session_id = f"s{self.session_counter:04d}"
        minutes = 60 * self.chooser.integer(1, 3)
        key = (phase.id, activity.id)
        self.sessions_done[key] = self.sessions_done.get(key, 0) + 1
        notes = "Good discussion; two people asked for papers earlier." if self.chance(30) else None
        self.send(
            commands.record_session,
            m.RecordSession(
                by=self.facilitator,
                phase_id=phase.id,
                activity_id=activity.id,
                activity_type=activity.type,
                attendee_ids=tuple(attendees),
                duration_minutes=minutes,
                session_id=session_id,
                notes=notes,
            ),
        )
        policy = self.plan_now.recognition
        for person_id in attendees:
            if self.state.people[person_id].constituency in policy.eligible_constituencies:
                expenses = self.chooser.integer(150, 900) if policy.expenses and self.chance(40) else 0
                self.send(
                    commands.record_contribution,
                    m.RecordContribution(
                        by=self.facilitator,
                        person_id=person_id,
                        minutes=minutes + 30,
                        expenses_pence=expenses,
                        session_id=session_id,
                    ),
                )
        if activity.modules and self.sessions_done[key] == activity.sessions:
            for person_id in attendees:
                for module_id in activity.modules:
                    self.train(person_id, module_id, session_id)
        kind = OUTPUT_OF.get(activity.type)
        if kind is not None and self.sessions_done[key] == activity.sessions:
            title = f"What came of {activity.id}"
            msg = m.RecordOutput(
                by=self.facilitator, output_id=activity.id, kind=kind, stage="drafted", title=title,
                took_part=tuple(attendees), phase_id=phase.id,
            )  # fmt: skip
            self.send(commands.record_output, msg)

    def catch_up_training(self, phase: Phase) -> None:
        """People who missed a course (or whose authorisation lapsed) catch up one to one, now and then."""
        training = self.plan_now.training
        for person_id in self.taking_part():
            person = self.state.people[person_id]
            for module_id in training.modules_required(phase.id, person.roles):
                if authorisation_problems(person, (module_id,), self.now) and self.chance(8):
                    self.train(person_id, module_id)
                    person = self.state.people[person_id]

    def votes(self, phase: Phase) -> None:
        """Some of the roster vote today. Whoever may not vote (untrained, lapsed) is refused, as the
        workflow's validator refuses them, and nothing is recorded."""
        for person_id in list(self.state.gates[phase.id].roster):
            gate = self.state.gates[phase.id]
            if gate.status != "open" or self.state.status != "active":
                return  # decided by the vote before
            if person_id in gate.votes or not self.chance(40):
                continue
            roll = self.chooser.integer(0, 99)
            choice = "approve" if roll < 95 else "object" if roll < 97 else "abstain"
            reason = "Not enough time to read the papers." if choice == "object" or self.chance(10) else None
            msg = m.DecideGate(person_id=person_id, phase_id=phase.id, choice=choice, reason=reason)
            try:
                self.send(commands.decide_gate, msg)
            except CommandRefused:
                continue

    def climb_the_ladder(self) -> None:
        """After a phase completes, those who approved its gate often agree a decision area moves up."""
        plan = self.plan_now
        completed, self.completed_phases = self.completed_phases, []
        for phase_id in completed:
            gate = self.state.gates[phase_id]
            approvers = tuple(v.person_id for v in gate.votes.values() if v.choice == "approve" and v.counted)
            for output in self.state.outputs.values():  # the gate's approvers adopt what the phase drafted
                if output.phase_id == phase_id and output.stages[-1].stage == "drafted" and approvers:
                    msg = m.RecordOutput(
                        by=self.facilitator, output_id=output.output_id, kind=output.kind, stage="adopted",
                        title="Adopted at the gate", took_part=approvers, phase_id=phase_id,
                    )  # fmt: skip
                    self.send(commands.record_output, msg)
            for area in plan.decision_areas:
                current = self.state.decision_areas[area.id].rung
                if rung_index(current) < rung_index(area.target) and self.chance(60):
                    msg = m.ChangeRung(
                        area_id=area.id,
                        to_rung=RUNGS[rung_index(current) + 1],
                        agreed_by=approvers or (self.facilitator,),
                    )
                    self.send(commands.change_rung, msg)
                    self.decide_in(area.id, approvers)
                    break

    def decide_in(self, area_id: str, approvers: tuple[str, ...]) -> None:
        """The organisation's next decision in an area is made at the rung it has just reached, by those
        who agreed it and, from 'engagement' up, a service user or carer too."""
        rung = self.state.decision_areas[area_id].rung
        took_part = approvers or (self.facilitator,)
        lived = [
            p for p in self.taking_part() if self.state.people[p].constituency in ("service_user", "carer")
        ]
        if rung_index(rung) >= rung_index("engagement") and lived and lived[0] not in took_part:
            took_part = (*took_part, lived[0])
        msg = m.RecordDecision(
            by=self.facilitator, area_id=area_id, decided_on=self.now.date(), rung=rung,
            took_part=took_part, summary="Decided at the board meeting.",
        )  # fmt: skip
        self.send(commands.record_decision, msg)  # refused (and left out) while no service user takes part

    # --- rarer things --------------------------------------------------------------------------------

    def join_someone(self) -> None:
        self.joined = True
        roles = next(p.roles for p in self.plan_now.people if p.constituency == "service_user")
        msg = m.AddParticipant(
            by=self.facilitator, person_id="n01", constituency="service_user", roles=roles, cohort="wider"
        )
        self.send(commands.add_participant, msg)

    def amend(self) -> None:
        """Give the last pending phase a week more dwell (and a week more before escalation)."""
        when = self.tick()
        plan = self.plan_now
        pending = [p for p in plan.phases if self.state.phases[p.id].status == "pending"]
        if not pending:
            return
        self.amended = True
        target = pending[-1]
        phases = tuple(
            p.model_copy(
                update={
                    "min_dwell_days": p.min_dwell_days + 7,
                    "escalate_after_days": p.escalate_after_days + 7,
                }
            )
            if p.id == target.id
            else p
            for p in plan.phases
        )
        new = Plan.model_validate(plan.model_copy(update={"phases": phases}).model_dump())
        self.emit(
            PlanAmended(
                occurred_at=when,
                plan=new,
                plan_sha256=plan_sha256(new),
                changes=plan_diff(plan, new),
                amended_by=self.facilitator,
                reason="The panel asked for more time before this phase closes.",
            )
        )
        self.settle()


def scripted_history(plan: Plan, seed: int, days: int = 900) -> list[Event]:
    """A whole engagement under `plan`, its choices made by a random source seeded with `seed`."""
    return Script(plan=plan, chooser=RandomChooser(seed)).run(days)
