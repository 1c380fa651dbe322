"""An engagement's history read from the log alone: its events, its state on any date, its timeline.

Nothing here asks Temporal or the people who ran the engagement anything. The events come from the
event log (through the auditors' read-only view), are upcast and validated by the domain catalogue,
and folded by the same pure ``apply`` the workflow uses, so what an auditor sees is what the rules
make of the record, not what somebody's screen said at the time.

Only the engagement's own events are folded. An event in its stream that its workflow did not write
(appended with a database login but without the installation's writer key, see
``eventlog.writers``) is *foreign*: it is shown, as such, but never folded, whether or not an operator
has disowned it yet. An event that cannot be read or replayed is reported in one sentence naming its
position (``UnreadableRecord``), never as a traceback.

The timeline has one entry per event, in the order they were recorded, each with what a reader needs
to judge it: when it happened (``occurred_at``, workflow time) and when it was written (``recorded_at``,
the database clock), who acted, in which constituency, whether a voter was authorised at that moment
(trained and unexpired, as the rules saw it then), the choice or outcome, the reason given, and a
sentence saying what happened.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from domain.engagement import EMPTY_STATE, EngagementState
from domain.errors import DomainError, RecordError
from domain.events import (
    AssessmentRecorded,
    AuthorisationExpired,
    AuthorisationGranted,
    BaselineRecorded,
    ChangeCosigned,
    ChangeDeclined,
    ChangeProposed,
    CheckInRecorded,
    CohortWidened,
    ConsentWithdrawn,
    ContributionLogged,
    DecisionRecorded,
    EngagementCompleted,
    EngagementPaused,
    EngagementResumed,
    EngagementStarted,
    EvaluationStrategyAgreed,
    Event,
    FollowUpReviewed,
    FollowUpStarted,
    GateDecided,
    GateEscalated,
    GateOpened,
    LawfulBasisRecorded,
    MeasurementRecorded,
    MilestoneDue,
    OutputRecorded,
    PaceHoldRecorded,
    PaceHoldReleased,
    PaceOverridden,
    ParticipantJoined,
    PauseRequested,
    PhaseCompleted,
    PhaseStarted,
    PlanAmended,
    RecognitionPaid,
    ReminderSent,
    RungChanged,
    SessionHeld,
    TrainingCompleted,
    VoteCast,
    event_from_record,
)
from domain.events.incidents import EventDisowned
from domain.state import apply
from eventlog import AUDITOR_ROLE, EventLog, RecordedEvent, UpcasterRegistry, Verifier
from eventlog.writers import SIGNED_MARKER, check_writer, is_signed

from ..errors import NotFound, UserError
from ..privacy.records import ENTERED_REASON
from ..privacy.sealing import open_text
from .disclosure import Disclosure, relabel


class UnreadableRecord(UserError):
    """An event of the engagement that the domain cannot read or replay; the message names its position."""


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """One event as the log holds it (position, times, hashes) and as the domain reads it.

    ``foreign`` says why the engagement's workflow did not write it (then it is never folded, and
    ``event`` is None when the domain cannot read it either)."""

    record: RecordedEvent
    event: Event
    foreign: str | None = None
    how: str | None = None  # how the input that recorded it reached the engagement, in words


async def open_log(database_url: str) -> EventLog:
    """The log, read as the read-only auditor role when this login may take it (SET ROLE), else as the
    login: a login limited to one organisation reads that organisation's rows only."""
    try:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            row = await (
                await conn.execute("SELECT pg_has_role(current_user, %s, 'SET')", (AUDITOR_ROLE,))
            ).fetchone()
    except psycopg.errors.UndefinedObject:  # the roles do not exist: the log was never migrated
        raise UserError(
            "the event log is not set up in this database; run `coproduce db migrate` first"
        ) from None
    role = AUDITOR_ROLE if row and row[0] else None
    return await EventLog.open(database_url, role=role, min_size=1, max_size=2)


