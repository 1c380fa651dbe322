"""Bad input is refused by the update validators with one clear sentence, and leaves no trace:
nothing in the workflow's history, nothing in the event log."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.plan import plan_rescheduled
from eventlog import EventLog
from tests.domain.plans import small_plan
from workers.codec import data_converter
from workflows import messages as m
from workflows.engagement import UPDATES
from workflows.engagement import EngagementWorkflow as W

from .conftest import settled_history_length, start_engagement, wait_until_started

WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}


class Engagement:
    """A small engagement under test, with helpers to check that a refusal changed nothing."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle, log: EventLog) -> None:
        self.env, self.handle, self.log = env, handle, log
        self.n = 0

    async def send(self, update: Any, msg: m.Message) -> m.UpdateResult:
        self.n += 1
        return await self.handle.execute_update(update, msg, id=f"u-{self.n}")

    async def recorded_history(self) -> list[str]:
        """The history's events other than workflow tasks. (The time-skipping server writes a workflow
        task for a rejected update, which the real server does not: test_history_is_untouched_on_the_real_server
        checks the whole history there.)"""
        events = (await self.handle.fetch_history()).events
        return [EventType.Name(e.event_type) for e in events if e.event_type not in WORKFLOW_TASK_EVENTS]

    async def refused(self, update: Any, msg: Any, expected: str) -> None:
        """Send, expect the validator's refusal saying ``expected``, exactly (one sentence, never retried);
        check nothing changed."""
        await self.refused_inputs(update, [msg], expected)

    async def refused_inputs(self, update: Any, inputs: list[Any], expected: str) -> None:
        """``refused`` for any number of inputs, of any type (what a script may send)."""
        history_before = await self.recorded_history()
        log_before = len(await self.log.read_stream("eng-1"))
        self.n += 1
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await self.handle.execute_update(update, args=inputs, id=f"u-{self.n}")
        cause = caught.value.cause
        assert isinstance(cause, ApplicationError), repr(cause)
        assert (cause.message, cause.type, cause.non_retryable) == (expected, "InputRefused", True)
        assert await self.recorded_history() == history_before, "the refusal left a trace in the history"
        assert len(await self.log.read_stream("eng-1")) == log_before, "the refusal left events in the log"

    async def status(self) -> m.EngagementStatus:
        return await self.handle.query(W.status)

    async def comfortable(self, *people: str) -> None:
        for person in people:
            await self.send(W.record_check_in, m.RecordCheckIn(person_id=person, comfort=4))

    async def open_gate_of(self, phase_id: str, days: int) -> m.GateView:
        await self.comfortable("u1", "u2")
        await self.env.sleep(timedelta(days=days, hours=1))
        status = await self.status()
        assert status.gate is not None and status.gate.phase_id == phase_id, status.waiting_for
        assert status.gate.status == "open"
        return status.gate


@pytest.fixture
async def engagement(env: WorkflowEnvironment, client: Client, writer_log: EventLog) -> Engagement:
    plan = plan_rescheduled(small_plan(), date.today())
    handle = await start_engagement(client, plan=plan, started_by="d1")  # d1 decides gates too
    await wait_until_started(handle)
    return Engagement(env, handle, writer_log)


async def test_votes_that_could_not_count_are_refused_before_anything_is_written(
    engagement: Engagement,
) -> None:
    e = engagement
    gate = await e.open_gate_of("setup", days=3)
    assert gate.requested_by == "d1" and sorted(gate.may_still_vote) == ["d1", "d2", "d3"]

    await e.refused(W.decide_gate, m.DecideGate(person_id="zz9", phase_id="setup", choice="approve"),
                    "zz9 is not part of this engagement")  # fmt: skip
    await e.refused(W.decide_gate, m.DecideGate(person_id="u1", phase_id="setup", choice="approve"),
                    "u1 is not on the roster for gate 'setup': their roles (user-rep) are not among its deciding "
                    "roles (sponsor, board)")  # fmt: skip
    await e.refused(W.decide_gate, m.DecideGate(person_id="d2", phase_id="train", choice="approve"),
                    "gate 'train' has not been opened")  # fmt: skip
    await e.refused(W.decide_gate, m.DecideGate(person_id="d2", phase_id="setup", choice="object"),
                    "an objection to gate 'setup' needs a reason")  # fmt: skip
    await e.refused(W.decide_gate, m.DecideGate(person_id="d1", phase_id="setup", choice="approve"),
                    "d1 asked for gate 'setup', and four eyes are required: someone else must approve it")  # fmt: skip

    passed = await e.send(W.decide_gate, m.DecideGate(person_id="d2", phase_id="setup", choice="approve"))
    assert passed.events[:3] == ["vote_cast", "gate_decided", "phase_completed"]
    assert "phase_started" in passed.events
    await e.refused(W.decide_gate, m.DecideGate(person_id="d3", phase_id="setup", choice="approve"),
                    "gate 'setup' is not open (it was passed)")  # fmt: skip


