"""``coproduce audit ...``: the auditor's verbs. They read the event log alone (as the read-only
auditor role where the login allows), and ask Temporal only to compare the log with a live workflow.

- ``timeline ID``: every decision in order, with who, constituency, authorisation, reasons, times;
- ``state ID --as-of T``: the engagement exactly as it stood then;
- ``verify [ID]``: hash chain, Merkle root, signed checkpoints (stored and kept elsewhere), and for an
  engagement whose workflow is reachable, that the log and the workflow tell the same story;
- ``checkpoint --out FILE``: sign the log as it stands (keep the file away from the database);
- ``key``: the public key auditors should hold;
- ``export ID --out DIR`` / ``verify-bundle DIR``: an evidence bundle, checked offline.
- ``verify-receipt FILE``: a voter's receipt (from the web), checked offline.
- ``witness-request --old N --checkpoint FILE --out FILE``: what a witness needs to cosign a checkpoint.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal

import typer
from rich.table import Table
from rich.text import Text

from application import auditing
from application.audit import bundle, history, receipts
from eventlog import WitnessVerifier
from workers.keys import checkpoint_signer, trusted_verifiers, trusted_writer_verifiers, writer_signer

from .common import Commands, JsonOption, attempt, fail, operator, out, print_json, run, services, settings
from .render import status_view

audit_app = typer.Typer(
    cls=Commands, help="Replay, verify and export the decision history (auditors).", no_args_is_help=True
)

AsOfOption = typer.Option(
    None, "--as-of", help="A date (YYYY-MM-DD, meaning the end of that day, UTC) or an ISO time."
)
KeyOption = typer.Option(
    [], "--key", help="A trusted public key (from `coproduce audit key`); may be repeated."
)
WitnessKeyOption = typer.Option(
    [],
    "--witness-key",
    help="A witness's public key (from `coproduce witness key`) that must have cosigned; may be repeated.",
)


def witness_keys(keys: list[str]) -> list[WitnessVerifier]:
    try:
        return [WitnessVerifier.from_key_string(k) for k in keys]
    except ValueError as exc:
        fail(f"--witness-key is not a witness public key ({exc}); `coproduce witness key` prints one")


def parse_as_of(text: str | None) -> datetime | None:
    """``2026-03-31`` means the end of that day (UTC); a full ISO time is taken as given (UTC if naive)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--as-of {text!r} is not a date (YYYY-MM-DD) or an ISO time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@audit_app.command("timeline")
def timeline(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    as_of: str | None = AsOfOption,
    as_json: bool = JsonOption,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV, for a spreadsheet."),
) -> None:
    """Every decision in order: gates, votes (with constituency and authorisation), outcomes, holds,
    overrides, amendments, ladder moves, training, check-ins, measurements."""
    moment = parse_as_of(as_of)
    entries = run(lambda: auditing.timeline(services(), engagement_id, moment), engagement_id)
    if as_json:
        print_json([entry.as_json() for entry in entries])
    elif as_csv:
        sys.stdout.write(history.timeline_csv(entries))
    else:
        table = Table(title=f"Decision timeline of {engagement_id}" + (f" up to {as_of}" if as_of else ""),
                      title_justify="left")  # fmt: skip
        table.add_column("#", justify="right")
        table.add_column("occurred", no_wrap=True)
        table.add_column("recorded", no_wrap=True)
        table.add_column("what happened", ratio=3, min_width=30)
        table.add_column("reason", ratio=2)
        table.add_column("how it was sent", ratio=2)
        for entry in entries:
            table.add_row(
                str(entry.position),
                f"{entry.occurred_at:%Y-%m-%d %H:%M}",
                f"{entry.recorded_at:%Y-%m-%d %H:%M}",
                Text(entry.what),  # user text: shown as written, never read as markup
                Text(entry.reason or ""),
                Text(entry.how or ""),
            )
        out.print(table)


@audit_app.command("state")
def state(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    as_of: str = typer.Option(..., "--as-of", help="A date (YYYY-MM-DD, end of day UTC) or an ISO time."),
    as_json: bool = JsonOption,
) -> None:
    """The engagement exactly as it stood at a moment: the fold of the log up to then."""
    moment = parse_as_of(as_of)
    assert moment is not None
    view = run(lambda: auditing.state_on(services(), engagement_id, moment), engagement_id)
    if as_json:
        print_json(view)
    else:
        out.print(status_view(view))


