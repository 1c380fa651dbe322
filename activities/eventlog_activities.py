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
from collections.abc import Sequence
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from application.audit.history import read_records
from application.privacy.records import sealed_events
from application.privacy.register import PeopleRegister
from application.privacy.sealing import open_sealed
from eventlog import ConcurrencyError, DuplicateEventError, EventLog, RecordedEvent, Signer, Verifier
from eventlog.writers import check_writer, trusted_writers
from workflows.contracts import (
    APPEND_EVENTS,
    FOREIGN_EVENT_ERROR,
    AdoptedEvent,
    AppendEvents,
    AppendReply,
    ForeignEvent,
)

log = structlog.get_logger(__name__)


class EventLogActivities:
    """Activities bound to one open ``EventLog`` (the worker owns its connection pool), the people
    register whose keys seal personal text, and the writer key that signs every event appended
    (``writers``: the public keys whose events count as this installation's own)."""

    def __init__(
        self, log: EventLog, register: PeopleRegister, writer: Signer, writers: Sequence[Verifier] = ()
    ) -> None:
        self.log = log
        self.register = register
        self.writer = writer
        self.writers = trusted_writers([writer.verifier, *writers])

    @activity.defn(name=APPEND_EVENTS)
    async def append_events(self, request: AppendEvents) -> AppendReply:
        info = activity.info()
        origin = {"workflow_id": info.workflow_id, "workflow_run_id": info.workflow_run_id}
        events = await sealed_events(self.register, request.stream_id, request.events, origin)
        started = time.monotonic()
        try:
            result = await self.log.append(
                request.stream_id, events, request.expected_version, signer=self.writer
            )
        except (ConcurrencyError, DuplicateEventError) as exc:
            # The stream is ahead of the workflow. When it is this workflow's own earlier attempt (its
            # task died after the commit), hand the stored events back for the workflow to adopt.
            # (read so that an entry that is not even a readable event is still seen, as a foreign one)
            stored = await read_records(
                self.log, request.stream_id, after_version=request.expected_version or 0
            )
            if request.expected_version is None or not stored:
                # Events are missing: going on would make the workflow and the log disagree.
                raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
            foreign = self._foreign(stored, request.stream_id)
            if foreign:
                # Someone appended to this stream without the writer key (or another workflow did):
                # never adopt it. The workflow refuses inputs until an operator disowns it.
                log.error(
                    "the stream holds events this engagement did not write",
                    engagement_id=request.stream_id,
                    positions=[f.position for f in foreign],
                )
                raise ApplicationError(
                    foreign[0].sentence(), *foreign, type=FOREIGN_EVENT_ERROR, non_retryable=True
                ) from exc
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

    def _foreign(self, stored: list[RecordedEvent], engagement_id: str) -> list[ForeignEvent]:
        """The stored events this engagement's workflow did not write: without a valid signature by
        this installation's writers, or written for another workflow. Only the others may be adopted
        (they are what a lost task of this workflow committed)."""
        found = []
        for event in stored:
            why = check_writer(event.entry, self.writers)
            if why is None and (
                event.metadata.get("workflow_id") != engagement_id or event.correlation_id != engagement_id
            ):
                why = "it was written for another workflow"
            if why is not None:
                found.append(
                    ForeignEvent(
                        position=event.position,
                        stream_version=event.stream_version,
                        event_id=event.event_id,
                        type=event.type,
                        why=why,
                    )
                )
        return found
