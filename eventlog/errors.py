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