async def test_a_second_vote_and_untrained_or_expired_voters_are_refused(engagement: Engagement) -> None:
    e = engagement
    await e.open_gate_of("setup", days=3)
    await e.send(W.decide_gate, m.DecideGate(person_id="d2", phase_id="setup", choice="approve"))
    await e.open_gate_of("train", days=5)
    await e.send(W.decide_gate, m.DecideGate(person_id="d2", phase_id="train", choice="approve"))
    await e.refused(W.decide_gate, m.DecideGate(person_id="d2", phase_id="train", choice="object", reason="no"),
                    "d2 has already voted on gate 'train' (approve)")  # fmt: skip
    await e.send(W.decide_gate, m.DecideGate(person_id="u1", phase_id="train", choice="approve"))

    # The pilot gate needs service users trained in shared decision making (valid 21 days).
    await e.send(W.record_training, m.RecordTraining(by="f1", person_id="u1", module_id="sdm"))
    await e.send(W.record_training, m.RecordTraining(by="f1", person_id="d2", module_id="gov"))
    await e.send(W.agree_evaluation_strategy, m.AgreeEvaluationStrategy(agreed_by=("d1", "u1")))
    await e.send(W.record_measurement, m.RecordMeasurement(by="f1", indicator="attendance", value=60))
    await e.send(W.record_assessment, _assessment())
    await e.open_gate_of("pilot", days=7)
    await e.refused(W.decide_gate, m.DecideGate(person_id="u3", phase_id="pilot", choice="approve"),
                    "u3 has not completed the training module 'sdm'")  # fmt: skip
    await e.env.sleep(timedelta(days=15))  # u1's authorisation (granted 8 days ago, 21 days) runs out
    (granted,) = [ev for ev in await e.log.read_stream("eng-1")
                  if ev.type == "authorisation_granted" and ev.payload["person_id"] == "u1"]  # fmt: skip
    expired_on = datetime.fromisoformat(granted.payload["expires_at"]).date().isoformat()
    await e.refused(W.decide_gate, m.DecideGate(person_id="u1", phase_id="pilot", choice="approve"),
                    f"u1's authorisation for 'sdm' expired on {expired_on}; renewing the training restores it")  # fmt: skip
    logged = [ev.type for ev in await e.log.read_stream("eng-1")]
    assert "authorisation_expired" in logged and "gate_escalated" in logged


async def test_other_updates_refuse_what_the_domain_refuses(engagement: Engagement) -> None:
    e = engagement
    await e.refused(
        W.record_check_in, m.RecordCheckIn(person_id="u1", comfort=9), "comfort 9 is outside the scale 1..5"
    )
    await e.refused(W.record_training, m.RecordTraining(by="f1", person_id="u1", module_id="juggling"),
                    "there is no training module 'juggling' in the plan")  # fmt: skip
    await e.refused(W.override_hold, m.OverrideHold(by="d2", phase_id="setup", reason="go"),
                    "only a facilitator may override a pace hold, and d2 is not one")  # fmt: skip
    await e.refused(W.resume, m.Resume(by="f1"), "the engagement is not paused, so it cannot be resumed")
    await e.refused(W.record_measurement, m.RecordMeasurement(by="f1", indicator="nope", value=1),
                    "there is no indicator 'nope' in the evaluation strategy")  # fmt: skip
    await e.refused(W.change_rung, m.ChangeRung(area_id="policy", to_rung="consultation", agreed_by=("d1",)),
                    "decision area 'policy' is already at 'consultation'")  # fmt: skip