@audit_app.command("verify")
def verify(
    engagement_id: str | None = typer.Argument(
        None, help="Also compare this engagement with its live workflow."
    ),
    checkpoint_files: list[Path] = typer.Option(
        [], "--checkpoint", help="A signed checkpoint kept outside the database; may be repeated."
    ),
    key: list[str] = KeyOption,
    columns: bool = typer.Option(
        False, "--columns", help="Also check the queried columns against the hashed bytes."
    ),
    writer_key: list[str] = typer.Option(
        [],
        "--writer-key",
        help="A trusted writer's public key (from `coproduce audit key --writer`); may be repeated. "
        "Default: this installation's own.",
    ),
    witness_key: list[str] = WitnessKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Recompute every hash and the Merkle root, check signed checkpoints, and (for an engagement whose
    workflow is reachable) check the log against the workflow. Exit 0 only when everything holds."""
    config = settings()
    witnesses = witness_keys(witness_key)
    notes = []
    for path in checkpoint_files:
        try:
            notes.append(path.read_text())
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            fail(f"cannot read the checkpoint file {path}; give the file `coproduce audit checkpoint` wrote")
    verifiers = attempt(lambda: trusted_verifiers(config, key))
    if witnesses and not notes:
        fail("--witness-key needs the cosigned checkpoint to check: pass --checkpoint FILE")
    if notes and not verifiers:
        fail("no public key to check the checkpoint with; pass --key (from `coproduce audit key`)")
    writers = attempt(lambda: trusted_writer_verifiers(config, writer_key)) if writer_key else None
    found = run(
        lambda: auditing.verify(
            services(),
            engagement_id,
            notes=notes,
            verifiers=verifiers,
            origin=config.log_origin,
            columns=columns,
            writers=writers,
            witnesses=witnesses,
        ),
        engagement_id,
    )
    if as_json:
        print_json({"ok": found.ok, "lines": found.lines})
    else:
        for line in found.lines:
            out.print(line, highlight=False, markup=False)
    if not found.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint(
    out_file: Path = typer.Option(..., "--out", help="Where to write the signed checkpoint (a new file)."),
    as_json: bool = JsonOption,
) -> None:
    """Verify the whole log, sign a checkpoint of it (size and Merkle root), store it, and write it to a
    file. Keep that file where the database's administrators cannot change it."""
    if out_file.exists():
        fail(f"{out_file} exists already; checkpoints are never overwritten, choose a new file name")
    config = settings()

    async def body() -> str:
        signer = checkpoint_signer(config, create=True)
        assert signer is not None
        return await auditing.checkpoint(services(), signer, config.log_origin)

    note = run(body)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(note)
    origin, size, root = note.split("\n")[:3]
    if as_json:
        print_json({"file": str(out_file), "origin": origin, "size": int(size), "root": root, "note": note})
        return
    out.print(f"signed a checkpoint of {size} events: {out_file}")


@audit_app.command("key")
def public_key(
    writer: bool = typer.Option(
        False, "--writer", help="The key that checks who wrote each event, instead of the checkpoint key."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Print the public key that checks this installation's checkpoints and bundles (or, with --writer,
    the one that checks that each event was written by the installation itself)."""
    if writer:
        signer = attempt(lambda: writer_signer(settings(), create=False))
        if signer is None:
            fail("there is no writer key on this machine; it is made when a worker first appends events")
    else:
        signer = attempt(lambda: checkpoint_signer(settings(), create=False))
        if signer is None:
            fail("there is no signing key yet; `coproduce audit checkpoint --out FILE` creates one")
    if as_json:
        print_json({"key": signer.verifier.key_string(), "kind": "writer" if writer else "checkpoint"})
        return
    out.print(signer.verifier.key_string(), highlight=False, markup=False, soft_wrap=True)


@audit_app.command("export")
def export(
    engagement_id: str | None = typer.Argument(None, help="The engagement's id (or --organisation)."),
    out_dir: Path = typer.Option(..., "--out", help="A new folder for the bundle."),
    organisation: str | None = typer.Option(
        None,
        "--organisation",
        help="Every engagement of this organisation (its id), one bundle each in --out.",
    ),
    personal_text: str = typer.Option(
        "redacted",
        "--personal-text",
        help="'redacted' (default): the report shows no reasons, notes or findings; 'included': it "
        "shows them as written (for an auditor entitled to see them). The events stay sealed either way.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Write an evidence bundle: the events in their hashed bytes, inclusion proofs against a new signed
    checkpoint, the public key, a README for the auditor and the HTML report. With --organisation, one
    bundle per engagement of that organisation, in --out/<engagement id>/, none holding another
    organisation's events."""
    if (engagement_id is None) == (organisation is None):
        fail("give either an engagement's id or --organisation ORG, not both and not neither")
    if personal_text not in ("redacted", "included"):
        fail(f"--personal-text must be 'redacted' or 'included', not {personal_text!r}")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        fail(f"{out_dir} exists and is not an empty folder; choose a new folder for the bundle")
    config = settings()
    text: Literal["included", "redacted"] = "included" if personal_text == "included" else "redacted"

    async def body() -> dict[str, auditing.Exported]:
        signer = checkpoint_signer(config, create=True)
        assert signer is not None
        if organisation is not None:
            return await auditing.export_organisation(
                services(), organisation, out_dir, signer=signer, origin=config.log_origin, personal_text=text
            )
        assert engagement_id is not None
        one = await auditing.export(
            services(), engagement_id, out_dir, signer=signer, origin=config.log_origin, personal_text=text
        )
        return {engagement_id: one}

    try:
        done = run(body, engagement_id)
    except bundle.BundleError as exc:
        fail(str(exc))
    folders = {e: out_dir / e if organisation else out_dir for e in done}
    if as_json:
        rows = [{"engagement_id": e, "folder": str(folders[e]), "events": d.events, "verification": d.verification}
                for e, d in done.items()]  # fmt: skip
        print_json(rows[0] if organisation is None else {"organisation": organisation, "bundles": rows})
        return
    for e, d in done.items():
        out.print(f"exported {d.events} events of {e} to {folders[e]} ({d.verification})", highlight=False)


@audit_app.command("verify-bundle")
def verify_bundle(
    folder: Path = typer.Argument(..., help="The bundle's folder."),
    key: list[str] = KeyOption,
    writer_key: list[str] = typer.Option(
        [],
        "--writer-key",
        help="A trusted writer's public key (from `coproduce audit key --writer`); may be repeated. "
        "Default: the bundle's own writer-keys.txt.",
    ),
    witness_key: list[str] = WitnessKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Check an evidence bundle offline (no database, no Temporal): every byte, every proof, the order,
    who wrote each event, and (with --witness-key) that each witness cosigned its checkpoint."""
    try:
        keys = bundle.public_keys(key, "--key")
        writers = bundle.public_keys(writer_key, "--writer-key")
    except bundle.BundleKeyError as exc:
        fail(str(exc))
    witnesses = witness_keys(witness_key)
    report = bundle.verify_bundle(folder, keys=keys, writer_keys=writers, witness_keys=witnesses)
    if as_json:
        print_json({"ok": report.ok, "summary": report.summary(), "notes": list(report.notes)})
        raise typer.Exit(0 if report.ok else 1)
    out.print(report.summary(), highlight=False, markup=False)
    for note in report.notes:
        out.print(f"note: {note}", highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("disown")
def disown(
    position: int = typer.Option(
        ..., "--position", help="The foreign event's position (`audit verify` lists them)."
    ),
    reason: str = typer.Option(..., "--reason", help="Why it is not the installation's (the incident)."),
    as_json: bool = JsonOption,
) -> None:
    """Disown a foreign event that no running engagement can disown itself (in a completed engagement,
    or a stream no engagement owns), so checkpoints and exports can go on. It stays in the log, shown
    as foreign and disowned, for good; who disowned it and why is recorded."""
    done = run(lambda: auditing.disown(services(), operator(), position, reason))
    if as_json:
        print_json(vars(done))
        return
    out.print(
        f"disowned the foreign event at position {done.position} ({done.event_type} in {done.stream_id}); "
        "it stays in the log, reported as foreign and disowned",
        highlight=False,
    )


@audit_app.command("verify-receipt")
def verify_receipt(
    file: Path = typer.Argument(..., help="The receipt (a .json file downloaded after voting)."),
    key: list[str] = KeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Check a vote's receipt offline (no database, no Temporal): the vote's bytes, its inclusion proof,
    and the signed checkpoint the proof leads to. Without --key, only that the receipt is consistent."""
    try:
        keys = bundle.public_keys(key, "--key")
    except bundle.BundleKeyError as exc:
        fail(str(exc))
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read the receipt {file}: {getattr(exc, 'strerror', None) or exc}")
    check = receipts.verify_receipt(text, keys)
    if as_json:
        print_json({"ok": check.ok, "lines": check.lines})
        raise typer.Exit(0 if check.ok else 1)
    for line in check.lines:
        out.print(line, highlight=False, markup=False)
    if not check.ok:
        raise typer.Exit(1)


@audit_app.command("witness-request")
def witness_request(
    old: int = typer.Option(..., "--old", help="The size the witness last cosigned (0 the first time)."),
    checkpoint_file: Path = typer.Option(..., "--checkpoint", help="A checkpoint this installation signed."),
    out_file: Path = typer.Option(..., "--out", help="A new file for the request, to hand to the witness."),
    key: list[str] = KeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Write the add-checkpoint request a witness needs (`coproduce witness cosign`): the old size, a
    consistency proof from it computed from the log, and the checkpoint."""
    if out_file.exists():
        fail(f"{out_file} exists already; choose a new file name for the request")
    try:
        note = checkpoint_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        fail(
            f"cannot read the checkpoint file {checkpoint_file}; give the file `coproduce audit checkpoint` wrote"
        )
    config = settings()
    verifiers = attempt(lambda: trusted_verifiers(config, key))
    if not verifiers:
        fail("no public key to check the checkpoint with; pass --key (from `coproduce audit key`)")
    text = run(lambda: auditing.witness_request(services(), note, old, verifiers))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text)
    if as_json:
        print_json({"file": str(out_file), "old": old, "request": text})
        return
    out.print(f"wrote the witness request from size {old}: {out_file}", highlight=False)
