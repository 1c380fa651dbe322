"""Whether an engagement's log agrees with its workflow: the one check of the central invariant.

The design's invariant is that, for every engagement, folding its events in the log gives the state the
workflow's ``status`` query returns, and the log holds as many events as the workflow's stream version.
Each accepted update's events are in the log exactly once, at the positions the update reported.

This module is the single implementation of those checks, used by the auditor's comparison with the
live workflow (``live.compare``), the demo, the tests' invariants, the fault harness and the soak:

- ``fold_differences(events, status)``: where the fold of the log and the workflow's state differ, as
  paths (``gates[widen].status``), preceded by ``stream_version (...)`` when the log's length differs;
- ``updates_logged_once(events, results)``: each problem with the accepted updates' events, a sentence;
- ``described(differences)``: the differences in a line, for a message.

Events may carry their personal text sealed: the fold reads what the domain can read without keys
(sealed text shows as withheld, as it does to an auditor), which changes nothing in the state, since
the state holds no personal free text. Events already decoded (``DecodedEvent``) are folded as they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from domain.differences import differing_paths
from domain.engagement import EngagementState
from eventlog import RecordedEvent
from workflows.messages import UpdateResult

from .history import DecodedEvent, decode, state_as_of


class FoldedStatus(Protocol):
    """What the workflow says of an engagement: ``EngagementStatus`` (the query, or the final result)."""

    @property
    def state(self) -> EngagementState: ...

    @property
    def stream_version(self) -> int: ...


def fold_log(events: Iterable[RecordedEvent | DecodedEvent]) -> EngagementState:
    """The state the events fold to, their sealed text read as withheld."""
    return state_as_of(_decoded(events))


def fold_differences(events: Sequence[RecordedEvent | DecodedEvent], status: FoldedStatus) -> list[str]:
    """Where the log (one engagement's events, in order) and the workflow's ``status`` disagree: the
    sorted paths at which the fold of the events differs from ``status.state``, preceded by
    ``stream_version (...)`` when the log's length is not the workflow's stream version. Empty when they
    agree."""
    differences = []
    if len(events) != status.stream_version:
        differences.append(
            f"stream_version (the log holds {len(events)} events, the workflow's stream version is "
            f"{status.stream_version})"
        )
    folded = fold_log(events).model_dump(mode="json")
    return differences + differing_paths(folded, status.state.model_dump(mode="json"))


def updates_logged_once(
    events: Sequence[RecordedEvent | DecodedEvent], results: Iterable[UpdateResult]
) -> list[str]:
    """What is wrong with how the accepted updates (``results``) are logged in ``events``, one sentence
    each: every update's events must be in the log exactly once (as many events carry its id as
    causation as it reported), at the positions it reported, with the types it reported; no event id
    may appear twice. Empty when all is well."""
    records = [_record(e) for e in events]
    by_cause = Counter(e.causation_id for e in records)
    at = {e.position: e for e in records}
    problems = []
    for result in results:
        logged = by_cause[result.update_id]
        if logged != len(result.events):
            problems.append(
                f"update {result.update_id} reported {len(result.events)} events, the log holds {logged} "
                "caused by it"
            )
        found = [at[p].type if p in at else None for p in result.positions]
        if found != result.events:
            problems.append(
                f"update {result.update_id} reported {result.events} at positions {result.positions}, "
                f"the log holds {found} there"
            )
        elsewhere = [p for p in result.positions if p in at and at[p].causation_id != result.update_id]
        if elsewhere:
            problems.append(
                f"update {result.update_id} reported positions {elsewhere}, whose events another input caused"
            )
    repeated = [str(i) for i, n in Counter(e.event_id for e in records).items() if n > 1]
    if repeated:
        problems.append(f"event ids appear more than once in the log: {', '.join(repeated[:5])}")
    return problems


def described(differences: Sequence[str], limit: int = 5) -> str:
    """``differences`` in a line: the first ``limit``, then how many more."""
    shown = ", ".join(differences[:limit])
    more = len(differences) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _record(event: RecordedEvent | DecodedEvent) -> RecordedEvent:
    return event.record if isinstance(event, DecodedEvent) else event


def _decoded(events: Iterable[RecordedEvent | DecodedEvent]) -> Iterator[DecodedEvent]:
    for event in events:
        yield event if isinstance(event, DecodedEvent) else decode([event])[0]
