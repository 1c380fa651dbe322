"""The auditor's use cases: replay an engagement, see it on a date, verify the log, sign a checkpoint,
export an evidence bundle.

They read the event log alone (as the read-only auditor role where the login allows) and ask Temporal
only to compare the log with a live workflow. The library beneath (``application.audit``) does the
work; these functions open what it needs, in the right order, and refuse what must not happen (a
checkpoint or a bundle over a log that does not verify).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from time import monotonic as time_now
from typing import Any, Literal

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.events import event_to_record
from domain.events.incidents import EventDisowned
from eventlog import (
    WRITER_ROLE,
    CheckpointError,
    DuplicateEventError,
    EventLog,
    Signer,
    Verifier,
    WitnessVerifier,
    checkpoint_database,
    cosignatures,
    open_checkpoint,
    verify_database,
)
from eventlog.merkle import MerkleTree
from eventlog.writers import check_writer, trusted_writers
from workflows.contracts import EventToAppend
from workflows.messages import EngagementStatus
from workflows.status import build_status

from .audit import bundle, disclosure, history, live, witness
from .audit.report import render_report
from .engagements import engagement_status
from .errors import UserError
from .identity import Actor
from .privacy.records import sealed_events
from .services import Services


@dataclass(frozen=True)
class Shown:
    """An engagement's history as one reader may see it, and how its forgotten people are labelled."""

    history: list[history.DecodedEvent]
    labels: dict[str, str]


async def shown(
    services: Services,
    engagement_id: str,
    *,
    personal_text: bool = True,
    writers: list[Verifier] | None = None,
) -> Shown:
    """The engagement's recorded history, personal text opened as far as this reader may, its foreign
    events marked by ``writers`` (default: the installation's writer keys)."""
    trusted = trusted_writers(writers) if writers is not None else services.writers()
    async with services.reader_log() as log:
        seen = await disclosure.disclosure(
            log, services.database_url(), engagement_id, services.master_key(), personal_text=personal_text,
            writers=trusted,
        )  # fmt: skip
        return Shown(await history.load(log, engagement_id, seen, trusted), seen.labels)


async def timeline(
    services: Services, engagement_id: str, as_of: datetime | None = None
) -> list[history.TimelineEntry]:
    """Every decision in order, up to ``as_of`` when given."""
    record = await shown(services, engagement_id)
    return list(history.timeline(record.history, as_of, record.labels))


