"""Errors raised by the event log, each saying what was wrong and what to do."""

from __future__ import annotations


class EventLogError(RuntimeError):
    """Base class for every event log error."""


class ConcurrencyError(EventLogError):
    """The stream moved on since the caller read it (optimistic concurrency)."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not the expected {expected}; "
            "re-read the stream and decide again"
        )


class DuplicateEventError(EventLogError):
    """An event id is stored already, but with different content or alongside new events."""


class IntegrityError(EventLogError):
    """Verification found the log altered, or a proof or checkpoint that does not hold."""


def error_for(
    sqlstate: str | None, message: str, detail: str | None, stream_id: str, expected: int | None
) -> EventLogError | None:
    """The event log's own error for an append the database refused with ``sqlstate`` (and its message
    and detail); ``None`` when the refusal is not one of ours (the caller raises the database's)."""
    if sqlstate == "CP001" and detail is not None:
        return ConcurrencyError(stream_id, expected if expected is not None else -1, int(detail))
    if sqlstate in ("CP002", "23505"):
        return DuplicateEventError(message)
    if sqlstate in ("42883", "3F000"):
        return EventLogError("the event log's tables are missing: run `coproduce db migrate` first")
    return None
