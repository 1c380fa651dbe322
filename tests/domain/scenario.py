"""A scripted engagement: walks a plan through its days, producing a valid history of domain events.

Every choice (who attends, comfort scores, votes, pauses, ...) comes from a `Chooser`, so the same script
serves the property tests (choices drawn by hypothesis) and the benchmark (a seeded `random.Random`).
Each event is applied as soon as it is made, so a script that produced an impossible event fails at once
with the domain's own error. The script consults the domain's rules (pace, quorum, eligibility) the way
the workflow will, and deliberately includes the awkward cases: pace holds and overrides, objections,
votes that do not count, pauses, escalations, authorisations that expire, an amendment, a late joiner.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from domain.events import (
    AssessmentRecorded,
    AuthorisationExpired,
    AuthorisationGranted,
    BaselineRecorded,
    CheckInRecorded,
    CohortWidened,
    ContributionLogged,
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    EngagementStarted,
    EvaluationStrategyAgreed,
    Event,
    GateDecided,
    GateEscalated,
    MeasurementRecorded,
    MilestoneDue,
    OricScores,
    PaceHoldRecorded,
    PaceHoldReleased,
    PaceOverridden,
    ParticipantJoined,
    PhaseCompleted,
    PhaseStarted,
    PlanAmended,
    RecognitionPaid,
    ReminderSent,
    RungChanged,
    SessionHeld,
    TrainingCompleted,
    VoteCast,
)
from domain.phases import Phase, PlannedActivity
from domain.plan import Plan, plan_diff, plan_sha256
from domain.rules.eligibility import authorisation_problems, gate_opened_event, vote_refusal
from domain.rules.pace import comfort_waiting_for, pace_check
from domain.rules.quorum import tally
from domain.rules.recognition import recognition_owed
from domain.state import EMPTY_STATE, EngagementState, apply
from domain.training import authorisation_expires_at
from domain.vocabulary import RUNGS, rung_index


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
    state: EngagementState = EMPTY_STATE
    events: list[Event] = field(default_factory=list)
    now: datetime = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    sessions_done: dict[tuple[str, str], int] = field(default_factory=dict)
    paused_until: datetime | None = None
    milestone_todo: list[tuple[str, str]] = field(default_factory=list)
    amended: bool = False
    joined: bool = False
    session_counter: int = 0

    # --- plumbing ------------------------------------------------------------------------------------

    def chance(self, percent: int) -> bool:
        return self.chooser.integer(0, 99) < percent

    def pick(self, items: list[str]) -> str:
        return items[self.chooser.integer(0, len(items) - 1)]

    def emit(self, event: Event) -> None:
        self.state = apply(self.state, event)
        self.events.append(event)

    def tick(self) -> datetime:
        """Advance the clock by 0..20 minutes (0 makes events share a timestamp, as real ones do)."""
        self.now += timedelta(minutes=self.chooser.integer(0, 20))
        return self.now

    @property
    def facilitator(self) -> str:
        return next(p.id for p in self.state.require_plan().people if p.constituency == "facilitator")

    def taking_part(self) -> list[str]:
        return [pid for pid, person in sorted(self.state.people.items()) if self.state.takes_part(person)]

    # --- the run -------------------------------------------------------------------------------------

    def run(self, days: int = 400) -> list[Event]:
        self.start = self.now = datetime.combine(self.plan.starts_on, time(9, 0), tzinfo=UTC)
        first = self.plan.phases[0].id
        self.emit(
            EngagementStarted(
                occurred_at=self.now,
                engagement_id=self.engagement_id,
                plan=self.plan,
                plan_sha256=plan_sha256(self.plan),
                started_by=next(p.id for p in self.plan.people if p.constituency == "facilitator"),
            )
        )
        self.emit(PhaseStarted(occurred_at=self.tick(), phase_id=first))
        for day in range(1, days + 1):
            morning = datetime.combine(self.start.date() + timedelta(days=day), time(9, 0), tzinfo=UTC)
            self.now = max(self.now, morning)
            self.one_day(day)
            if self.state.status == "completed":
                break
        return self.events

    def one_day(self, day: int) -> None:
        state = self.state
        if state.status == "paused":
            if self.paused_until is not None and self.now >= self.paused_until:
                self.emit(EngagementResumed(occurred_at=self.tick(), resumed_by=self.facilitator))
            else:
                self.check_ins(day)
                return
        elif day > 10 and self.chance(1):
            self.paused_until = self.now + timedelta(days=self.chooser.integer(3, 15))
            self.emit(
                EngagementPaused(
                    occurred_at=self.tick(), paused_by=self.facilitator, reason="The group asked for a break."
                )
            )
            return
        if day == 2:
            self.assess()
        if day == 4:
            agreed_by = [
                p.id for p in self.plan.people if p.constituency in ("decision_maker", "service_user")
            ][:3]
            self.emit(EvaluationStrategyAgreed(occurred_at=self.tick(), agreed_by=tuple(agreed_by)))
        if day == 5:
            for indicator in self.plan.evaluation.indicators:
                if indicator.baseline is None:
                    self.emit(
                        BaselineRecorded(
                            occurred_at=self.tick(),
                            indicator=indicator.key,
                            value=float(self.chooser.integer(20, 60)),
                            recorded_by=self.facilitator,
                        )
                    )
        self.expire_authorisations()
        self.check_ins(day)
        self.dated_milestones()
        self.measure_milestones()
        for phase_id in self.state.running_phases():
            self.work_on(self.plan_now.phases_by_id[phase_id])
        self.start_next_phase()
        if not self.joined and day > 20 and self.chance(3):
            self.join_someone()
        if not self.amended and day > 30 and self.chance(3):
            self.amend()
        if day % 28 == 0:
            self.pay()
        if all(p.status == "completed" for p in self.state.phases.values()):
            self.emit(EngagementCompleted(occurred_at=self.tick(), completed_by=self.facilitator))

    @property
    def plan_now(self) -> Plan:
        return self.state.require_plan()

    # --- recording facts -----------------------------------------------------------------------------

    def assess(self) -> None:
        commitment = tuple(float(self.chooser.integer(2, 5)) for _ in range(5))
        efficacy = tuple(float(self.chooser.integer(2, 5)) for _ in range(7))
        self.emit(
            AssessmentRecorded(
                occurred_at=self.tick(),
                recorded_by=self.facilitator,
                past_co_production="A residents' forum ran until 2021 and faded.",
                what_worked="Estate walkabouts with the housing officers.",
                what_did_not_work="Papers nobody could read; meetings in office hours.",
                approach_to_change="Cautious; the board wants evidence before moving.",
                oric=OricScores.from_items(commitment, efficacy, respondents=self.chooser.integer(5, 40)),
            )
        )

    def check_ins(self, day: int) -> None:
        pace = self.plan_now.pace
        if day % pace.check_in_every_days:
            return
        people = tuple(self.taking_part())
        if self.state.status == "active":
            self.emit(ReminderSent(occurred_at=self.tick(), kind="check_in", person_ids=people))
        scale = pace.comfort_scale
        for person_id in people:
            if self.chance(80):
                spread = scale.high - scale.low
                comfort = (
                    scale.high - self.chooser.integer(0, spread) * self.chooser.integer(0, spread) // spread
                )
                note = "Going a bit fast for me." if comfort <= scale.low + 1 and self.chance(50) else None
                self.emit(
                    CheckInRecorded(occurred_at=self.tick(), person_id=person_id, comfort=comfort, note=note)
                )

    def expire_authorisations(self) -> None:
        for person_id, person in sorted(self.state.people.items()):
            for module_id, periods in sorted(person.authorisations.items()):
                latest = periods[-1]
                if (
                    latest.ended_at is None
                    and latest.expires_at is not None
                    and latest.expires_at <= self.now
                ):
                    self.emit(
                        AuthorisationExpired(
                            occurred_at=self.tick(), person_id=person_id, module_id=module_id
                        )
                    )

    def train(self, person_id: str, module_id: str, session_id: str | None = None) -> None:
        self.emit(
            TrainingCompleted(
                occurred_at=self.tick(), person_id=person_id, module_id=module_id, session_id=session_id
            )
        )
        module = self.plan_now.modules_by_id[module_id]
        self.emit(
            AuthorisationGranted(
                occurred_at=self.now,
                person_id=person_id,
                module_id=module_id,
                expires_at=authorisation_expires_at(module, self.now),
            )
        )

    def measure(self, key: str, milestone_id: str | None = None) -> None:
        indicator = self.plan_now.indicators_by_key[key]
        baseline = self.state.indicators[key].baseline or 0.0
        step = (indicator.target - baseline) * self.chooser.integer(-2, 12) / 10
        self.emit(
            MeasurementRecorded(
                occurred_at=self.tick(),
                indicator=key,
                value=round(baseline + step, 2),
                milestone_id=milestone_id,
                recorded_by=self.facilitator,
            )
        )

    def dated_milestones(self) -> None:
        for milestone in self.plan_now.evaluation.milestones:
            if milestone.due_on is not None and milestone.id not in self.state.milestones_due:
                due = datetime.combine(milestone.due_on, time(9, 0), tzinfo=UTC)
                if self.now >= due:
                    self.milestone_falls_due(milestone.id)

    def milestone_falls_due(self, milestone_id: str) -> None:
        self.emit(MilestoneDue(occurred_at=self.tick(), milestone_id=milestone_id))
        for key in self.plan_now.milestones_by_id[milestone_id].indicators:
            self.milestone_todo.append((milestone_id, key))

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
                self.emit(
                    RecognitionPaid(
                        occurred_at=self.tick(),
                        person_id=owed.person_id,
                        fee_pence=owed.fee_owed_pence,
                        expenses_pence=owed.expenses_owed_pence,
                        form="voucher" if method == "vouchers" and owed.fee_owed_pence else "payment",
                    )
                )

    # --- phases and gates ----------------------------------------------------------------------------

    def work_on(self, phase: Phase) -> None:
        state = self.state
        progress = state.phases[phase.id]
        assert progress.started_at is not None
        days_in = (self.now - progress.started_at).days
        if phase.cohort == "wider" and state.cohort == "initial":
            self.emit(CohortWidened(occurred_at=self.tick(), phase_id=phase.id, widened_by=self.facilitator))
        for activity in phase.activities:
            if self.sessions_done.get((phase.id, activity.id), 0) < activity.sessions and self.chance(30):
                self.hold_session(phase, activity)
        if days_in * 2 >= phase.min_dwell_days:
            for key in phase.gate.evidence.indicators_measured:
                measured = any(p.at >= progress.started_at for p in self.state.indicators[key].measurements)
                if not measured and self.chance(30):
                    self.measure(key)
            reassessed = any(a.at >= progress.started_at for a in self.state.assessments)
            if phase.gate.evidence.readiness_reassessed and not reassessed and self.chance(30):
                self.assess()
        self.catch_up_training(phase)

        gate = self.state.gates.get(phase.id)
        progress = self.state.phases[phase.id]
        if gate is None or gate.status in ("held", "rejected"):
            self.maybe_open_gate(phase)
        elif gate.status == "open":
            self.votes(phase)
            self.decide(phase)
        gate = self.state.gates.get(phase.id)
        if gate is not None and gate.status == "passed":
            self.complete(phase)
        progress = self.state.phases[phase.id]
        gate = self.state.gates.get(phase.id)
        undecided = gate is None or gate.status != "passed"
        if (
            progress.status == "running"
            and undecided
            and progress.escalated_at is None
            and days_in >= phase.escalate_after_days
        ):
            self.emit(GateEscalated(occurred_at=self.tick(), phase_id=phase.id))

    def hold_session(self, phase: Phase, activity: PlannedActivity) -> None:
        people = self.taking_part()
        attendees = [pid for pid in people if self.chance(70)] or [people[0]]
        self.session_counter += 1
        session_id = f"s{self.session_counter:04d}"
        minutes = 60 * self.chooser.integer(1, 3)
        key = (phase.id, activity.id)
        self.sessions_done[key] = self.sessions_done.get(key, 0) + 1
        self.emit(
            SessionHeld(
                occurred_at=self.tick(),
                session_id=session_id,
                phase_id=phase.id,
                activity_id=activity.id,
                activity_type=activity.type,
                attendee_ids=tuple(attendees),
                duration_minutes=minutes,
                recorded_by=self.facilitator,
                notes="Good discussion; two people asked for papers earlier." if self.chance(30) else None,
            )
        )
        policy = self.plan_now.recognition
        for person_id in attendees:
            if self.state.people[person_id].constituency in policy.eligible_constituencies:
                expenses = self.chooser.integer(150, 900) if policy.expenses and self.chance(40) else 0
                self.emit(
                    ContributionLogged(
                        occurred_at=self.tick(),
                        person_id=person_id,
                        minutes=minutes + 30,
                        expenses_pence=expenses,
                        session_id=session_id,
                    )
                )
        if activity.modules and self.sessions_done[key] == activity.sessions:
            for person_id in attendees:
                for module_id in activity.modules:
                    self.train(person_id, module_id, session_id)

    def catch_up_training(self, phase: Phase) -> None:
        """People who missed a course catch up one to one, now and then."""
        training = self.plan_now.training
        for person_id in self.taking_part():
            person = self.state.people[person_id]
            for module_id in training.modules_required(phase.id, person.roles):
                if authorisation_problems(person, (module_id,), self.now) and self.chance(8):
                    self.train(person_id, module_id)
                    person = self.state.people[person_id]

    def maybe_open_gate(self, phase: Phase) -> None:
        check = pace_check(self.state, phase.id, self.now)
        progress = self.state.phases[phase.id]
        if check.may_advance:
            if progress.hold is not None:
                self.emit(PaceHoldReleased(occurred_at=self.tick(), phase_id=phase.id))
            roster = list(self.state.gates[phase.id].roster) if phase.id in self.state.gates else []
            requester = self.pick(roster) if roster and self.chance(30) else self.facilitator
            self.emit(gate_opened_event(self.state, phase.id, requester, self.tick()))
            return
        only_comfort = len(check.waiting_for) == 1 and comfort_waiting_for(self.state, self.now) is not None
        if only_comfort and progress.hold is None:
            self.emit(
                PaceHoldRecorded(
                    occurred_at=self.tick(),
                    phase_id=phase.id,
                    waiting_for=check.waiting_for,
                    comfort_average=check.comfort.average,
                )
            )
        elif progress.hold is not None and self.chance(25):
            self.emit(
                PaceOverridden(
                    occurred_at=self.tick(),
                    phase_id=phase.id,
                    overridden_by=self.facilitator,
                    reason="The group agreed to go ahead; the low scores were about meeting times.",
                )
            )

    def votes(self, phase: Phase) -> None:
        gate = self.state.gates[phase.id]
        for entry in gate.roster.values():
            if entry.person_id in self.state.gates[phase.id].votes or not self.chance(40):
                continue
            refusal = vote_refusal(self.state, phase.id, entry.person_id, "approve", None, self.now)
            if refusal is not None and not self.chance(10):
                continue  # most people who may not vote do not try; a few do, and their vote does not count
            roll = self.chooser.integer(0, 99)
            choice = "approve" if roll < 95 else "object" if roll < 97 else "abstain"
            reason = "Not enough time to read the papers." if choice == "object" or self.chance(10) else None
            self.emit(
                VoteCast(
                    occurred_at=self.tick(),
                    phase_id=phase.id,
                    round=gate.round,
                    person_id=entry.person_id,
                    choice=choice,
                    reason=reason,
                )
            )

    def decide(self, phase: Phase) -> None:
        gate = self.state.gates[phase.id]
        count = tally(self.state, phase.id)
        everyone_voted = len(gate.votes) == len(gate.roster)
        if count.met:
            self.emit(
                GateDecided(occurred_at=self.tick(), phase_id=phase.id, round=gate.round, outcome="passed")
            )
        elif (count.blocked and self.chance(50)) or everyone_voted:
            self.emit(
                GateDecided(
                    occurred_at=self.tick(),
                    phase_id=phase.id,
                    round=gate.round,
                    outcome="held" if count.blocked or self.chance(50) else "rejected",
                    decided_by=self.facilitator,
                    reason="; ".join(count.waiting_for),
                )
            )

    def complete(self, phase: Phase) -> None:
        plan = self.plan_now
        earlier = plan.phases[: plan.phase_index[phase.id]]
        if any(self.state.phases[p.id].status != "completed" for p in earlier):
            return
        gate = self.state.gates[phase.id]
        self.emit(PhaseCompleted(occurred_at=self.tick(), phase_id=phase.id))
        for milestone in plan.evaluation.milestones:
            if milestone.at_end_of_phase == phase.id and milestone.id not in self.state.milestones_due:
                self.milestone_falls_due(milestone.id)
        approvers = tuple(v.person_id for v in gate.votes.values() if v.choice == "approve" and v.counted)
        for area in plan.decision_areas:
            current = self.state.decision_areas[area.id].rung
            if rung_index(current) < rung_index(area.target) and self.chance(60):
                upward = RUNGS[rung_index(current) + 1]
                self.emit(
                    RungChanged(
                        occurred_at=self.tick(),
                        area_id=area.id,
                        from_rung=current,
                        to_rung=upward,
                        agreed_by=approvers or (self.facilitator,),
                    )
                )
                break

    def start_next_phase(self) -> None:
        plan = self.plan_now
        pending = [p for p in plan.phases if self.state.phases[p.id].status == "pending"]
        if not pending:
            return
        running = self.state.running_phases()
        if not running or (len(running) < plan.pace.max_concurrent_phases and self.chance(20)):
            self.emit(PhaseStarted(occurred_at=self.tick(), phase_id=pending[0].id))

    # --- rarer things --------------------------------------------------------------------------------

    def join_someone(self) -> None:
        self.joined = True
        role = next(p.roles for p in self.plan_now.people if p.constituency == "service_user")
        self.emit(
            ParticipantJoined(
                occurred_at=self.tick(),
                person_id="n01",
                constituency="service_user",
                roles=role,
                cohort="wider",
            )
        )

    def amend(self) -> None:
        """Give the last pending phase a week more dwell (and a week more before escalation)."""
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
                occurred_at=self.tick(),
                plan=new,
                plan_sha256=plan_sha256(new),
                changes=plan_diff(plan, new),
                amended_by=self.facilitator,
                reason="The panel asked for more time before this phase closes.",
            )
        )


def scripted_history(plan: Plan, seed: int, days: int = 400) -> list[Event]:
    """A whole engagement under `plan`, its choices made by a random source seeded with `seed`."""
    return Script(plan=plan, chooser=RandomChooser(seed)).run(days)