async def state_on(services: Services, engagement_id: str, as_of: datetime) -> EngagementStatus:
    """The engagement exactly as it stood at ``as_of``: the fold of the log up to then, as a status.

    As the live workflow's status does, it says first of all when the log held, by then, an event the
    engagement did not write that nobody had disowned (foreign events are never folded)."""
    everything = (await shown(services, engagement_id)).history
    recorded = [item for item in everything if item.foreign is None]
    moment = as_of.date().isoformat() if as_of.time() == time.max else as_of.isoformat()
    if not recorded:
        first = history.foreign_events(everything)[0].record.position
        raise UserError(
            f"the log holds no event engagement {engagement_id} wrote, only events it did not write "
            f"(the first at position {first}); see `coproduce audit verify`"
        )
    if recorded[0].event.occurred_at > as_of:
        raise UserError(
            f"engagement {engagement_id} started on {recorded[0].event.occurred_at:%Y-%m-%d}, after {moment}"
        )
    version = sum(1 for item in recorded if item.event.occurred_at <= as_of)
    status = build_status(history.state_as_of(recorded, as_of), as_of, stream_version=version, lead="")
    disowned = {
        item.event.position: item.record.recorded_at
        for item in recorded
        if isinstance(item.event, EventDisowned) and item.event.occurred_at <= as_of
    }
    for item in history.foreign_events(everything):
        record = item.record
        there = record.recorded_at <= as_of or record.occurred_at <= as_of
        if there and record.position not in disowned:
            status.waiting_for.insert(
                0,
                f"the log holds an event this engagement did not write at position {record.position}; "
                "see `coproduce audit verify`",
            )
            break
    return status


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: one line per check, and whether everything held."""

    lines: list[str]
    ok: bool


async def verify(
    services: Services,
    engagement_id: str | None,
    *,
    notes: list[str],
    verifiers: list[Verifier],
    origin: str,
    columns: bool = False,
    writers: list[Verifier] | None = None,
    witnesses: list[WitnessVerifier] | None = None,
) -> Verification:
    """Recompute every hash and the Merkle root, check the signed checkpoints ``notes`` and every
    event's writer signature (``writers``, else the installation's own), and (for an engagement whose
    workflow is reachable) check the log against the workflow."""
    writer_keys = writers if writers is not None else services.load_writer_verifiers()
    report = await verify_database(
        services.database_url(), notes=notes, verifiers=verifiers, origin=origin if notes else None,
        check_columns=columns, writers=writer_keys,
    )  # fmt: skip
    lines = [f"log: {report.summary()}", *(f"note: {n}" for n in report.notes)]
    ok = report.ok
    for problem in witness_problems(notes, witnesses or []):
        ok = False
        lines.append(f"FAILED: {problem}")
    if writer_keys is None:
        lines.append(
            "note: writer signatures were not checked: no writer key here "
            "(pass --writer-key, from `coproduce audit key --writer`)"
        )
    elif report.ok:
        disowned = await disowned_positions(services, trusted_writers(writer_keys))
        for position, why in report.foreign:
            if position in disowned:
                lines.append(
                    f"note: position {position} is a foreign event ({why}); it was disowned by "
                    f"{disowned[position]} and is not counted"
                )
            else:
                ok = False
                lines.append(
                    f"FAILED at position {position}: a foreign event, not written by this installation's "
                    f"writers ({why}); the engagement refuses inputs until a facilitator disowns it "
                    "(`coproduce engagement disown`)"
                )
        if report.unsigned_before:
            lines.append(
                f"note: the first {report.unsigned_before} events were written before writers signed events"
            )
    if engagement_id is not None:
        try:
            recorded = (await shown(services, engagement_id, writers=writer_keys)).history
            history.state_as_of(recorded)
        except history.UnreadableRecord as exc:
            lines.append(f"engagement {engagement_id}: {exc}")
            return Verification(lines, False)
        lines.append(
            f"engagement {engagement_id}: {len(recorded)} events, replayed to status "
            f"{history.state_as_of(recorded).status}"
        )
        comparison = await compare_with_workflow(services, engagement_id, recorded)
        if comparison is None:
            lines.append("workflow: Temporal is not reachable, so the live comparison was skipped")
        else:
            lines.append(f"workflow: {comparison.summary()}")
            lines.extend(f"  also: {p}" for p in comparison.problems[1:])
            lines.extend(f"  note: {n}" for n in comparison.notes)
            ok = ok and comparison.ok
    return Verification(lines, ok)


SETTLE_SECONDS = 30.0  # how long the live comparison waits for an append in flight


async def compare_with_workflow(
    services: Services, engagement_id: str, recorded: list[history.DecodedEvent]
) -> live.LiveComparison | None:
    """Compare the log with the live workflow, or None when Temporal cannot be reached."""
    try:
        temporal = await services.temporal()
    except Exception:  # no Temporal here (an auditor's laptop): the log checks stand on their own
        return None
    handle = temporal.get_workflow_handle(engagement_id)
    try:
        status = await engagement_status(handle)
        # An append in flight is in the log (or about to be) before it is in the status or the history:
        # compare once the workflow has settled.
        deadline = time_now() + SETTLE_SECONDS
        while status.recording and time_now() < deadline:
            await asyncio.sleep(0.1)
            status = await engagement_status(handle)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return live.LiveComparison(problems=[f"Temporal has no workflow for engagement {engagement_id}"])
        raise
    if status.recording:
        return live.LiveComparison(
            problems=[
                f"engagement {engagement_id} was still recording an append after {SETTLE_SECONDS:.0f} s "
                "(is PostgreSQL reachable from its workers?); run the check again once it has settled"
            ]
        )
    return await live.compare(temporal, engagement_id, recorded, status)


async def disowned_positions(services: Services, writers: dict[str, Verifier]) -> dict[int, str]:
    """Positions of foreign events that a facilitator disowned (by a record the installation's own
    writers signed: a forger cannot launder a forgery by disowning it), and who disowned each."""
    found: dict[int, str] = {}
    async with services.reader_log() as log, log.pool.connection() as conn:
        cur = conn.cursor(binary=True)
        await cur.execute(
            "SELECT entry FROM eventlog.audit_events WHERE event_type = %s ORDER BY position",
            (EventDisowned.TYPE,),
        )
        for (entry,) in await cur.fetchall():
            if check_writer(bytes(entry), writers) is None:
                payload = json.loads(bytes(entry))["payload"]
                found[int(payload["position"])] = str(payload["disowned_by"])
    return found


async def _signing_checks(services: Services) -> dict[str, Any]:
    """What a checkpoint must check of writers: their keys, and the foreign events already disowned."""
    writer_keys = services.load_writer_verifiers()
    if writer_keys is None:
        return {}
    disowned = await disowned_positions(services, trusted_writers(writer_keys))
    return {"writers": writer_keys, "accepted_foreign": disowned}


async def checkpoint(services: Services, signer: Signer, origin: str) -> str:
    """Verify the whole log and sign a checkpoint of it (size and Merkle root); the signed note."""
    report, note = await checkpoint_database(
        services.database_url(), signer, origin, role=WRITER_ROLE, **await _signing_checks(services)
    )
    if note is None:
        raise UserError(f"the log does not verify, so no checkpoint was signed: {report.summary()}")
    return note


def witness_problems(notes: list[str], witnesses: list[WitnessVerifier]) -> list[str]:
    """One sentence per (checkpoint, witness) where that witness did not validly cosign it."""
    problems = []
    for index, note in enumerate(notes, start=1):
        which = f"checkpoint {index}" if len(notes) > 1 else "the checkpoint"
        try:
            found = cosignatures(note, witnesses)
        except CheckpointError as exc:
            problems.append(f"{which}: {exc}")
            continue
        for key, at in found.items():
            if at is None:
                name = key.split("+", 1)[0]
                problems.append(
                    f"witness {name} did not cosign {which}: no second party vouches for this root"
                )
    return problems


async def witness_request(services: Services, note: str, old: int, verifiers: list[Verifier]) -> str:
    """The add-checkpoint request a witness needs to cosign ``note`` (signed by this installation), from
    the size ``old`` it last cosigned: the consistency proof is computed from the log as it stands."""
    try:
        checkpoint = open_checkpoint(note, verifiers)
    except CheckpointError as exc:
        raise UserError(f"the checkpoint file is not one this installation signed: {exc}") from None
    if not 0 <= old <= checkpoint.size:
        raise UserError(f"--old {old} is not between 0 and the checkpoint's size {checkpoint.size}")
    async with services.reader_log() as log:
        leaves = await _leaves(log, checkpoint.size)
    if len(leaves) < checkpoint.size:
        raise UserError(f"the log holds {len(leaves)} events, fewer than the checkpoint's {checkpoint.size}")
    tree = MerkleTree(leaves)
    if tree.root() != checkpoint.root:
        raise UserError(
            "the log no longer has the checkpoint's root: it was rewritten; run `coproduce audit verify`"
        )
    proof = tree.consistency_proof(old) if 0 < old < checkpoint.size else []
    return witness.request_text(old, proof, note)


@dataclass(frozen=True)
class Exported:
    events: int
    verification: str


async def export(
    services: Services,
    engagement_id: str,
    out_dir: Path,
    *,
    signer: Signer,
    origin: str,
    personal_text: Literal["redacted", "included"] = "redacted",
) -> Exported:
    """Write an evidence bundle: the events in their hashed bytes, inclusion proofs against a new signed
    checkpoint, the public keys (checkpoint and writers), a README for the auditor and the HTML report.

    Nothing is signed unless the log verifies (chain, checkpoints, and every foreign event disowned)
    and the engagement's events replay: an export that would fail leaves no checkpoint behind."""
    (done,) = await export_engagements(
        services, [(engagement_id, out_dir)], signer=signer, origin=origin, personal_text=personal_text
    )
    return done


