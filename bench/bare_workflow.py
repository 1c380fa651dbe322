"""The baselines for ``bench.workflow``: workflows with the engagement's shape that write nothing.

``BareGateWorkflow`` has the same ``decide_gate`` update (same input, a validator, a result) and, like
the engagement, awaits a local activity before answering, but the activity (``noop_append``) writes
nothing; then it moves to the next phase in memory, with no domain rules and no event log. It measures
what the Temporal skeleton of a gate transition costs. With ``skip_activity`` it does not even call the
activity: the cheapest possible update, for reference. Kept in a module with no side effects, as
Temporal's sandbox requires.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import AppendEvents, AppendReply, EventToAppend
    from workflows.messages import DecideGate, UpdateResult


TRANSITION = ("vote_cast", "gate_decided", "phase_completed", "phase_started", "gate_opened")


@activity.defn(name="noop_append")
async def noop_append(request: AppendEvents) -> AppendReply:
    """Takes what the real append takes, writes nothing."""
    return AppendReply(positions=[], stream_version=0, duplicate=False)


@workflow.defn(name="BareGateWorkflow")
class BareGateWorkflow:
    @workflow.init
    def __init__(self, phases: int, skip_activity: bool = False) -> None:
        self.phases = phases
        self.skip_activity = skip_activity
        self.passed = 0

    @workflow.run
    async def run(self, phases: int, skip_activity: bool = False) -> int:
        await workflow.wait_condition(lambda: self.passed >= self.phases)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.passed

    @workflow.update(name="decide_gate")
    async def decide_gate(self, msg: DecideGate) -> UpdateResult:
        if not self.skip_activity:
            records = [
                EventToAppend(
                    event_id=workflow.uuid4(),
                    type=event_type,
                    schema_version=1,
                    payload={"phase_id": msg.phase_id, "person_id": msg.person_id},
                    occurred_at=workflow.now(),
                )
                for event_type in TRANSITION
            ]
            await workflow.execute_local_activity(
                noop_append,
                AppendEvents(stream_id=workflow.info().workflow_id, expected_version=None, events=records),
                start_to_close_timeout=timedelta(seconds=30),
            )
        self.passed += 1
        info = workflow.current_update_info()
        return UpdateResult(
            update_id=info.id if info else "",
            events=list(TRANSITION),
            positions=[],
            stream_version=self.passed,
            summary="",
        )

    @decide_gate.validator
    def _check(self, msg: DecideGate) -> None:
        if msg.phase_id != f"p{self.passed + 1:02d}":
            raise ValueError(f"gate '{msg.phase_id}' is not open")