async def test_inputs_that_are_not_one_well_formed_message_are_refused_with_one_sentence(
    engagement: Engagement,
) -> None:
    """What the typed references cannot send, a script or the stock CLI can: every such input is refused
    by the validator, in words, like any other bad input (not by the SDK's argument decoding)."""
    e = engagement
    check_in = "a JSON object with person_id and comfort, and optionally note"
    await e.refused_inputs("record_check_in", [], f"record_check_in needs one input: {check_in}")
    await e.refused_inputs(W.record_check_in, [m.RecordCheckIn(person_id="u1", comfort=4)] * 2,
                           f"record_check_in takes one input, not 2: {check_in}")  # fmt: skip
    await e.refused_inputs(
        "record_check_in", ["u1"], f"the input of record_check_in must be {check_in}, not 'u1'"
    )
    await e.refused(
        "record_check_in", {"person_id": "u1", "comfort": True}, "comfort must be a whole number, not true"
    )
    await e.refused(
        "record_check_in", {"person_id": "u1", "comfort": 4.0}, "comfort must be a whole number, not 4.0"
    )
    await e.refused(
        "record_check_in", {"person_id": "u1", "comfort": "4"}, "comfort must be a whole number, not '4'"
    )
    await e.refused("record_session", {"by": "f1", "activity_type": "group_work", "attendee_ids": "u1",
                                       "duration_minutes": 30}, "attendee_ids must be a list, not 'u1'")  # fmt: skip
    await e.refused("record_check_in", {"person_id": "u1", "comfort": 4, "mood": "ok"},
                    "record_check_in has no field 'mood'; its fields are person_id, comfort and note")  # fmt: skip
    await e.refused("decide_gate", {"person_id": "d2", "phase_id": "setup", "choice": "approve",
                                    "cast_at": "2999-01-01T00:00:00Z"},
                    "decide_gate has no field 'cast_at'; its fields are person_id, phase_id, choice and reason "
                    "(the engagement's own clock says when things happen)")  # fmt: skip
    await e.refused("recordcheckin", {"person_id": "u1", "comfort": 4},
                    "there is no update 'recordcheckin'; did you mean 'record_check_in'?")  # fmt: skip
    # A refusal by the domain says why, never the event type and time its message starts with for replays.
    await e.refused(W.override_hold, m.OverrideHold(by="f1", phase_id="setup", reason="Ready."),
                    "phase 'setup' is not held, so there is nothing to override")  # fmt: skip
    assert (await e.send(W.record_check_in, m.RecordCheckIn(person_id="u1", comfort=4))).events == [
        "check_in_recorded"
    ]


EVERY_UPDATE: list[m.Message] = [
    m.RecordAssessment(
        by="f1", past_co_production="None.", what_worked="Events.", what_did_not_work="Surveys.",
        approach_to_change="Slow.", commitment_items=(4, 4, 4.5, 4, 4), efficacy_items=(3,) * 7, respondents=3,
    ),
    m.AgreeEvaluationStrategy(agreed_by=("d1", "u1")),
    m.RecordSession(by="f1", activity_type="group_work", attendee_ids=["u1", "d1"], duration_minutes=60,
                    phase_id="setup", activity_id="a1", session_id="s1", notes="Notes."),
    m.RecordTraining(by="f1", person_id="u1", module_id="sdm", session_id="s1"),
    m.RecordMeasurement(by="f1", indicator="attendance", value=55, baseline=True, note="n"),
    m.RecordMeasurement(by="f1", indicator="attendance", value=0.5, milestone_id="m1"),
    m.RecordCheckIn(person_id="u1", comfort=4, note="Fine."),
    m.AddParticipant(by="f1", person_id="u9", constituency="carer", roles=["user-rep"], cohort="wider"),
    m.WidenCohort(by="f1", phase_id="pilot"),
    m.AmendPlan(by="f1", plan=small_plan(), reason="Dates moved."),
    m.DecideGate(person_id="d2", phase_id="setup", choice="object", reason="Not yet."),
    m.OverrideHold(by="f1", phase_id="setup", reason="Ready."),
    m.CosignChange(by="d1", change_id="change-1"),
    m.DeclineChange(by="u1", change_id="change-1", reason="Too soon."),
    m.RequestPause(by="u1", reason="Exams."),
    m.RecordLawfulBasis(by="f1", person_id="u1", basis="consent"),
    m.WithdrawConsent(by="u1", person_id="u1"),
    m.RecordOutput(by="f1", output_id="repairs", kind="policy", stage="drafted", title="Repairs",
                   took_part=["u1", "d1"], phase_id="setup", summary="A draft."),
    m.RecordDecision(by="f1", area_id="policy", decided_on=date(2026, 11, 20), rung="co-design",
                     took_part=("d1", "u1"), summary="Priorities."),
    m.RecordContribution(by="f1", person_id="u1", minutes=90, expenses_pence=450, session_id="s1"),
    m.RecordRecognition(by="f1", person_id="u1", fee_pence=1000, expenses_pence=450, form="voucher"),
    m.ChangeRung(area_id="policy", to_rung="co-design", agreed_by=("d1",)),
    m.Pause(by="f1", reason="Elections."),
    m.Resume(by="f1", reason="Done."),
    m.DisownEvent(by="f1", position=7, reason="Not ours."),
]  # fmt: skip