async def export_organisation(
    services: Services,
    organisation: str,
    out_dir: Path,
    *,
    signer: Signer,
    origin: str,
    personal_text: Literal["redacted", "included"] = "redacted",
) -> dict[str, Exported]:
    """One evidence bundle per engagement of ``organisation``, each in ``out_dir/<engagement id>``, all
    proved against one new signed checkpoint of the whole log. A bundle holds its engagement's events
    and the hashes that prove them included, so no other organisation's event is in any of them."""
    async with services.reader_log() as log, log.pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT engagement_id FROM engagements.summary WHERE organisation_id = %s ORDER BY engagement_id",
                (organisation,),
            )
        ).fetchall()
    if not rows:
        raise UserError(
            f"there is no organisation '{organisation}' with engagements in the log (its id is the plan's "
            "organisation id, or its name as a slug; `coproduce organisations list` shows them)"
        )
    ids = [row[0] for row in rows]
    done = await export_engagements(
        services, [(e, out_dir / e) for e in ids], signer=signer, origin=origin, personal_text=personal_text
    )
    return dict(zip(ids, done, strict=True))


async def export_engagements(
    services: Services,
    targets: list[tuple[str, Path]],
    *,
    signer: Signer,
    origin: str,
    personal_text: Literal["redacted", "included"] = "redacted",
) -> list[Exported]:
    """A bundle for each ``(engagement id, folder)``, all against one new checkpoint (see ``export``):
    every engagement is replayed before anything is signed, and the log verified once."""
    url = services.database_url()
    included = personal_text == "included"
    writer_keys = services.load_writer_verifiers()
    writers = trusted_writers(writer_keys) if writer_keys is not None else None
    shown: dict[str, disclosure.Disclosure] = {}
    async with services.reader_log() as log:
        for engagement_id, _ in targets:
            seen = await disclosure.disclosure(
                log, url, engagement_id, services.master_key(), personal_text=included, writers=writers
            )
            if included and seen.keys is None:
                raise UserError(
                    "this login or machine may not read personal text (no master key, or no access to the "
                    "people register), so it cannot be included; export with --personal-text redacted"
                )
            # replay first: an engagement whose events cannot be read or replayed is refused before signing
            history.state_as_of(await history.load(log, engagement_id, seen, writers))
            shown[engagement_id] = seen
    signing = await _signing_checks(services)
    report, note = await checkpoint_database(url, signer, origin, role=WRITER_ROLE, **signing)
    if note is None:
        raise UserError(f"the log does not verify, so it cannot be exported: {report.summary()}")
    choice = (
        "included in report.html as written, at the exporter's choice; events.jsonl keeps it sealed"
        if included
        else "redacted: report.html shows no reasons, notes or findings; events.jsonl keeps them sealed"
    )
    done = []
    async with services.reader_log() as log:
        size = report.size
        leaves = await _leaves(log, size)
        for engagement_id, out_dir in targets:
            seen = shown[engagement_id]
            recorded = [
                item
                for item in await history.load(log, engagement_id, seen, writers)
                if item.record.position <= size
            ]
            html = render_report(
                recorded, engagement_id=engagement_id, verification=report.summary(), labels=seen.labels
            )
            bundle.write_bundle(
                out_dir, engagement_id=engagement_id, events=[item.record for item in recorded], leaves=leaves,
                note=note, signer=signer, origin=origin, report_html=html, personal=choice, writers=writer_keys,
                writers_signed_from=report.unsigned_before + 1 if report.writers_checked else None,
            )  # fmt: skip
            done.append(Exported(len(recorded), report.summary()))
    return done