def decode(
    records: Iterable[RecordedEvent],
    disclosure: Disclosure | None = None,
    writers: Mapping[str, Verifier] | None = None,
    *,
    stream_id: str | None = None,
    signed_from: int | None = None,
) -> list[DecodedEvent]:
    """Pair each stored event with its domain event (upcast from older schema versions), its personal
    text opened as far as ``disclosure`` allows (withheld without one).

    Foreign events are marked: when ``writers`` (trusted writer keys by name) are given, those without
    a valid signature by one of them; those an ``event_disowned`` names (with ``writers``, only one
    they signed: a forged disowning must not hide a real event); and those whose bytes name another
    stream than ``stream_id``. Events before ``signed_from`` (the log's first signed position; without
    it, the stream's first signed event) were written before writers signed and are read as they are."""
    shown = disclosure or Disclosure()
    records = list(records)
    decoded = []
    signed_seen = False
    checked: dict[int, str | None] = {}
    for record in records:
        if signed_from is not None:
            signed_seen = record.position >= signed_from
        else:
            signed_seen = signed_seen or is_signed(record.entry)
        if writers is not None and signed_seen:
            checked[record.position] = check_writer(record.entry, writers)
    disowned = _disowned([r for r in records if checked.get(r.position) is None])
    for record in records:
        foreign = checked.get(record.position)
        if foreign is None and stream_id is not None and record.stream_id != stream_id:
            foreign = f"its bytes name another stream, {record.stream_id!r}"
        if foreign is None and record.position in disowned:
            foreign = "it was disowned as an event this engagement did not write"
        try:
            event = event_from_record(record.type, record.schema_version, shown.payload(record))
        except (RecordError, ValueError, TypeError, KeyError) as exc:
            if foreign is None:
                raise UnreadableRecord(
                    f"FAILED at position {record.position}: the event cannot be read ({_first_line(exc)})"
                ) from None
            event = None
        how = how_entered(record.metadata.get("entered"), record.actor, record.event_id, shown.keys)
        decoded.append(DecodedEvent(record, event, foreign, how))  # type: ignore[arg-type]
    return decoded


def _disowned(records: list[RecordedEvent]) -> set[int]:
    """Positions that ``event_disowned`` records in the stream name (each one earlier than itself)."""
    found = set()
    for record in records:
        if record.type == EventDisowned.TYPE:
            position = record.payload.get("position")
            if isinstance(position, int) and position < record.position:
                found.add(position)
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def foreign_events(history: Iterable[DecodedEvent]) -> list[DecodedEvent]:
    """The events of the history that the engagement's workflow did not write."""
    return [item for item in history if item.foreign is not None]


async def load(
    log: EventLog,
    engagement_id: str,
    disclosure: Disclosure | None = None,
    writers: Mapping[str, Verifier] | None = None,
) -> list[DecodedEvent]:
    """Every event of one engagement, in order (foreign ones marked); a clear error when the log has none.

    With ``writers``, every event from the log's first signed one on must carry a valid signature: an
    event appended later without one is foreign, even in a stream of its own that was never signed."""
    signed_from = await first_signed_position(log) if writers is not None else None
    records = await read_records(log, engagement_id)
    history = decode(records, disclosure, writers, stream_id=engagement_id, signed_from=signed_from)
    if not history:
        raise NotFound(
            f"the event log has no engagement '{engagement_id}'; "
            "`coproduce engagement list` shows engagements, or check COPRODUCE_DATABASE_URL"
        )
    return history


async def first_signed_position(log: EventLog) -> int | None:
    """The log's first position whose entry carries a writer signature (None: none does yet). Events
    before it were written before writers signed; nothing can be inserted before it later."""
    async with log.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT min(position) FROM eventlog.audit_events WHERE position(%s::bytea IN entry) > 0",
            (SIGNED_MARKER,),
        )
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


_READ_STREAM = (
    "SELECT position, stream_version, recorded_at, entry, leaf_hash, chain_hash, event_id, event_type, "
    "schema_version, occurred_at FROM eventlog.audit_events WHERE stream_id = %s AND stream_version > %s "
    "ORDER BY stream_version"
)


async def read_records(log: EventLog, stream_id: str, *, after_version: int = 0) -> list[RecordedEvent]:
    """A stream's events (after ``after_version``) as ``EventLog.read_stream`` reads them, except that
    an entry whose bytes are not a readable event (not JSON, fields missing or of the wrong kind: only
    ever appended around the writers) is still returned, read from the columns the database keeps
    beside it, with no payload and no metadata. Its writer check then says it is foreign."""
    async with log.pool.connection() as conn:
        return await read_records_on(conn, stream_id, log.upcasters, after_version=after_version)


