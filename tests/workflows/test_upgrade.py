"""Upgrading the code under running engagements: an engagement started on version N (the workflow before
``timers-never-cancelled``) has recorded its first inputs, the version N way, when the workers are
replaced by version N+1 (today's code); it then runs its whole year on the new code with no
non-determinism error and its log still folds to its status, and an engagement started after the
upgrade uses the new behaviour. (Version N is not driven through skipped time: on the time-skipping
server it can strand itself, the very fault N+1 fixes.)"""

from __future__ import annotations

from datetime import date

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.eventlog_activities import EventLogActivities
from application.privacy.register import PeopleRegister
from application.simulation import ScriptedPeople, demo_responses
from domain.plan import plan_rescheduled
from eventlog import EventLog
from workers.keys import master_key, writer_signer
from workers.settings import Settings
from workers.worker import build_worker, workflow_runner
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import AmendPlan, RecordCheckIn

from .conftest import TASK_QUEUE, example_plan, settled_history_length, start_engagement
from .invariants import assert_log_matches_status
from .versions.engagement_v1 import EngagementWorkflowV1


def version_n_worker(client: Client, log: EventLog) -> Worker:
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[EngagementWorkflowV1],
        activities=[
            EventLogActivities(
                log, PeopleRegister(log.pool, master_key(Settings())), writer_signer(Settings())
            ).append_events
        ],
        workflow_runner=workflow_runner(),
        # No sticky cache: the time-skipping server keeps sending an engagement's tasks to the sticky
        # queue of a worker that has gone (a real cluster falls back after 5 s). Without it, the new
        # version replays each engagement's whole history from the first task it gets, as it must.
        max_cached_workflows=0,
    )


async def event_types(handle: WorkflowHandle) -> list[int]:
    return [event.event_type for event in (await handle.fetch_history()).events]


async def test_engagements_started_on_version_n_finish_on_version_n_plus_1(
    env: WorkflowEnvironment, writer_log: EventLog
) -> None:
    plan = plan_rescheduled(example_plan(), date.today())
    handle = await start_engagement(env.client, "upgrade-1", plan=plan)
    people = ScriptedPeople(handle, env.sleep, plan, demo_responses(plan))
    async with version_n_worker(env.client, writer_log):
        # The first days, on version N: check-ins, and an amendment asking for them weekly, which
        # brings the next reminder forward, so version N cancels its timer and starts another (its
        # way); time does not skip here, so no timer fires meanwhile.
        for n, person in enumerate(("t01", "t02", "d01", "t03")):
            msg = RecordCheckIn(person_id=person, comfort=2 + n % 3)
            await handle.execute_update(W.record_check_in, msg, id=f"v1-check-in-{n}")
        weekly = plan.model_copy(update={"pace": plan.pace.model_copy(update={"check_in_every_days": 7})})
        amend = AmendPlan(by="f01", plan=weekly, reason="weekly check-ins while the group is new")
        await handle.execute_update(W.amend_plan, amend, id="v1-amend")
        await people.week(await people.status())
        # Version N is drained before it stops, as a deployment drains a worker: nothing in flight. (A
        # worker stopped with a local activity in flight has been seen to panic in the SDK's core.)
        await settled_history_length(handle)
    assert EventType.EVENT_TYPE_TIMER_CANCELED in await event_types(handle)  # version N really ran

    async with build_worker(env.client, writer_log, TASK_QUEUE):  # the deployment of N+1
        final = await people.run(max_weeks=160)  # the rest of the year and its follow-up, on the new code
        later = await start_engagement(env.client, "upgrade-2", plan=plan)
        after = await ScriptedPeople(later, env.sleep, plan).run(max_weeks=6)

    assert final.status == "completed"
    history = await event_types(handle)
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in history  # no non-determinism, no retries
    assert_log_matches_status(await writer_log.read_stream("upgrade-1"), final)

    assert after.status == "active"
    new_history = await event_types(later)
    assert EventType.EVENT_TYPE_TIMER_CANCELED not in new_history
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED in new_history  # appends by (normal) activity
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in new_history
