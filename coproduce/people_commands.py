"""``coproduce people ...`` (who takes part, and forgetting someone), ``keys new`` and ``codec-server``.

Forgetting honours a person's right to erasure in a log that cannot change: their entry in the people
register is blanked and their data key destroyed, so their sealed text can never be read again, and a
``person_forgotten`` record (who asked, why, when) goes into the log beside the engagement. Decisions,
counts and the hash chain are untouched: the log still verifies, and the person is shown from then on
as "forgotten person #n".
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table

from activities.people_register import PeopleRegister, forgotten_stream
from activities.personal_data import owners, seal
from domain.events.people import PersonForgotten
from eventlog import DuplicateEventError, EventLog, NewEvent
from workers.codec import codec
from workers.database import database_url
from workers.keys import master_key, new_key_text

from .audit.disclosure import Disclosure, forgotten_people
from .audit.history import load, state_as_of
from .common import CommandError, JsonOption, fail, out, print_json, run, settings

people_app = typer.Typer(help="The people of an engagement, and forgetting someone.", no_args_is_help=True)
keys_app = typer.Typer(help="Secret keys for settings.", no_args_is_help=True)
FORGET_NAMESPACE = uuid.UUID("6f1c7a52-4a55-4d3e-9a57-3f3f0b7f1c11")  # person_forgotten event ids


async def _open() -> tuple[EventLog, PeopleRegister]:
    config = settings()
    log = await EventLog.open(database_url(config, start_embedded=False), min_size=1, max_size=2)
    return log, PeopleRegister(log.pool, master_key(config))


@people_app.command("list")
def list_people(
    engagement_id: str = typer.Argument(..., help="The engagement's id."), as_json: bool = JsonOption
) -> None:
    """The people of an engagement: id, name (from the register), constituency, and who was forgotten."""

    async def body() -> list[dict[str, Any]]:
        log, register = await _open()
        try:
            state = state_as_of(await load(log, engagement_id, Disclosure()))
            names = await register.names(engagement_id)
            forgotten = await forgotten_people(log, engagement_id)
        finally:
            await log.close()
        return [
            {
                "person_id": person_id,
                "name": None if person_id in forgotten else names.get(person_id),
                "constituency": person.constituency,
                "forgotten": f"forgotten person #{forgotten[person_id].number}"
                if person_id in forgotten
                else None,
            }
            for person_id, person in sorted(state.people.items())
        ]

    rows = run(body, engagement_id)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"People of {engagement_id}", title_justify="left")
    for column in ("id", "name", "constituency", "forgotten"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["person_id"], row["name"] or "", row["constituency"], row["forgotten"] or "")
    out.print(table)


@people_app.command("forget")
def forget(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="The id of the person to forget."),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. the erasure request and its date)."),
    by: str = typer.Option(..., "--as", help="Who asks: the id of a person of the engagement (an operator)."),
    as_json: bool = JsonOption,
) -> None:
    """Forget a person: destroy their name and data key, so their text is erased for good, and record
    who asked and why. Decisions and counts stay as they were; the log still verifies."""

    async def body() -> dict[str, Any]:
        if not reason.strip():
            raise CommandError("--reason is empty; say why this person is forgotten (e.g. their request)")
        log, register = await _open()
        try:
            state = state_as_of(await load(log, engagement_id, Disclosure()))
            for who, what in ((person_id, "to forget"), (by, "in --as")):
                if who not in state.people:
                    raise CommandError(
                        f"there is no person '{who}' {what} in engagement {engagement_id}; "
                        f"`coproduce people list {engagement_id}` shows them"
                    )
            if by == person_id:
                raise CommandError("--as names the person to forget; a request is recorded by someone else")
            try:  # check the reason before anything is destroyed
                PersonForgotten(
                    engagement_id=engagement_id, person_id=person_id, number=1, requested_by=by,
                    reason=reason, occurred_at=datetime.now(UTC),
                )  # fmt: skip
            except ValidationError as exc:
                raise CommandError(f"--reason is not usable: {exc.errors()[0]['msg']}") from None
            already = (await forgotten_people(log, engagement_id)).get(person_id)
            number, when, newly = await register.forget(engagement_id, person_id)
            if already is not None:
                raise CommandError(
                    f"{person_id} of {engagement_id} was forgotten already, as forgotten person "
                    f"#{already.number} on {already.occurred_at:%Y-%m-%d}; there is nothing more to do"
                )
            record = PersonForgotten(
                engagement_id=engagement_id, person_id=person_id, number=number, requested_by=by,
                reason=reason, occurred_at=when,
            )  # fmt: skip
            payload = record.model_dump(mode="json")
            event_id = uuid.uuid5(FORGET_NAMESPACE, f"{engagement_id}/{person_id}")
            keys = await register.keys_for(engagement_id, owners(PersonForgotten.TYPE, payload))
            event = NewEvent(
                type=PersonForgotten.TYPE,
                payload=seal(PersonForgotten.TYPE, payload, event_id, keys),
                event_id=event_id,
                schema_version=PersonForgotten.SCHEMA_VERSION,
                occurred_at=when,
                actor=by,
                causation_id=f"forget:{engagement_id}/{person_id}",
                correlation_id=engagement_id,
            )
            try:
                appended = await log.append(forgotten_stream(engagement_id), [event], None)
                position = appended.positions[0]
            except DuplicateEventError:  # recorded by an earlier attempt that stopped before saying so
                position = None
        finally:
            await log.close()
        return {
            "engagement_id": engagement_id,
            "person_id": person_id,
            "shown_as": f"forgotten person #{number}",
            "forgotten_at": when.isoformat(),
            "newly": newly,
            "position": position,
        }

    done = run(body, engagement_id)
    if as_json:
        print_json(done)
        return
    out.print(
        f"forgot {done['person_id']} of {done['engagement_id']}: their name and data key are destroyed, "
        f"their text in the log can no longer be read, and they are shown as {done['shown_as']}",
        highlight=False,
    )


@keys_app.command("new")
def new_key() -> None:
    """Print a new random key (base64 of 32 bytes) for COPRODUCE_MASTER_KEY or COPRODUCE_PAYLOAD_KEYS."""
    print(new_key_text())


def codec_server(
    port: int = typer.Option(8089, "--port", help="Port to listen on."),
    bind: str = typer.Option(
        "127.0.0.1", "--bind", help="Address to listen on (default: this machine only)."
    ),
    origin: list[str] = typer.Option(
        ["http://localhost:8233"], "--origin", help="Web UI origin allowed to call it (repeatable)."
    ),
    token: str = typer.Option(
        None,
        "--token",
        envvar="COPRODUCE_CODEC_TOKEN",
        help="Require 'Authorization: Bearer TOKEN' (set it in the web UI's codec settings).",
    ),
) -> None:
    """Serve /decode and /encode for the Temporal web UI and CLI (--codec-endpoint), so people allowed
    to see Temporal payloads can read them decrypted. Give it only to people who may see personal data."""
    from workers.codec_server import serve

    try:
        payload_codec = codec(settings())
    except ValueError as exc:
        fail(str(exc))
    out.print(f"codec server on http://{bind}:{port} (origins: {', '.join(origin)}); Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):
        serve(payload_codec, bind, port, origins=origin, token=token)