async def read_records_on(
    conn: psycopg.AsyncConnection[Any],
    stream_id: str,
    upcasters: UpcasterRegistry | None,
    *,
    after_version: int = 0,
    up_to_position: int | None = None,
) -> list[RecordedEvent]:
    """``read_records`` on a connection the caller holds (a subscription's batch transaction), up to
    ``up_to_position`` when given."""
    rows = await (await conn.execute(_READ_STREAM, (stream_id, after_version))).fetchall()
    return [
        _record(row, stream_id, upcasters)
        for row in rows
        if up_to_position is None or row[0] <= up_to_position
    ]


def _record(row: tuple[Any, ...], stream_id: str, upcasters: UpcasterRegistry | None) -> RecordedEvent:
    position, version, recorded_at, entry, leaf, chain, event_id, event_type, schema_version, occurred = row
    entry, stored = bytes(entry), {
        "position": position, "stream_version": version, "recorded_at": recorded_at,
        "leaf_hash": bytes(leaf), "chain_hash": bytes(chain),
    }  # fmt: skip
    try:
        doc = json.loads(entry)
        kind, schema, payload, metadata = doc["type"], doc["schema_version"], doc["payload"], doc["metadata"]
        moment = datetime.fromisoformat(doc["occurred_at"])
        if not (isinstance(kind, str) and isinstance(schema, int) and isinstance(payload, dict)):
            raise TypeError("an event entry needs a type, a schema version and a payload object")
        if not isinstance(metadata, dict) or not isinstance(doc["stream_id"], str) or moment.tzinfo is None:
            raise TypeError("an event entry needs a stream id, metadata and an aware time")
        if upcasters:
            schema, payload = upcasters.upcast(kind, schema, payload)
        return RecordedEvent(
            **stored, entry=entry, stream_id=doc["stream_id"], event_id=uuid.UUID(doc["event_id"]), type=kind,
            schema_version=schema, payload=payload, metadata=metadata, occurred_at=moment,
        )  # fmt: skip
    except (ValueError, TypeError, KeyError, AttributeError, DomainError):
        return RecordedEvent(
            **stored, entry=entry, stream_id=stream_id, event_id=event_id, type=event_type,
            schema_version=schema_version, payload={}, metadata={}, occurred_at=occurred,
        )  # fmt: skip


def state_as_of(history: Iterable[DecodedEvent], as_of: datetime | None = None) -> EngagementState:
    """The engagement exactly as it stood at ``as_of`` (occurred time): the fold of what had happened."""
    state = EMPTY_STATE
    for item in history:
        if item.foreign is not None:
            continue  # never folded
        if as_of is not None and item.event.occurred_at > as_of:
            break  # events are in order of occurrence within a stream (apply refuses time going back)
        state = _applied(state, item)
    return state


def _applied(state: EngagementState, item: DecodedEvent) -> EngagementState:
    """``apply``, with an event the rules refuse reported in one sentence naming its position."""
    try:
        return apply(state, item.event)
    except DomainError as exc:
        raise UnreadableRecord(
            f"FAILED at position {item.record.position}: the event cannot be replayed ({exc})"
        ) from None


@dataclass(slots=True)
class TimelineEntry:
    """One line of the decision history."""

    position: int
    stream_version: int
    occurred_at: datetime
    recorded_at: datetime
    event: str
    what: str
    phase_id: str | None = None
    person_id: str | None = None
    constituency: str | None = None
    authorised: bool | None = None
    not_counted_reason: str | None = None
    choice: str | None = None
    reason: str | None = None
    how: str | None = None  # how the input reached the engagement: channel, sign-in, who entered it and why
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        data["recorded_at"] = self.recorded_at.isoformat()
        return data


CSV_COLUMNS = (
    "position", "stream_version", "occurred_at", "recorded_at", "event", "phase_id", "person_id",
    "constituency", "authorised", "not_counted_reason", "choice", "reason", "how", "what",
)  # fmt: skip


def timeline(
    history: Iterable[DecodedEvent], as_of: datetime | None = None, labels: Mapping[str, str] | None = None
) -> Iterator[TimelineEntry]:
    """The decision history, one entry per event, folding as it goes (so each entry sees the state the
    rules saw when it happened). Stops at ``as_of`` (occurred time) when given. People in ``labels``
    (the forgotten) are shown by their label instead of their id."""
    state = EMPTY_STATE
    for item in history:
        if item.foreign is not None:  # shown, never folded
            if as_of is None or item.record.occurred_at <= as_of:
                yield _foreign_entry(item)
            continue
        event = item.event
        if as_of is not None and event.occurred_at > as_of:
            return
        state = _applied(state, item)
        record = item.record
        entry = TimelineEntry(
            position=record.position,
            stream_version=record.stream_version,
            occurred_at=event.occurred_at,
            recorded_at=record.recorded_at,
            event=record.type,
            what=record.type.replace("_", " "),
            person_id=record.actor if record.actor != "coproduce" else None,
            how=item.how,
        )
        _describe(entry, event, state)
        if labels:
            entry.how = entry.how and relabel(entry.how, labels)
            entry.what = relabel(entry.what, labels)
            entry.person_id = labels.get(entry.person_id or "", entry.person_id)
            entry.not_counted_reason = entry.not_counted_reason and relabel(entry.not_counted_reason, labels)
            entry.reason = entry.reason and relabel(entry.reason, labels)
            entry.detail = _relabelled(entry.detail, labels)
        yield entry


