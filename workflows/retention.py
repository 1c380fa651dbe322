"""``RetentionWorkflow``: the durable timer that applies an engagement's retention rule by itself.

An engagement whose plan has a ``retention`` rule starts one when it completes (a child workflow it
abandons: it outlives the engagement's own workflow, which ends at completion), with the id
``retention/<engagement id>``. It asks the ``apply_retention`` activity when the rule falls due, sleeps
on a durable timer until then (730 days is nothing to Temporal), and asks again: the activity forgets
each participant who did not opt to stay and records ``retention_applied``
(``application.retention``). The activity is idempotent, so a retried or repeated step forgets nobody
twice and records nothing twice; a step that fails (the database is down) is retried until it succeeds.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict

    from workflows.contracts import APPLY_RETENTION, ApplyRetention, RetentionStep

RETENTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
RETENTION_TIMEOUT = timedelta(minutes=5)
MAX_STEPS = 20  # a rule is applied in two steps (learn the date, apply it); more would be a bug looping


def retention_workflow_id(engagement_id: str) -> str:
    """The id of an engagement's retention workflow (no name in it: engagement ids hold none)."""
    return f"retention/{engagement_id}"


class RetentionInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    engagement_id: str


@workflow.defn(name="RetentionWorkflow")
class RetentionWorkflow:
    @workflow.run
    async def run(self, inp: RetentionInput) -> RetentionStep:
        step = RetentionStep()
        for _ in range(MAX_STEPS):
            step = await workflow.execute_activity(
                APPLY_RETENTION,
                ApplyRetention(engagement_id=inp.engagement_id, as_of=workflow.now()),
                result_type=RetentionStep,
                start_to_close_timeout=RETENTION_TIMEOUT,
                retry_policy=RETENTION_RETRY,
            )
            if step.applied or step.due_at is None:
                return step
            wait = max(step.due_at - workflow.now(), timedelta(seconds=1))
            await workflow.sleep(wait, summary="until participants fall due to be forgotten")
        return step
