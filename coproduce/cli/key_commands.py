"""``coproduce keys ...`` (new keys, the master key's status and rotation) and ``codec-server``.

Rotating the master key is ``application.keys.rotate_master``: every data key of the people register
is re-wrapped under the current master key (``COPRODUCE_MASTER_KEY``), opened with the old one
(``COPRODUCE_PREVIOUS_MASTER_KEYS``), in batches, while engagements keep running; the log is not touched.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import typer
from rich.table import Table

from application import keys
from application.privacy.rotation import KeyStatus, Rotation
from workers.codec import codec
from workers.keys import codec_token, new_key_text

from .common import Commands, JsonOption, attempt, fail, out, print_json, run, services, settings

keys_app = typer.Typer(
    cls=Commands, help="Secret keys: new ones, and rotating the master key.", no_args_is_help=True
)


@keys_app.command("new")
def new_key(as_json: bool = JsonOption) -> None:
    """Print a new random key (base64 of 32 bytes) for COPRODUCE_MASTER_KEY, COPRODUCE_PAYLOAD_KEYS or
    COPRODUCE_CODEC_TOKEN."""
    if as_json:
        print_json({"key": new_key_text()})
        return
    print(new_key_text())


def _status_json(status: KeyStatus) -> dict[str, Any]:
    latest = status.latest_rotation
    return {
        "current_key_id": status.current_key_id,
        "previous_key_ids": status.previous_key_ids,
        "wrapped_by": [vars(w) for w in status.wrapped_by],
        "data_keys": sum(w.data_keys for w in status.wrapped_by),
        "not_under_current_key": status.not_current,
        "latest_rotation": _rotation_json(latest) if latest else None,
    }


def _rotation_json(rotation: Rotation) -> dict[str, Any]:
    return {**vars(rotation), "finished": rotation.finished}


def _show_status(status: KeyStatus) -> None:
    table = Table(title="Data keys by the master key that wraps them", title_justify="left")
    for column in ("master key id", "data keys", "this process has it as"):
        table.add_column(column)
    for wrapped in status.wrapped_by:
        table.add_row(wrapped.key_id or "(not recorded)", f"{wrapped.data_keys:,}", wrapped.role)
    out.print(table)
    out.print(f"current master key: {status.current_key_id}", highlight=False)
    if status.previous_key_ids:
        out.print(f"previous master keys: {', '.join(status.previous_key_ids)}", highlight=False)
    latest = status.latest_rotation
    if latest is not None:
        state = f"finished {latest.finished_at:%Y-%m-%d %H:%M}" if latest.finished_at else "cut short"
        out.print(
            f"latest rotation: to {latest.to_key_id}, {latest.rewrapped:,} re-wrapped, {state}",
            highlight=False,
        )
    if status.not_current:
        out.print(
            f"{status.not_current:,} data keys are not under the current master key: "
            "`coproduce keys rotate-master` re-wraps them",
            highlight=False,
        )


@keys_app.command("status")
def key_status(as_json: bool = JsonOption) -> None:
    """Which master key (by its public id) wraps how many data keys, and the latest rotation."""
    status = run(lambda: keys.key_status(services()))
    if as_json:
        print_json(_status_json(status))
        return
    _show_status(status)


@keys_app.command("rotate-master")
def rotate_master(
    batch_size: int = typer.Option(500, "--batch-size", help="Data keys re-wrapped per transaction."),
    pause: float = typer.Option(
        0.0, "--pause", help="Seconds to wait between batches, to leave the database to others."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Re-wrap every data key under the current master key (COPRODUCE_MASTER_KEY), opening each with
    the old one (COPRODUCE_PREVIOUS_MASTER_KEYS). Engagements keep running; the log is not touched; if
    cut short, run it again to continue. docs/privacy.md has the whole procedure."""
    began = time.monotonic()
    done_now = 0

    def progress(rotation: Rotation, batch: int) -> None:
        nonlocal done_now
        done_now += batch
        if not as_json:
            out.print(
                f"re-wrapped {rotation.rewrapped:,} data keys ({rotation.batches} batches)", highlight=False
            )

    rotation, status = run(
        lambda: keys.rotate_master(services(), batch_size=batch_size, pause=pause, on_batch=progress)
    )
    seconds = time.monotonic() - began
    if as_json:
        print_json(
            {
                **_rotation_json(rotation),
                "rewrapped_now": done_now,
                "seconds": round(seconds, 3),
                "status": _status_json(status),
            }
        )
        return
    resumed = " (continued a rotation cut short)" if rotation.resumed else ""
    out.print(
        f"done{resumed}: {done_now:,} data keys re-wrapped now, {rotation.rewrapped:,} in this rotation, "
        f"in {seconds:.1f} s; every data key is under master key {status.current_key_id}",
        highlight=False,
    )


def codec_server(
    port: int = typer.Option(8089, "--port", help="Port to listen on."),
    bind: str = typer.Option(
        "127.0.0.1", "--bind", help="Address to listen on (default: this machine only)."
    ),
    origin: list[str] = typer.Option(
        ["http://localhost:8233"], "--origin", help="Web UI origin allowed to call it (repeatable)."
    ),
) -> None:
    """Serve /decode and /encode for the Temporal web UI and CLI (--codec-endpoint), so people allowed
    to see Temporal payloads can read them decrypted, to callers sending 'Authorization: Bearer TOKEN'
    only. TOKEN is COPRODUCE_CODEC_TOKEN (at least 32 characters), else the file
    <state dir>/keys/codec-server.token (made on first use, mode 0600, shared with `coproduce up`)."""
    from workers.codec_server import serve

    current = settings()
    token = attempt(lambda: codec_token(current))
    try:
        payload_codec = codec(current)
    except ValueError as exc:
        fail(str(exc))
    where = "COPRODUCE_CODEC_TOKEN" if current.codec_token is not None else str(current.codec_token_file)
    out.print(
        f"codec server on http://{bind}:{port} (origins: {', '.join(origin)}); callers need "
        f'--codec-auth "Bearer TOKEN", TOKEN from {where}; Ctrl-C stops it',
        highlight=False,
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(payload_codec, bind, port, origins=origin, token=token)
    except OSError as exc:
        fail(f"the codec server cannot listen on {bind}:{port} ({exc.strerror}); choose another --port")