async def _leaves(log: EventLog, size: int) -> list[bytes]:
    """The leaf hashes of the whole log up to ``size``, in order (for the inclusion proofs)."""
    async with log.pool.connection() as conn:
        cur = conn.cursor(binary=True)
        await cur.execute(
            "SELECT leaf_hash FROM eventlog.audit_events WHERE position <= %s ORDER BY position", (size,)
        )
        return [bytes(row[0]) for row in await cur.fetchall()]


INCIDENTS_STREAM = "incidents/log"  # "/" is in no engagement id: no engagement can be this stream
DISOWN_NAMESPACE = uuid.UUID("0d6c1f0e-6a44-4d7e-9d3e-5b1f8f0a2c7d")  # ids of operators' disownings


@dataclass(frozen=True)
class Disowned:
    position: int
    stream_id: str
    event_type: str
    record_position: int | None  # where the disowning was recorded (None: an earlier attempt wrote it)


async def disown(services: Services, actor: Actor, position: int, reason: str) -> Disowned:
    """Disown a foreign event that no running engagement can disown itself (one in a completed
    engagement's stream, or in a stream no engagement owns), so checkpoints and exports of the log can
    go on; the event stays in the log, reported as foreign and disowned, for good. An engagement that
    is still running disowns its own (``coproduce engagement disown``): it must also go on itself."""
    if not reason.strip():
        raise UserError("--reason is empty; say why this event is not the installation's (e.g. the incident)")
    writers = services.writers()
    if writers is None:
        raise UserError(
            "this machine has no writer key, so it cannot tell a foreign event; set COPRODUCE_WRITER_KEY"
        )
    async with services.writer_log() as log:
        async with log.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT stream_id, entry FROM eventlog.audit_events WHERE position = %s", (position,)
                )
            ).fetchone()
        if row is None:
            raise UserError(f"the log has no event at position {position}")
        stream_id, entry = row[0], bytes(row[1])
        if check_writer(entry, writers) is None:
            raise UserError(
                f"the event at position {position} was written by this installation; only a foreign event "
                "can be disowned (`coproduce audit verify` lists them)"
            )
        if position in await disowned_positions(services, writers):
            raise UserError(f"the foreign event at position {position} was disowned already")
        if await _runs(services, stream_id):
            raise UserError(
                f"engagement {stream_id} is running: disown it there, so that it goes on too "
                f"(`coproduce engagement disown {stream_id} --position {position} --as ... --reason ...`)"
            )
        try:
            parsed = json.loads(entry)
            event_type, event_id = str(parsed.get("type", "unknown"))[:80], uuid.UUID(str(parsed["event_id"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            event_type, event_id = "unreadable", uuid.uuid5(DISOWN_NAMESPACE, f"event/{position}")
        now = datetime.now(UTC)
        record = EventDisowned(
            occurred_at=now, position=position, event_id=event_id, event_type=event_type or "unknown",
            disowned_by=actor.person_id, reason=reason,
        )  # fmt: skip
        kind, version, payload = event_to_record(record)
        [sealed] = await sealed_events(
            services.register_on(log),
            INCIDENTS_STREAM,
            [
                EventToAppend(
                    event_id=uuid.uuid5(DISOWN_NAMESPACE, str(position)), type=kind, schema_version=version,
                    payload=payload, occurred_at=now, actor=actor.person_id,
                    causation_id=f"disown:{position}", correlation_id=INCIDENTS_STREAM,
                )
            ],
        )  # fmt: skip
        try:
            at: int | None = (await log.append(INCIDENTS_STREAM, [sealed], None)).positions[0]
        except DuplicateEventError:
            at = None
    return Disowned(position, stream_id, event_type, at)


async def _runs(services: Services, stream_id: str) -> bool:
    """Whether ``stream_id`` is an engagement whose workflow is running (False when Temporal cannot say)."""
    try:
        described = await (await services.temporal()).get_workflow_handle(stream_id).describe()
    except Exception:
        return False
    return described.status == WorkflowExecutionStatus.RUNNING
