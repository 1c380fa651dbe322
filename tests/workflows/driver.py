"""A test facilitator: drives an engagement through its plan, week by week, with updates only.

It does what the people of an engagement would: the initial assessment and the evaluation strategy,
baselines, training whoever must be authorised for the current gate, fortnightly check-ins, a group
session a week, the measurements and re-assessment a gate needs as evidence, widening the cohort when a
phase works with the wider group, votes on open gates, and measurements for milestones that fell due.
Every call goes through the workflow's public updates; time passes on the time-skipping server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.rules.eligibility import authorisation_problems
from workflows import messages as m
from workflows.engagement import EngagementWorkflow

W = EngagementWorkflow


class Driver:
    def __init__(
        self,
        env: WorkflowEnvironment,
        handle: WorkflowHandle,
        facilitator: str = "f01",
        uneasy_phase: int | None = 2,
    ) -> None:
        self.env = env
        # In this phase (by index) people are uneasy at first: comfort 2 until the pace policy holds the
        # phase, then 5, so the hold is recorded and then released.
        self.uneasy_phase = uneasy_phase
        self.handle = handle
        self.facilitator = facilitator
        self.sent: list[m.UpdateResult] = []
        self.weeks = 0
        self._n = 0

    async def status(self) -> m.EngagementStatus:
        return await self.handle.query(W.status)

    async def send(self, update: Any, msg: m.Message) -> m.UpdateResult:
        self._n += 1
        result = await self.handle.execute_update(update, msg, id=f"driver-{self._n}")
        self.sent.append(result)
        return result

    async def run(self, max_weeks: int = 70) -> m.EngagementStatus:
        """Drive until the engagement completes (or ``max_weeks`` pass); returns the last status."""
        status = await self.status()
        while status.status != "completed" and self.weeks < max_weeks:
            await self.week(status)
            await self.env.sleep(timedelta(days=7))
            self.weeks += 1
            status = await self.status()
        return status

    async def week(self, status: m.EngagementStatus) -> None:
        state = status.state
        if state.status != "active" or state.plan is None:
            return
        plan = state.plan
        now = status.as_of
        me = self.facilitator
        if not state.assessments:
            await self.send(W.record_assessment, assessment(me))
        if state.evaluation_agreed_at is None:
            deciders = [p.id for p in plan.people if p.constituency in ("decision_maker", "service_user")][:2]
            await self.send(W.agree_evaluation_strategy, m.AgreeEvaluationStrategy(agreed_by=(me, *deciders)))
            for indicator in plan.evaluation.indicators:
                if state.indicators[indicator.key].baseline_recorded_at is None:
                    value = indicator.baseline if indicator.baseline is not None else 1.0
                    await self.send(
                        W.record_measurement,
                        m.RecordMeasurement(by=me, indicator=indicator.key, value=value, baseline=True),
                    )
        current = status.current_phase
        if current is None:
            return
        phase = plan.phases_by_id[current]
        taking_part = sorted(p for p, person in state.people.items() if state.takes_part(person))

        if phase.cohort == "wider" and state.cohort != "wider":
            await self.send(W.widen_cohort, m.WidenCohort(by=me, phase_id=current))
            state = (await self.status()).state
            taking_part = sorted(p for p, person in state.people.items() if state.takes_part(person))

        # Everyone who decides this gate (or the next) is trained before they decide.
        for person_id in taking_part:
            person = state.people[person_id]
            for module_id in plan.training.modules_required(current, person.roles):
                expiring_soon = authorisation_problems(person, (module_id,), now + timedelta(days=30))
                if expiring_soon:
                    await self.send(
                        W.record_training, m.RecordTraining(by=me, person_id=person_id, module_id=module_id)
                    )

        # A group session, and a check-in round every other week.
        attendees = tuple(p for p in taking_part if state.people[p].constituency != "facilitator")[:8]
        await self.send(
            W.record_session,
            m.RecordSession(
                by=me, activity_type="group_work", attendee_ids=attendees or (me,), duration_minutes=90
            ),
        )
        uneasy = [
            p
            for p in state.running_phases()
            if self.uneasy_phase is not None and plan.phase_index[p] == self.uneasy_phase
        ]
        if self.weeks % 2 == 0 or uneasy:
            comfort = 4
            if uneasy:
                comfort = 5 if state.phases[uneasy[0]].holds_recorded else 2
            for person_id in attendees[: plan.pace.min_check_ins + 2]:
                await self.send(W.record_check_in, m.RecordCheckIn(person_id=person_id, comfort=comfort))

        # The evidence the gate asks for, once the minimum dwell has nearly passed.
        progress = state.phases[current]
        if progress.started_at is not None and now >= progress.started_at + timedelta(
            days=phase.min_dwell_days - 7
        ):
            started = progress.started_at
            for key in phase.gate.evidence.indicators_measured:
                if not any(p.at >= started for p in state.indicators[key].measurements):
                    await self.send(W.record_measurement, measurement(me, plan, key))
            if phase.gate.evidence.readiness_reassessed and not any(
                a.at >= started for a in state.assessments
            ):
                await self.send(W.record_assessment, assessment(me))

        # Milestones that fell due get their measurements.
        for milestone_id in sorted(state.milestones_due):
            milestone = plan.milestones_by_id[milestone_id]
            for key in milestone.indicators:
                if not any(p.milestone_id == milestone_id for p in state.indicators[key].measurements):
                    await self.send(W.record_measurement, measurement(me, plan, key, milestone_id))

        # Votes on the open gate: everyone who may still vote approves, until the gate is decided.
        while True:
            gate = (await self.status()).gate
            if gate is None or gate.status != "open":
                break
            voters = [p for p in gate.may_still_vote if p != gate.requested_by]
            if not voters:
                break
            await self.send(
                W.decide_gate, m.DecideGate(person_id=voters[0], phase_id=gate.phase_id, choice="approve")
            )


def assessment(by: str) -> m.RecordAssessment:
    return m.RecordAssessment(
        by=by,
        past_co_production="A residents' forum ran until 2021 and faded when its budget was cut.",
        what_worked="Estate walkabouts with officers; complaint reviews with tenants.",
        what_did_not_work="Annual surveys nobody saw the results of.",
        approach_to_change="Cautious; the board likes pilots before policies.",
        commitment_items=(4, 4, 3, 4, 5),
        efficacy_items=(3, 4, 3, 3, 4, 4, 3),
        respondents=12,
    )


def measurement(by: str, plan: Any, key: str, milestone_id: str | None = None) -> m.RecordMeasurement:
    """A measurement halfway from the indicator's baseline to its target."""
    indicator = plan.indicators_by_key[key]
    baseline = indicator.baseline if indicator.baseline is not None else 0.0
    value = round((baseline + indicator.target) / 2, 2)
    return m.RecordMeasurement(by=by, indicator=key, value=value, milestone_id=milestone_id)
