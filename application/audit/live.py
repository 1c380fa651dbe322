"""Compare an engagement's log with its live workflow, when Temporal is reachable.

Two independent records of one engagement exist: the event log, and the workflow's history in Temporal
(every accepted update and every activity that appended events, with what the append returned).
They must tell the same story:

- every append the workflow made (an ``append_events`` activity that completed, or, in runs started
  before the append became a normal activity, a ``core_local_activity`` marker of ``append_events``;
  in any run of the engagement across continue-as-new) names positions that the log holds for this
  engagement;
- every event the log holds for the engagement was appended by the workflow (nothing else is there);
- every accepted update's result names positions whose events carry that update's id as causation;
- ``fold(log)`` equals the state the workflow's ``status`` query returns, and the log holds as many
  events as its stream version (``consistency.fold_differences``).

Each mismatch is reported in a sentence naming the position or update.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from workflows.contracts import AppendReply
from workflows.messages import EngagementStatus, UpdateResult

from .consistency import described, fold_differences
from .history import DecodedEvent

APPEND_ACTIVITY = "append_events"
LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass
class LiveComparison:
    """What the comparison found: the runs and updates read, and each mismatch."""

    runs: int = 0
    updates: int = 0
    appends: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what holds but a reader should know (disowned events)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (
                f"OK: the log matches the workflow ({self.runs} run(s), {self.updates} accepted updates, "
                f"{self.appends} appends), and folds to its live status"
            )
        return "FAILED: " + self.problems[0]


async def histories(client: Client, engagement_id: str) -> list[WorkflowHistory]:
    """Every run of the engagement's workflow, oldest first (following continue-as-new back)."""
    runs: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(engagement_id, run_id=run_id).fetch_history()
        runs.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
        if run_id is None:
            return runs[::-1]


async def compare(
    client: Client, engagement_id: str, history: list[DecodedEvent], status: EngagementStatus
) -> LiveComparison:
    """Compare the log's events for the engagement with its Temporal history and live status."""
    result = LiveComparison()
    converter = client.data_converter
    appended: dict[int, str] = {}  # position -> where the history says it was appended
    update_positions: dict[str, list[int]] = {}
    for run_number, run in enumerate(await histories(client, engagement_id), 1):
        result.runs += 1
        scheduled: set[int] = set()  # the history events that scheduled an append activity
        for event in run.events:
            reply_payloads = None
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                if event.activity_task_scheduled_event_attributes.activity_type.name == APPEND_ACTIVITY:
                    scheduled.add(event.event_id)
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                done_activity = event.activity_task_completed_event_attributes
                if done_activity.scheduled_event_id in scheduled:
                    reply_payloads = list(done_activity.result.payloads)
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:  # runs before the patch
                marker = event.marker_recorded_event_attributes
                if marker.marker_name == LOCAL_ACTIVITY_MARKER and marker.details["result"].payloads:
                    data = json.loads(marker.details["data"].payloads[0].data)
                    if data.get("activity_type") == APPEND_ACTIVITY:
                        reply_payloads = list(marker.details["result"].payloads)
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
                done = event.workflow_execution_update_completed_event_attributes
                if not done.outcome.HasField("success"):
                    continue  # refused while handling: nothing was recorded
                [update] = await converter.decode(list(done.outcome.success.payloads), [UpdateResult])
                update_positions[done.meta.update_id] = list(update.positions)
                result.updates += 1
            if reply_payloads:
                [reply] = await converter.decode(reply_payloads, [AppendReply])
                # positions written now, and those a lost attempt wrote that this append adopted
                for position in [*reply.positions, *(stored.position for stored in reply.adopted)]:
                    appended[position] = f"history event {event.event_id} of run {run_number}"
                result.appends += 1
    in_log = {item.record.position: item for item in history}
    for position in sorted(set(appended) - set(in_log)):
        result.problems.append(
            f"the workflow appended position {position} ({appended[position]}) but the log has no such event "
            "of this engagement"
        )
    for position in sorted(set(in_log) - set(appended)):
        item = in_log[position]
        if position in status.state.disowned:
            result.notes.append(
                f"the foreign event at position {position} ({item.record.type}) is in the log but the workflow "
                "never appended it; an operator disowned it, so it is not counted"
            )
        else:
            result.problems.append(
                f"the event at position {position} ({item.record.type}) is in the log but the workflow never "
                "appended it" + (f" ({item.foreign})" if item.foreign else "")
            )
    for update_id, positions in update_positions.items():
        for position in positions:
            item = in_log.get(position)
            if item is None or item.record.causation_id != update_id:
                result.problems.append(
                    f"update {update_id} was accepted with its events at position {position}, but the log "
                    "does not have them there"
                )
    differ = fold_differences(history, status)
    if differ:
        result.problems.append(
            "the fold of the log differs from the workflow's live status at " + described(differ)
        )
    return result
