"""The ``coproduce`` command: one place where every verb is registered.

Operators start and steer engagements, approvers decide gates, and anyone can check a plan or rehearse
it; auditors replay and verify the record; the verbs live in ``stack_commands``, ``engagement_commands``,
``plan_commands``, ``audit_commands``, ``people_commands`` and ``key_commands`` (among others), and share
``common`` (settings, errors as one sentence, talking to an engagement). Every verb reads its settings
from ``COPRODUCE_*`` variables (see ``workers/settings.py``).
"""

from __future__ import annotations

import os
import sys

import typer
from pydantic import ValidationError

from workers.logging import configure_logging
from workers.settings import Settings

from . import (
    audit_commands,
    engagement_commands,
    key_commands,
    mail_commands,
    notice_commands,
    organisation_commands,
    people_commands,
    plan_commands,
    stack_commands,
    witness_commands,
)
from .common import Commands

app = typer.Typer(
    name="coproduce",
    cls=Commands,
    help="Run co-production engagements over an append-only, hash-chained event log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("up")(stack_commands.up)
app.command("down")(stack_commands.down)
app.command("worker")(stack_commands.worker)
app.add_typer(stack_commands.db_app, name="db")
app.add_typer(plan_commands.plan_app, name="plan")
app.command("simulate")(plan_commands.simulate)
app.command("demo")(plan_commands.demo)
app.add_typer(engagement_commands.engagement_app, name="engagement")
app.add_typer(engagement_commands.record_app, name="record")
app.add_typer(engagement_commands.gate_app, name="gate")
app.add_typer(engagement_commands.ladder_app, name="ladder")
app.add_typer(audit_commands.audit_app, name="audit")
app.add_typer(people_commands.people_app, name="people")
app.add_typer(key_commands.keys_app, name="keys")
app.command("codec-server")(key_commands.codec_server)
app.command("web")(stack_commands.web)
app.command("mail")(mail_commands.mail)
app.add_typer(notice_commands.notices_app, name="notices")
app.add_typer(witness_commands.witness_app, name="witness")
app.add_typer(organisation_commands.organisations_app, name="organisations")


def main() -> None:
    """Entry point of the console script.

    Ends with ``os._exit``: a process that used a Temporal client can abort at interpreter exit after
    its work is done (sdk-python issue 300); the exit status must be the command's, not that.
    """
    code = 0
    try:
        # Log lines (e.g. an in-process worker's, in `demo` and `simulate`) go to stderr, at the configured
        # level, so --json output on stdout stays parseable.
        try:
            configure_logging(Settings())
        except ValidationError as exc:
            first = exc.errors()[0]
            name = "COPRODUCE_" + str(first["loc"][0]).upper()
            print(f"error: {name} is not valid ({first['msg']}); fix or unset it", file=sys.stderr)
            raise SystemExit(1) from None
        app()  # standalone: prints usage errors itself and raises SystemExit with the status
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
