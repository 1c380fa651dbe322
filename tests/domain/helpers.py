"""A small story-builder for domain tests: record one event at a time on the small test plan.

`Story()` starts at `T0` (Monday 6 January 2025, 09:00 UTC). `story.on(day)` moves its clock; each
verb records one event through the real `apply`, so a test reads like what happened:

    story = Story().start().on(4).check_ins(u1=4, u2=3)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Self

from domain.events import (
    AssessmentRecorded,
    AuthorisationGranted,
    CheckInRecorded,
    EngagementStarted,
    EvaluationStrategyAgreed,
    Event,
    GateDecided,
    MeasurementRecorded,
    OricScores,
    PhaseCompleted,
    PhaseStarted,
    TrainingCompleted,
    VoteCast,
    VoteChoice,
)
from domain.plan import Plan, plan_sha256
from domain.rules.eligibility import gate_opened_event
from domain.state import EMPTY_STATE, EngagementState, apply
from domain.training import authorisation_expires_at
from tests.domain.plans import small_plan

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def day(n: float, hours: float = 0) -> datetime:
    """T0 plus `n` days and `hours` hours."""
    return T0 + timedelta(days=n, hours=hours)


ORIC = OricScores.from_items((4, 4, 3, 4, 5), (3, 3, 4, 3, 4, 3, 3), respondents=12)


class Story:
    def __init__(self, plan: Plan | None = None) -> None:
        self.plan = plan or small_plan()
        self.state: EngagementState = EMPTY_STATE
        self.events: list[Event] = []
        self.now = T0

    # --- plumbing ------------------------------------------------------------------------------------

    def on(self, n: float, hours: float = 0) -> Self:
        self.now = day(n, hours)
        return self

    def record(self, event: Event) -> Self:
        self.state = apply(self.state, event)
        self.events.append(event)
        return self

    # --- verbs ---------------------------------------------------------------------------------------

    def start(self) -> Self:
        self.record(
            EngagementStarted(
                occurred_at=self.now,
                engagement_id="eng-test",
                plan=self.plan,
                plan_sha256=plan_sha256(self.plan),
                started_by="f1",
            )
        )
        return self.record(PhaseStarted(occurred_at=self.now, phase_id=self.plan.phases[0].id))

    def start_phase(self, phase_id: str) -> Self:
        return self.record(PhaseStarted(occurred_at=self.now, phase_id=phase_id))

    def check_ins(self, **comforts: int) -> Self:
        for person_id, comfort in comforts.items():
            self.record(CheckInRecorded(occurred_at=self.now, person_id=person_id, comfort=comfort))
        return self

    def train(self, *people: str, module: str) -> Self:
        for person_id in people:
            self.record(TrainingCompleted(occurred_at=self.now, person_id=person_id, module_id=module))
            expires = authorisation_expires_at(self.plan.modules_by_id[module], self.now)
            self.record(
                AuthorisationGranted(
                    occurred_at=self.now, person_id=person_id, module_id=module, expires_at=expires
                )
            )
        return self

    def agree_evaluation(self) -> Self:
        return self.record(EvaluationStrategyAgreed(occurred_at=self.now, agreed_by=("d1", "u1")))

    def measure(self, indicator: str, value: float, milestone_id: str | None = None) -> Self:
        return self.record(
            MeasurementRecorded(
                occurred_at=self.now,
                indicator=indicator,
                value=value,
                milestone_id=milestone_id,
                recorded_by="f1",
            )
        )

    def assess(self) -> Self:
        return self.record(
            AssessmentRecorded(
                occurred_at=self.now,
                recorded_by="f1",
                past_co_production="A forum in 2019.",
                what_worked="Small groups.",
                what_did_not_work="Evening meetings.",
                approach_to_change="Careful.",
                oric=ORIC,
            )
        )

    def open_gate(self, phase_id: str, requested_by: str = "f1") -> Self:
        return self.record(gate_opened_event(self.state, phase_id, requested_by, self.now))

    def vote(
        self, phase_id: str, person_id: str, choice: VoteChoice = "approve", reason: str | None = None
    ) -> Self:
        gate = self.state.gates[phase_id]
        return self.record(
            VoteCast(
                occurred_at=self.now,
                phase_id=phase_id,
                round=gate.round,
                person_id=person_id,
                choice=choice,
                reason=reason,
            )
        )

    def decide(self, phase_id: str, outcome: str = "passed", reason: str | None = None) -> Self:
        gate = self.state.gates[phase_id]
        return self.record(
            GateDecided(
                occurred_at=self.now,
                phase_id=phase_id,
                round=gate.round,
                outcome=outcome,  # type: ignore[arg-type]
                decided_by="f1" if outcome != "passed" else None,
                reason=reason,
            )
        )

    def complete(self, phase_id: str) -> Self:
        return self.record(PhaseCompleted(occurred_at=self.now, phase_id=phase_id))

    # --- shortcuts through the small plan -----------------------------------------------------------

    def through_setup(self) -> Self:
        """Start, then pass the 'setup' gate (consent, a decision maker approves) on day 3 and start 'train'."""
        self.start().on(3).check_ins(u1=4, u2=4).open_gate("setup").vote("setup", "d1").vote("setup", "d2")
        return self.decide("setup").complete("setup").start_phase("train")

    def through_train(self, trained: tuple[str, ...] = ("u1", "u2", "u3", "c1")) -> Self:
        """Then train the user reps (`trained`) and the board on day 4 and pass the 'train' gate on day 8;
        'pilot' starts on day 8. Authorisations for 'sdm' last 21 days (until day 25)."""
        self.through_setup().on(4).train(*trained, module="sdm").train("d2", "d3", module="gov")
        self.on(8).check_ins(u1=4, u2=4).open_gate("train").vote("train", "d2").vote("train", "u1")
        return self.decide("train").complete("train").start_phase("pilot")

    def pilot_ready(self, trained: tuple[str, ...] = ("u1", "u2", "u3", "c1")) -> Self:
        """Then, on day 15, the pilot's evidence is in and comfort is fine: its gate may open."""
        self.through_train(trained).agree_evaluation().on(10).measure("attendance", 60).assess()
        return self.on(15).check_ins(u1=4, u2=4, u3=4)