_SIGNED_IN = {
    "sign_in_link": "signed in with a sign-in link",
    "one_time_code": "signed in with a one-time code",
    "passkey": "signed in with a passkey",
}
_WHERE = {"web": "on the web", "cli": "on the command line"}


def how_entered(
    entered: Any, acting: str | None, event_id: Any, keys: Mapping[str, bytes] | None
) -> str | None:
    """How an input reached the engagement, in words, from the event's ``entered`` metadata ("sent on
    the web, signed in with a passkey"; "entered by f01 for t01 on the command line: by phone"); None
    for an event that no input recorded, or one recorded before this was kept. An assisted input's
    reason is opened as far as ``keys`` allow."""
    if not isinstance(entered, dict):
        return None
    channel, authentication = entered.get("channel"), entered.get("authentication")
    if channel not in _WHERE:
        return "sent through another Temporal client, unauthenticated: nobody vouches for who sent it"
    where = _WHERE[channel]
    by = entered.get("entered_by")
    if by and acting and by != acting:
        reason = entered.get("reason")
        said = open_text(reason, keys, event_id, ENTERED_REASON) if isinstance(reason, str) else "(no reason)"
        how = f" ({_SIGNED_IN[authentication]})" if authentication in _SIGNED_IN else ""
        return f"entered by {by}{how} for {acting} {where}: {said}"
    if authentication in _SIGNED_IN:
        return f"sent {where}, {_SIGNED_IN[authentication]}"
    return f"entered {where} by {by}, with an operator's account"


def _foreign_entry(item: DecodedEvent) -> TimelineEntry:
    """The timeline's line for an event the engagement's workflow did not write."""
    record = item.record
    return TimelineEntry(
        position=record.position,
        stream_version=record.stream_version,
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
        event=record.type,
        what=(
            f"FOREIGN EVENT at position {record.position} ({record.type}): not written by this "
            f"engagement ({item.foreign}); it is not counted"
        ),
        choice="foreign",
        detail={"foreign": item.foreign},
    )


def _describe(entry: TimelineEntry, event: Event, after: EngagementState) -> None:
    """Fill in the entry's particulars for the kind of event it is (``after``: the state it led to)."""
    entry.phase_id = event.__dict__.get(
        "phase_id"
    )  # not getattr: pydantic raises (slowly) for a missing field
    describe = DESCRIBERS.get(type(event))
    if describe is not None:
        describe(entry, event, after)


# --- one describer per event type, in the order of the catalogue (domain.events.EVENT_CLASSES) ----------------


def _engagement_started(entry: TimelineEntry, event: EngagementStarted, after: EngagementState) -> None:
    entry.person_id = event.started_by
    entry.detail = {"plan_sha256": event.plan_sha256}
    entry.what = f"engagement started by {event.started_by}: {event.plan.title}"


