"""The activity that writes a workflow's events to the event log.

It is idempotent: event ids are made deterministically in the workflow, so when Temporal retries the
activity (a worker died after the commit but before reporting it, the database restarted mid-append),
the retry finds the events stored and returns their positions instead of writing them twice.

Personal text (reasons, notes, findings, names) is sealed here, just before it is written, under the
data keys of the people it belongs to (``application.privacy.sealing``, ``application.privacy.register``):
the log only ever holds its ciphertext. Sealing is deterministic, so a retry writes the same bytes.
"""

from __future__ import annotations

import time
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from application.privacy.records import sealed_events
from application.privacy.register import PeopleRegister
from application.privacy.sealing import open_sealed
from eventlog import ConcurrencyError, DuplicateEventError, EventLog, RecordedEvent
from workflows.contracts import APPEND_EVENTS, AdoptedEvent, AppendEvents, AppendReply

log = structlog.get_logger(__name__)


class EventLogActivities:
    """Activities bound to one open ``EventLog`` (the worker owns its connection pool) and the people
    register whose keys seal personal text."""

    def __init__(self, log: EventLog, register: PeopleRegister) -> None:
        self.log = log
        self.register = register

    @activity.defn(name=APPEND_EVENTS)
    async def append_events(self, request: AppendEvents) -> AppendReply:
        info = activity.info()
        origin = {"workflow_id": info.workflow_id, "workflow_run_id": info.workflow_run_id}
        events = await sealed_events(self.register, request.stream_id, request.events, origin)
        started = time.monotonic()
        try:
            result = await self.log.append(request.stream_id, events, request.expected_version)
        except (ConcurrencyError, DuplicateEventError) as exc:
            # The stream is ahead of the workflow. When it is this workflow's own earlier attempt (its
            # task died after the commit), hand the stored events back for the workflow to adopt.
            stored = await self.log.read_stream(
                request.stream_id, after_version=request.expected_version or 0
            )
            if request.expected_version is None or not stored or not _own(stored, request):
                # Someone else wrote this stream, or events are missing: going on would make the
                # workflow and the log disagree. Fail loudly instead.
                raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
            log.warning(
                "adopting events a lost workflow task appended",
                engagement_id=request.stream_id,
                versions=[e.stream_version for e in stored],
            )
            keys = await self.register.all_keys(request.stream_id)
            return AppendReply(
                positions=[],
                stream_version=stored[-1].stream_version,
                duplicate=True,
                adopted=[
                    AdoptedEvent(
                        position=e.position,
                        stream_version=e.stream_version,
                        event_id=e.event_id,
                        type=e.type,
                        schema_version=e.schema_version,
                        # the workflow reads the text as the people it belongs to wrote it (or erased)
                        payload=open_sealed(e.type, e.payload, e.event_id, keys),
                        causation_id=e.causation_id,
                    )
                    for e in stored
                ],
            )
        elapsed = timedelta(seconds=time.monotonic() - started)
        meter = activity.metric_meter()
        meter.create_histogram_timedelta(
            "coproduce_append_latency", "one append of a workflow's events to the log", "ms"
        ).record(elapsed)
        if not result.duplicate:
            meter.create_counter("coproduce_events_appended", "events written to the log").add(len(events))
        log.debug(
            "appended events",
            engagement_id=request.stream_id,
            correlation_id=request.events[0].correlation_id if request.events else None,
            causation_id=request.events[0].causation_id if request.events else None,
            positions=list(result.positions),
            duplicate=result.duplicate,
            ms=round(elapsed.total_seconds() * 1000, 1),
        )
        return AppendReply(
            positions=list(result.positions), stream_version=result.stream_version, duplicate=result.duplicate
        )


def _own(stored: list[RecordedEvent], request: AppendEvents) -> bool:
    """Whether the events after the expected version were written by this workflow (its correlation id
    is the engagement's), rather than by someone else appending to the stream."""
    ours = request.events[0].correlation_id
    return all(e.correlation_id == ours and e.metadata.get("workflow_id") == ours for e in stored)
