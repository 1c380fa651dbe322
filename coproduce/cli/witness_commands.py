"""``coproduce witness ...``: a witness's verbs, for a second party (an organisation, its funder) that
co-signs this installation's checkpoints. They need no database and no Temporal: a laptop will do.

- ``key NAME --out FILE``: a new witness private key (kept in FILE); prints the public key to hand over;
- ``cosign REQUEST --key FILE --log-key PUBKEY --state FILE --out FILE``: cosign the checkpoint in an
  add-checkpoint request (from ``coproduce audit witness-request``) if it extends the last one cosigned.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from application.audit import witness
from eventlog import Verifier, WitnessSigner

from .common import Commands, JsonOption, fail, out, print_json

witness_app = typer.Typer(
    cls=Commands,
    help="Co-sign this installation's checkpoints as an independent witness (no database needed).",
    no_args_is_help=True,
)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        fail(f"cannot read {what} {path}")


@witness_app.command("key")
def key(
    name: str = typer.Argument(
        ..., help="The witness's name, e.g. a URL without scheme: funder.example/witness."
    ),
    out_file: Path = typer.Option(..., "--out", help="A new file for the private key (never overwritten)."),
    as_json: bool = JsonOption,
) -> None:
    """Make a witness key: the private key goes into --out (readable by you alone), and the public key
    is printed, for the installation's auditors to pass as --witness-key."""
    if out_file.exists():
        fail(f"{out_file} exists already; a witness key is never overwritten, choose a new file name")
    try:
        signer = WitnessSigner.generate(name)
    except ValueError as exc:
        fail(f"the witness name is not usable: {exc}")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(signer.key_string() + "\n")
    public = signer.verifier.key_string()
    if as_json:
        print_json({"key": public, "file": str(out_file)})
        return
    out.print(public, highlight=False, markup=False, soft_wrap=True)


@witness_app.command("cosign")
def cosign(
    request: Path = typer.Argument(
        ..., help="The add-checkpoint request (from `coproduce audit witness-request`)."
    ),
    key_file: Path = typer.Option(
        ..., "--key", help="The witness's private key file (`coproduce witness key`)."
    ),
    log_key: list[str] = typer.Option(
        ..., "--log-key", help="The log's public key (from `coproduce audit key`); may be repeated."
    ),
    state: Path = typer.Option(
        ..., "--state", help="The witness's memory of the last checkpoint it cosigned."
    ),
    out_file: Path = typer.Option(..., "--out", help="A new file for the cosigned checkpoint."),
    as_json: bool = JsonOption,
) -> None:
    """Cosign the request's checkpoint if the log signed it and it extends, by a consistency proof, the
    last checkpoint this witness cosigned (first use: `old 0`). Refusals change nothing."""
    if out_file.exists():
        fail(f"{out_file} exists already; choose a new file name for the cosigned checkpoint")
    try:
        signer = WitnessSigner.from_key_string(_read(key_file, "the witness key file"))
    except ValueError as exc:
        fail(f"{key_file} is not a witness private key ({exc})")
    try:
        log_keys = [Verifier.from_key_string(k) for k in log_key]
    except ValueError as exc:
        fail(f"--log-key is not the log's public key ({exc}); `coproduce audit key` prints it")
    try:
        note = witness.add_checkpoint(
            _read(request, "the request"), witness=signer, log_keys=log_keys, state_file=state
        )
    except witness.WitnessRefusal as exc:
        fail(f"not cosigned: {exc}")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(note)
    origin, size = note.split("\n")[:2]
    if as_json:
        print_json({"file": str(out_file), "origin": origin, "size": int(size), "note": note})
        return
    out.print(f"cosigned the checkpoint of {size} events of {origin}: {out_file}", highlight=False)