def _plan_amended(entry: TimelineEntry, event: PlanAmended, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.amended_by, event.reason
    entry.detail = {"changes": [c.model_dump(mode="json") for c in event.changes]}
    cosigned = _cosigned(event.change_id, event.cosigned_by)
    entry.what = f"plan amended by {event.amended_by}{cosigned}: " + "; ".join(
        _change(c) for c in event.changes
    )


def _cosigned(change_id: str | None, cosigned_by: tuple[str, ...]) -> str:
    """ " (change c-1, co-signed by a and b)" for a co-signed change, nothing for any other."""
    if change_id is None:
        return ""
    return f" (change {change_id}, co-signed by {' and '.join(cosigned_by)})"


def _change_proposed(entry: TimelineEntry, event: ChangeProposed, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.proposed_by, event.reason
    entry.constituency = _constituency(after, event.proposed_by)
    needs = " and ".join(f"{n} {c.replace('_', ' ')}" for c, n in event.needs.items())
    entry.detail = {"change_id": event.change_id, "kind": event.kind, "needs": dict(event.needs)}
    if event.kind == "amendment":
        entry.detail["weakens"] = list(event.weakens)
        what = "an amendment that weakens the engagement (" + "; ".join(event.weakens) + ")"
    else:
        what = f"an override of the pace hold on {event.phase_id}"
    entry.what = (
        f"{event.proposed_by} proposed {what} as change {event.change_id}; it needs {needs} to co-sign"
    )


def _change_cosigned(entry: TimelineEntry, event: ChangeCosigned, after: EngagementState) -> None:
    entry.person_id, entry.choice = event.person_id, "co-sign"
    entry.constituency = _constituency(after, event.person_id)
    entry.detail = {"change_id": event.change_id}
    entry.what = f"{event.person_id} ({entry.constituency}) co-signed change {event.change_id}"


def _change_declined(entry: TimelineEntry, event: ChangeDeclined, after: EngagementState) -> None:
    entry.person_id, entry.choice, entry.reason = event.person_id, "decline", event.reason
    entry.constituency = _constituency(after, event.person_id)
    entry.detail = {"change_id": event.change_id}
    entry.what = f"{event.person_id} declined change {event.change_id}: it will not happen"


def _pause_requested(entry: TimelineEntry, event: PauseRequested, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.requested_by, event.reason
    entry.constituency = _constituency(after, event.requested_by)
    entry.what = f"{event.requested_by} asked the facilitators to pause the engagement"


def _engagement_paused(entry: TimelineEntry, event: EngagementPaused, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.paused_by, event.reason
    entry.what = f"engagement paused by {event.paused_by}"


def _engagement_resumed(entry: TimelineEntry, event: EngagementResumed, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.resumed_by, event.reason
    entry.what = f"engagement resumed by {event.resumed_by}"


def _follow_up_started(entry: TimelineEntry, event: FollowUpStarted, after: EngagementState) -> None:
    entry.detail = {"until": event.until.isoformat()}
    entry.what = (
        f"all {len(after.phases)} phases done; follow-up until {event.until.date().isoformat()}, "
        "to see whether the change lasts"
    )


def _follow_up_reviewed(entry: TimelineEntry, event: FollowUpReviewed, after: EngagementState) -> None:
    entry.detail = {
        "milestone_id": event.milestone_id,
        "new_decision_makers": list(event.new_decision_makers),
        "still_authorised": list(event.still_authorised),
        "still_active": list(event.still_active),
    }
    entry.what = (
        f"follow-up {event.milestone_id}: of {len(event.new_decision_makers)} new decision makers, "
        f"{len(event.still_authorised)} still authorised and {len(event.still_active)} still taking part"
    )


def _engagement_completed(entry: TimelineEntry, event: EngagementCompleted, after: EngagementState) -> None:
    followed = " and the follow-up" if after.follow_up_started_at is not None else ""
    entry.what = f"engagement completed: all {len(after.phases)} phases done{followed}"


def _assessment_recorded(entry: TimelineEntry, event: AssessmentRecorded, after: EngagementState) -> None:
    entry.person_id = event.recorded_by
    entry.detail = {
        "oric_commitment_mean": event.oric.commitment_mean,
        "oric_efficacy_mean": event.oric.efficacy_mean,
    }
    entry.what = (
        f"organisational assessment recorded (ORIC change commitment {event.oric.commitment_mean:.2f}, "
        f"change efficacy {event.oric.efficacy_mean:.2f})"
    )


def _evaluation_strategy_agreed(
    entry: TimelineEntry, event: EvaluationStrategyAgreed, after: EngagementState
) -> None:
    entry.detail = {"agreed_by": list(event.agreed_by)}
    entry.what = f"evaluation strategy agreed by {', '.join(event.agreed_by)}"


def _measurement(
    entry: TimelineEntry, event: BaselineRecorded | MeasurementRecorded, after: EngagementState
) -> None:
    entry.person_id, entry.reason = event.recorded_by, event.note
    milestone = getattr(event, "milestone_id", None)
    entry.detail = {"indicator": event.indicator, "value": event.value, "milestone_id": milestone}
    kind = "baseline" if isinstance(event, BaselineRecorded) else "measurement"
    entry.what = f"{kind} of {event.indicator}: {event.value:g}" + (
        f" (milestone {milestone})" if milestone else ""
    )


def _milestone_due(entry: TimelineEntry, event: MilestoneDue, after: EngagementState) -> None:
    entry.detail = {"milestone_id": event.milestone_id}
    entry.what = f"evaluation milestone {event.milestone_id} fell due"


def _participant_joined(entry: TimelineEntry, event: ParticipantJoined, after: EngagementState) -> None:
    entry.person_id, entry.constituency = event.person_id, event.constituency
    entry.what = f"{event.person_id} joined as {event.constituency.replace('_', ' ')} ({event.cohort} cohort)"


def _lawful_basis_recorded(entry: TimelineEntry, event: LawfulBasisRecorded, after: EngagementState) -> None:
    entry.person_id, entry.constituency = event.person_id, _constituency(after, event.person_id)
    entry.detail = {"basis": event.basis, "recorded_by": event.recorded_by}
    entry.what = (
        f"{event.person_id}'s data is processed on the lawful basis of {event.basis.replace('_', ' ')}"
    )


def _consent_withdrawn(entry: TimelineEntry, event: ConsentWithdrawn, after: EngagementState) -> None:
    entry.person_id, entry.constituency = event.person_id, _constituency(after, event.person_id)
    entry.detail = {"recorded_by": event.recorded_by}
    entry.what = (
        f"{event.person_id} withdrew their consent: nothing more is asked of them or recorded from them"
    )


def _cohort_widened(entry: TimelineEntry, event: CohortWidened, after: EngagementState) -> None:
    entry.person_id = event.widened_by
    entry.what = f"the group widened to the wider cohort, in {event.phase_id}"


def _training_completed(entry: TimelineEntry, event: TrainingCompleted, after: EngagementState) -> None:
    entry.person_id = event.person_id
    entry.detail = {"module_id": event.module_id}
    entry.what = f"{event.person_id} completed training module {event.module_id}"


def _authorisation_granted(entry: TimelineEntry, event: AuthorisationGranted, after: EngagementState) -> None:
    entry.person_id = event.person_id
    until = f" until {event.expires_at:%Y-%m-%d}" if event.expires_at else ""
    entry.detail = {
        "module_id": event.module_id,
        "expires_at": event.expires_at and event.expires_at.isoformat(),
    }
    entry.what = f"{event.person_id} authorised for {event.module_id}{until}"


def _authorisation_expired(entry: TimelineEntry, event: AuthorisationExpired, after: EngagementState) -> None:
    entry.person_id = event.person_id
    entry.what = f"{event.person_id}'s authorisation for {event.module_id} expired"


def _phase_started(entry: TimelineEntry, event: PhaseStarted, after: EngagementState) -> None:
    entry.what = f"phase {event.phase_id} started"


def _phase_completed(entry: TimelineEntry, event: PhaseCompleted, after: EngagementState) -> None:
    entry.what = f"phase {event.phase_id} completed"


def _session_held(entry: TimelineEntry, event: SessionHeld, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.recorded_by, event.notes
    entry.detail = {
        "session_id": event.session_id,
        "activity_type": event.activity_type,
        "attendees": len(event.attendee_ids),
        "minutes": event.duration_minutes,
    }
    entry.what = (
        f"{event.activity_type.replace('_', ' ')} session {event.session_id} held in {event.phase_id}: "
        f"{len(event.attendee_ids)} attended"
    )


def _gate_escalated(entry: TimelineEntry, event: GateEscalated, after: EngagementState) -> None:
    entry.what = f"gate {event.phase_id} escalated: pending longer than the plan allows"


def _gate_opened(entry: TimelineEntry, event: GateOpened, after: EngagementState) -> None:
    quorum = ", ".join(f"{n} {c}" for c, n in event.policy.quorum.items())
    entry.person_id = event.requested_by
    entry.detail = {
        "round": event.round,
        "method": event.policy.method,
        "quorum": dict(event.policy.quorum),
        "roster": [r.person_id for r in event.roster],
    }
    entry.what = (
        f"gate {event.phase_id} opened, round {event.round}: {event.policy.method}"
        f"{'; needs ' + quorum if quorum else ''}; {len(event.roster)} on the roster"
    )


def _vote_cast(entry: TimelineEntry, event: VoteCast, after: EngagementState) -> None:
    vote = after.gates[event.phase_id].votes[event.person_id]
    entry.person_id, entry.constituency = event.person_id, vote.constituency
    entry.authorised, entry.not_counted_reason = vote.counted, vote.not_counted_reason
    entry.choice, entry.reason = event.choice, event.reason
    counted = "" if vote.counted else f" (not counted: {vote.not_counted_reason})"
    entry.what = (
        f"{event.person_id} ({vote.constituency}) voted {event.choice} on gate {event.phase_id}, "
        f"round {event.round}{counted}"
    )


def _gate_decided(entry: TimelineEntry, event: GateDecided, after: EngagementState) -> None:
    gate = after.gates[event.phase_id]
    counts: dict[str, dict[str, int]] = {}
    for vote in gate.votes.values():
        if vote.counted:
            row = counts.setdefault(vote.constituency, {"approve": 0, "object": 0, "abstain": 0})
            row[vote.choice] += 1
    entry.person_id, entry.choice, entry.reason = event.decided_by, event.outcome, event.reason
    entry.detail = {"round": event.round, "counted_votes": counts}
    entry.what = f"gate {event.phase_id} round {event.round} {event.outcome}" + (
        f" by {event.decided_by}" if event.decided_by else ""
    )


def _check_in_recorded(entry: TimelineEntry, event: CheckInRecorded, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.person_id, event.note
    entry.constituency = _constituency(after, event.person_id)
    entry.detail = {"comfort": event.comfort}
    entry.what = f"{event.person_id} checked in: comfort {event.comfort}"


def _pace_hold_recorded(entry: TimelineEntry, event: PaceHoldRecorded, after: EngagementState) -> None:
    entry.choice, entry.reason = "held", "; ".join(event.waiting_for)
    entry.detail = {"comfort_average": event.comfort_average}
    entry.what = f"pace hold on {event.phase_id}: waiting for {entry.reason}"


def _pace_hold_released(entry: TimelineEntry, event: PaceHoldReleased, after: EngagementState) -> None:
    entry.what = f"pace hold on {event.phase_id} released"


def _pace_overridden(entry: TimelineEntry, event: PaceOverridden, after: EngagementState) -> None:
    entry.person_id, entry.choice, entry.reason = event.overridden_by, "override", event.reason
    cosigned = _cosigned(event.change_id, event.cosigned_by)
    scope = f" for round {event.round} of its gate" if event.round is not None else ""
    entry.what = f"pace hold on {event.phase_id} overridden by {event.overridden_by}{cosigned}{scope}"


def _reminder_sent(entry: TimelineEntry, event: ReminderSent, after: EngagementState) -> None:
    entry.detail = {"kind": event.kind, "reference": event.reference, "people": len(event.person_ids)}
    told = len(event.person_ids)
    who = f"reminded {told} {'person' if told == 1 else 'people'}" if told else "reminder due"
    entry.what = f"{who}: {_REMINDED.get(event.kind, event.kind.replace('_', ' '))}" + (
        f" ({event.reference})" if event.reference else ""
    )


_REMINDED = {
    "check_in": "check in",
    "gate_vote": "decide the open gate",
    "gate_waiting": "the gate still waits for their decision",
    "training_renewal": "renew training",
    "milestone": "record the milestone's measurements",
}


def _rung_changed(entry: TimelineEntry, event: RungChanged, after: EngagementState) -> None:
    entry.detail = {
        "area_id": event.area_id,
        "from": event.from_rung,
        "to": event.to_rung,
        "agreed_by": list(event.agreed_by),
    }
    entry.what = (
        f"decision area {event.area_id} moved from {event.from_rung} to {event.to_rung}, "
        f"agreed by {', '.join(event.agreed_by)}"
    )


def _output_recorded(entry: TimelineEntry, event: OutputRecorded, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.recorded_by, event.summary or event.title
    groups = after.outputs[event.output_id].stages[-1].constituencies
    entry.detail = {
        "output_id": event.output_id,
        "kind": event.kind,
        "stage": event.stage,
        "took_part": list(event.took_part),
        "constituencies": list(groups),
    }
    entry.what = (
        f"{event.kind.replace('_', ' ')} {event.output_id} {event.stage.replace('_', ' ')}, "
        f"{len(event.took_part)} took part ({', '.join(g.replace('_', ' ') for g in groups)})"
    )


def _decision_recorded(entry: TimelineEntry, event: DecisionRecorded, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.recorded_by, event.summary
    entry.detail = {
        "decision_id": event.decision_id,
        "area_id": event.area_id,
        "decided_on": event.decided_on.isoformat(),
        "rung": event.rung,
        "took_part": list(event.took_part),
    }
    entry.what = (
        f"decision {event.decision_id} in {event.area_id} made on {event.decided_on.isoformat()} "
        f"at {event.rung}, {len(event.took_part)} took part"
    )


def _contribution_logged(entry: TimelineEntry, event: ContributionLogged, after: EngagementState) -> None:
    entry.person_id = event.person_id
    entry.constituency = _constituency(after, event.person_id)
    entry.detail = {"minutes": event.minutes, "expenses_pence": event.expenses_pence}
    entry.what = f"{event.person_id} gave {event.minutes} minutes"


def _recognition_paid(entry: TimelineEntry, event: RecognitionPaid, after: EngagementState) -> None:
    entry.person_id = event.person_id
    entry.detail = {"fee_pence": event.fee_pence, "expenses_pence": event.expenses_pence, "form": event.form}
    entry.what = (
        f"{event.person_id} paid £{event.fee_pence / 100:.2f} ({event.form}) "
        f"and £{event.expenses_pence / 100:.2f} expenses"
    )


def _event_disowned(entry: TimelineEntry, event: EventDisowned, after: EngagementState) -> None:
    entry.person_id, entry.reason = event.disowned_by, event.reason
    entry.detail = {
        "position": event.position,
        "event_id": str(event.event_id),
        "event_type": event.event_type,
    }
    entry.what = (
        f"{event.disowned_by} disowned the foreign event at position {event.position} ({event.event_type}): "
        "the engagement goes on without it"
    )


Describer = Callable[[TimelineEntry, Any, EngagementState], None]

# The timeline's sentence for each event type. tests/domain/test_catalogue.py checks that every type in the
# catalogue has one, and that it says more than the type's name.
DESCRIBERS: dict[type[Event], Describer] = {
    EngagementStarted: _engagement_started,
    PlanAmended: _plan_amended,
    ChangeProposed: _change_proposed,
    ChangeCosigned: _change_cosigned,
    ChangeDeclined: _change_declined,
    PauseRequested: _pause_requested,
    EngagementPaused: _engagement_paused,
    EngagementResumed: _engagement_resumed,
    FollowUpStarted: _follow_up_started,
    FollowUpReviewed: _follow_up_reviewed,
    EngagementCompleted: _engagement_completed,
    AssessmentRecorded: _assessment_recorded,
    EvaluationStrategyAgreed: _evaluation_strategy_agreed,
    BaselineRecorded: _measurement,
    MeasurementRecorded: _measurement,
    MilestoneDue: _milestone_due,
    ParticipantJoined: _participant_joined,
    LawfulBasisRecorded: _lawful_basis_recorded,
    ConsentWithdrawn: _consent_withdrawn,
    CohortWidened: _cohort_widened,
    TrainingCompleted: _training_completed,
    AuthorisationGranted: _authorisation_granted,
    AuthorisationExpired: _authorisation_expired,
    PhaseStarted: _phase_started,
    PhaseCompleted: _phase_completed,
    SessionHeld: _session_held,
    GateEscalated: _gate_escalated,
    GateOpened: _gate_opened,
    VoteCast: _vote_cast,
    GateDecided: _gate_decided,
    CheckInRecorded: _check_in_recorded,
    PaceHoldRecorded: _pace_hold_recorded,
    PaceHoldReleased: _pace_hold_released,
    PaceOverridden: _pace_overridden,
    ReminderSent: _reminder_sent,
    RungChanged: _rung_changed,
    OutputRecorded: _output_recorded,
    DecisionRecorded: _decision_recorded,
    ContributionLogged: _contribution_logged,
    RecognitionPaid: _recognition_paid,
    EventDisowned: _event_disowned,
}


def _relabelled(value: Any, labels: Mapping[str, str]) -> Any:
    """``value`` (an entry's detail) with every string naming a labelled person relabelled."""
    if isinstance(value, str):
        return relabel(value, labels)
    if isinstance(value, dict):
        return {key: _relabelled(item, labels) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_relabelled(item, labels) for item in value]
    return value


def _constituency(state: EngagementState, person_id: str) -> str | None:
    person = state.people.get(person_id)
    return person.constituency if person else None


def _change(change: Any) -> str:
    if change.change == "changed":
        return f"{change.path} {change.before!r} -> {change.after!r}"
    return f"{change.path} {change.change}"


def timeline_csv(entries: Iterable[TimelineEntry]) -> str:
    """The timeline as CSV, one row per entry, for a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = entry.as_json()
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buffer.getvalue()
