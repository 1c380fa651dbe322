"""Scripted people: drive an engagement through its plan, week by week, through its public updates.

Used by ``coproduce demo`` (a whole year of an example engagement), ``coproduce simulate`` (the
timeline a plan's pace policy produces under assumed responses) and the tests. The script does what
the people of an engagement would: the initial assessment and the evaluation strategy, baselines,
training whoever must be authorised for the current gate, check-ins, a group session a week, the
measurements and re-assessment a gate asks for as evidence, widening the cohort when a phase works with
the wider group, votes on open gates, and measurements for milestones that fell due. ``Responses``
says how people respond: how comfortable they are, in which phases they are uneasy at first (the pace
policy then holds the phase until comfort recovers), and at which gates they object the first time
(under consent the gate is held; under a vote, enough people object that it is rejected).

Time passes through ``advance`` (the time-skipping test server's ``sleep``); nothing here writes
anything except through updates, so every rule of the real workflow applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)

from domain.engagement import EngagementState, PhaseState
from domain.plan import Plan
from domain.rules.eligibility import authorisation_problems
from domain.rules.retention import participants, retention_due_at, retention_rule
from domain.vocabulary import Constituency
from eventlog import RecordedEvent
from workflows import messages as m
from workflows.engagement import EngagementWorkflow

from .engagements import engagement_status
from .errors import UserError

W = EngagementWorkflow
UPDATE_PATIENCE = 15.0  # seconds before an unanswered input is sent again
UPDATE_ATTEMPTS = 4
START_PATIENCE = 60.0  # seconds to wait for the workflow to record the engagement's start
SETTLE_PATIENCE = 120.0  # seconds to wait for the appends in flight to be recorded (PostgreSQL may be busy)


class Responses(BaseModel):
    """How the scripted people respond (a YAML or JSON file for ``coproduce simulate --responses``)."""

    model_config = ConfigDict(extra="forbid")

    comfort: int = Field(default=4, description="the usual comfort score at check-ins")
    check_in_every_weeks: int = Field(default=2, ge=1, description="how often people check in")
    uneasy_phases: list[str] = Field(
        default_factory=list,
        description="phases where people are uneasy (comfort 2) at first, until the pace policy holds them",
    )
    uneasy_weeks: int = Field(
        default=2, ge=1, le=52, description="how many weeks from an uneasy phase's start people stay uneasy"
    )
    uneasy_constituency: Constituency | None = Field(
        default=None, description="only this group is uneasy (everyone who checks in, when left out)"
    )
    at_the_bottom: int = Field(
        default=0, ge=0, description="how many of the uneasy people answer at the bottom of the scale"
    )
    objections: dict[str, str] = Field(
        default_factory=dict,
        description="phase id -> the reason people give for objecting at its gate's first round",
    )


def _every_group(state: EngagementState, people: list[str], count: int) -> tuple[str, ...]:
    """Up to ``count`` of ``people``, taken from each constituency in turn, so every group is heard."""
    groups: dict[str, list[str]] = {}
    for person_id in people:
        groups.setdefault(state.people[person_id].constituency, []).append(person_id)
    chosen: list[str] = []
    while len(chosen) < count and any(groups.values()):
        for members in groups.values():
            if members and len(chosen) < count:
                chosen.append(members.pop(0))
    return tuple(chosen)


def responses_from_yaml(text: str, source: str, plan: Plan) -> Responses:
    """The responses in ``text`` (YAML) for ``plan``; a ``UserError`` naming the line of each phase id the
    plan does not have, or the first thing wrong with the file's shape."""
    try:
        responses = Responses.model_validate(yaml.safe_load(text) or {})
    except yaml.YAMLError as exc:
        raise UserError(f"{source} is not a valid responses file: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise UserError(f"{source} is not a valid responses file: {where}: {first['msg']}") from None
    known = list(plan.phases_by_id)
    problems = [
        f"line {line}: {field} names '{name}', which is not a phase of the plan ({', '.join(known)})"
        for field in ("uneasy_phases", "objections")
        for name, line in _ids_with_lines(text, field)
        if name not in plan.phases_by_id
    ]
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise UserError(f"{source} has {count}:\n" + "\n".join(f"  {problem}" for problem in problems))
    return responses


def _ids_with_lines(text: str, field: str) -> list[tuple[str, int]]:
    """The ids under ``field`` (a list's items, or a mapping's keys) with their line numbers."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value != field:
            continue
        if isinstance(value, yaml.SequenceNode):
            return [(str(item.value), item.start_mark.line + 1) for item in value.value]
        if isinstance(value, yaml.MappingNode):
            return [(str(name.value), name.start_mark.line + 1) for name, _ in value.value]
    return []


class ScriptedPeople:
    """Drives one engagement. ``advance(timedelta)`` moves time on; ``on_week`` reports progress."""

    def __init__(
        self,
        handle: WorkflowHandle,
        advance: Callable[[timedelta], Awaitable[None]],
        plan: Plan,
        responses: Responses | None = None,
        on_week: Callable[[int, m.EngagementStatus], None] | None = None,
    ) -> None:
        self.handle = handle
        self.advance = advance
        self.plan = plan
        self.responses = responses or Responses()
        self.on_week = on_week
        self.facilitator = next(p.id for p in plan.people if p.constituency == "facilitator")
        self.sent: list[m.UpdateResult] = []
        self.retries = 0
        self.weeks = 0
        self._n = 0

    async def status(self) -> m.EngagementStatus:
        """The engagement's status once nothing is being recorded: its query while it runs, its result
        once it has completed (see ``application.engagements.engagement_status``: histories recorded by
        the time-skipping test server under load have been seen to replay differently from how they
        ran). The query does not wait for an append in flight (a timer that fell due as time skipped
        may be recording right now), and the script decides from what it sees: so ask again until the
        status says it is settled (``recording`` false)."""
        async with asyncio.timeout(SETTLE_PATIENCE):
            status = await engagement_status(self.handle)
            while status.recording:
                await asyncio.sleep(0.05)
                status = await engagement_status(self.handle)
        return status

    async def send(self, update: Any, msg: m.Message) -> m.UpdateResult:
        """Send one input; if no answer comes in time, send it again with the same id (safe: update ids
        are idempotency keys). The time-skipping test server now and then loses an update that arrives
        while a workflow task is running; a retry gets it through."""
        self._n += 1
        update_id = f"{self.handle.id}-script-{self._n}"
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            try:
                async with asyncio.timeout(UPDATE_PATIENCE):
                    result = await self.handle.execute_update(update, msg, id=update_id)
                break
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                self.retries += 1
                if attempt == UPDATE_ATTEMPTS:
                    raise
        self.sent.append(result)
        return result

    async def run(self, max_weeks: int = 160) -> m.EngagementStatus:
        """Drive until the engagement completes (or ``max_weeks`` pass); returns the last status."""
        async with asyncio.timeout(START_PATIENCE):
            status = await self.status()
            while status.status == "not_started":  # the workflow is still recording the start
                await asyncio.sleep(0.05)
                status = await self.status()
        while status.status != "completed" and self.weeks < max_weeks:
            await self.week(status)
            # In the follow-up period only milestones fall due, months apart: look in every four weeks.
            weeks = 4 if status.status == "following_up" else 1
            await self.advance(timedelta(days=7 * weeks))
            self.weeks += weeks
            status = await self.status()
            if self.on_week is not None:
                self.on_week(self.weeks, status)
        return status

    async def week(self, status: m.EngagementStatus) -> None:
        state = status.state
        if state.status == "following_up" and state.plan is not None:
            await self.measure_milestones(state, state.plan)
            return
        if state.status != "active" or state.plan is None:
            return
        plan = state.plan
        now = status.as_of
        me = self.facilitator
        if not state.assessments:
            await self.send(W.record_assessment, assessment(me))
        if state.evaluation_agreed_at is None:
            deciders = [  # a decision maker and a service user agree it, with the facilitator
                next(p.id for p in plan.people if p.constituency == group and p.cohort == "initial")
                for group in ("decision_maker", "service_user")
            ]
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
        if phase.cohort == "wider" and state.cohort != "wider":
            await self.send(W.widen_cohort, m.WidenCohort(by=me, phase_id=current))
            state = (await self.status()).state
        taking_part = sorted(p for p, person in state.people.items() if state.takes_part(person))

        # Everyone who decides this gate is trained before they decide (and retrained before expiry).
        for person_id in taking_part:
            person = state.people[person_id]
            for module_id in plan.training.modules_required(current, person.roles):
                if authorisation_problems(person, (module_id,), now + timedelta(days=30)):
                    await self.send(
                        W.record_training, m.RecordTraining(by=me, person_id=person_id, module_id=module_id)
                    )

        # A group session every week; check-ins on the responses' cadence (every week while uneasy).
        attendees = _every_group(
            state, [p for p in taking_part if state.people[p].constituency != "facilitator"], 8
        )
        await self.send(
            W.record_session,
            m.RecordSession(
                by=me, activity_type="group_work", attendee_ids=attendees or (me,), duration_minutes=90
            ),
        )
        uneasy = [p for p in state.running_phases() if p in self.responses.uneasy_phases]
        if self.weeks % self.responses.check_in_every_weeks == 0 or uneasy:
            eased = not uneasy or self._eased(state.phases[uneasy[0]], now)
            bottom = self.responses.at_the_bottom
            for person_id in attendees[: plan.pace.min_check_ins + 2]:
                comfort = 5 if uneasy and eased else self.responses.comfort
                group = self.responses.uneasy_constituency
                if not eased and group in (None, state.people[person_id].constituency):
                    comfort, bottom = (plan.pace.comfort_scale.low, bottom - 1) if bottom > 0 else (2, bottom)
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

        await self.measure_milestones(state, plan)

        await self.vote()

    async def measure_milestones(self, state: EngagementState, plan: Plan) -> None:
        """Milestones that fell due get their measurements."""
        for milestone_id in sorted(state.milestones_due):
            for key in plan.milestones_by_id[milestone_id].indicators:
                if not any(p.milestone_id == milestone_id for p in state.indicators[key].measurements):
                    await self.send(
                        W.record_measurement, measurement(self.facilitator, plan, key, milestone_id)
                    )

    def _eased(self, progress: PhaseState, now: datetime) -> bool:
        """Whether people in an uneasy phase feel better now: the pace policy has held the phase for them,
        and the weeks they stay uneasy (``Responses.uneasy_weeks``) have passed since it started."""
        started = progress.started_at or now
        return progress.holds_recorded > 0 and now >= started + timedelta(weeks=self.responses.uneasy_weeks)

    async def vote(self) -> None:
        """Votes on the open gate, one at a time, until it is decided or nobody is left to vote."""
        while True:
            gate = (await self.status()).gate
            if gate is None or gate.status != "open":
                return
            voters = [p for p in gate.may_still_vote if p != gate.requested_by]
            if not voters:
                return
            reason = self.responses.objections.get(gate.phase_id)
            if reason and gate.round == 1:
                # The first round meets objections: one holds a consent gate; a vote is rejected
                # once too few people are left to approve it.
                msg = m.DecideGate(
                    person_id=voters[0], phase_id=gate.phase_id, choice="object", reason=reason
                )
            else:
                msg = m.DecideGate(person_id=voters[0], phase_id=gate.phase_id, choice="approve")
            await self.send(W.decide_gate, msg)


def assessment(by: str) -> m.RecordAssessment:
    return m.RecordAssessment(
        by=by,
        past_co_production="A users' forum ran until 2021 and faded when its budget was cut.",
        what_worked="Walkabouts with staff; complaint reviews with the people who complained.",
        what_did_not_work="Annual surveys nobody saw the results of.",
        approach_to_change="Cautious; the board likes pilots before policies.",
        commitment_items=(4, 4, 3, 4, 5),
        efficacy_items=(3, 4, 3, 3, 4, 4, 3),
        respondents=12,
    )


def measurement(by: str, plan: Plan, key: str, milestone_id: str | None = None) -> m.RecordMeasurement:
    """A measurement halfway from the indicator's baseline to its target."""
    indicator = plan.indicators_by_key[key]
    baseline = indicator.baseline if indicator.baseline is not None else 0.0
    value = round((baseline + indicator.target) / 2, 2)
    return m.RecordMeasurement(by=by, indicator=key, value=value, milestone_id=milestone_id)


def demo_responses(plan: Plan) -> Responses:
    """Responses that show the pace policy and dissent at work: service users uneasy in the third phase, an
    objection at the first consent gate after it (held), and at the first vote gate (rejected)."""
    phases = list(plan.phases)
    uneasy = [phases[2].id] if len(phases) > 2 else []
    later = phases[3:]
    objections: dict[str, str] = {}
    consent = next((p for p in later if p.gate.method == "consent"), None)
    vote = next((p for p in later if p.gate.method == "vote"), None)
    if consent is not None:
        objections[consent.id] = (
            "We have not seen the revised terms of reference yet; come back when we have."
        )
    if vote is not None:
        objections[vote.id] = "Training dates clashed with school holidays; too many of us missed it."
    # The service users are uneasy in the third phase, one of them at the bottom of the scale: with the
    # examples' pace policy (each group's comfort, minority signal) the phase is held for them.
    return Responses(
        uneasy_phases=uneasy, uneasy_constituency="service_user", at_the_bottom=1, objections=objections
    )


def projected_phases(events: Sequence[RecordedEvent]) -> list[dict[str, Any]]:
    """Each phase's projected dates from a rehearsal's events: started, gate opened and passed, rounds,
    whether the pace policy held it, completed."""
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        phase = event.payload.get("phase_id")
        if phase is None:
            continue
        row = rows.setdefault(phase, {"phase": phase, "started": "", "gate_opened": "", "gate_passed": "",
                                      "rounds": 0, "held": False, "completed": ""})  # fmt: skip
        day = event.occurred_at.strftime("%Y-%m-%d")
        if event.type == "phase_started":
            row["started"] = day
        elif event.type == "gate_opened":
            row["gate_opened"] = row["gate_opened"] or day
            row["rounds"] += 1
        elif event.type == "gate_decided" and event.payload["outcome"] == "passed":
            row["gate_passed"] = day
        elif event.type == "pace_hold_recorded":
            row["held"] = True
        elif event.type == "phase_completed":
            row["completed"] = day
    return list(rows.values())


def milestones_due(events: Sequence[RecordedEvent]) -> dict[str, str]:
    """When each evaluation milestone fell due in a rehearsal."""
    return {
        e.payload["milestone_id"]: e.occurred_at.strftime("%Y-%m-%d")
        for e in events
        if e.type == "milestone_due"
    }


def retention_projected(state: EngagementState) -> dict[str, Any] | None:
    """When the plan's retention rule would forget the participants, after a rehearsal: None under a
    plan without a rule; ``due_on`` None when the rehearsal did not complete."""
    rule = retention_rule(state)
    if rule is None:
        return None
    due = retention_due_at(state)
    return {
        "rule": rule.described(),
        "forget_participants_after_days": rule.forget_participants_after_days,
        "completed_on": state.completed_at.strftime("%Y-%m-%d") if due and state.completed_at else None,
        "due_on": due.strftime("%Y-%m-%d") if due else None,
        "participants": list(participants(state)),
    }