def test_every_update_is_read_back_strictly_from_the_json_a_client_sends() -> None:
    """Strict fields still take what JSON can say: lists for tuples, whole numbers for decimals, ISO
    dates in a plan; and what the Python client sends (the pydantic converter) reads back the same."""
    assert {type(msg) for msg in EVERY_UPDATE} == set(UPDATES)
    converter = data_converter().payload_converter
    for msg in EVERY_UPDATE:
        (sent,) = converter.from_payloads(converter.to_payloads([msg]), None)  # read with no type
        assert m.read_input(type(msg), "update", [sent]) == msg
        by_hand = m.read_json(json.dumps(msg.model_dump(mode="json")).encode())
        assert m.read_input(type(msg), "update", [by_hand]) == msg


async def test_a_paused_engagement_refuses_decisions_until_resumed(engagement: Engagement) -> None:
    e = engagement
    await e.comfortable("u1", "u2")
    await e.send(W.pause, m.Pause(by="f1", reason="The board asked for time after a restructure."))
    await e.env.sleep(timedelta(days=4))
    (paused,) = [ev for ev in await e.log.read_stream("eng-1") if ev.type == "engagement_paused"]
    paused_on = paused.occurred_at.date().isoformat()
    status = await e.status()
    assert status.status == "paused" and status.gate is None  # no gate opens while paused
    await e.refused(W.record_session,
                    m.RecordSession(by="f1", activity_type="group_work", attendee_ids=("u1",), duration_minutes=60),
                    f"the engagement is paused (since {paused_on}); resume it first")  # fmt: skip
    await e.send(W.record_check_in, m.RecordCheckIn(person_id="u3", comfort=3))  # facts are still recorded
    await e.send(W.resume, m.Resume(by="f1"))
    status = await e.status()
    assert status.status == "active" and status.gate is not None and status.gate.status == "open"


def _assessment() -> m.RecordAssessment:
    return m.RecordAssessment(
        by="f1",
        past_co_production="None to speak of.",
        what_worked="Listening events.",
        what_did_not_work="Surveys.",
        approach_to_change="Slow and careful.",
        commitment_items=(4, 4, 4, 4, 4),
        efficacy_items=(3, 3, 3, 3, 3, 3, 3),
    )


async def test_history_is_untouched_on_the_real_server(dev_client: Client, writer_log: EventLog) -> None:
    """On the real server a rejected update leaves the history exactly as it was (not one event)."""
    handle = await start_engagement(
        dev_client, plan=plan_rescheduled(small_plan(), date.today()), started_by="f1"
    )
    await wait_until_started(handle)
    before = await settled_history_length(handle)
    for bad in (
        m.RecordCheckIn(person_id="u1", comfort=0),
        m.DecideGate(person_id="d2", phase_id="setup", choice="approve"),
    ):
        update = W.record_check_in if isinstance(bad, m.RecordCheckIn) else W.decide_gate
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(update, bad, id=f"bad-{type(bad).__name__}")
    assert len((await handle.fetch_history()).events) == before
    assert [e.type for e in await writer_log.read_stream("eng-1")][:2] == [
        "engagement_started",
        "phase_started",
    ]
