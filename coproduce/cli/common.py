"""What every ``coproduce`` command shares: consoles, the application's services, one way to fail, and
errors turned into one clear sentence each.

A command parses what was typed, calls one use case of the application layer (``application``), and
renders what it returns. It either succeeds (exit 0) or prints ``error: <what was wrong, and what to
do>`` on stderr and exits 1 (2 for a usage error, which typer reports itself). Nobody sees a
traceback for a mistake.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from application import errors
from application.errors import UserError
from application.identity import Actor
from application.requests import request
from application.services import Services
from domain.plan import Plan, plan_from_yaml
from workers.codec import PayloadKeyMissing
from workers.database import NoStackError
from workers.embedded_postgres import EmbeddedPostgresError
from workers.keys import KeySettingError
from workers.services import services_from_settings
from workers.settings import Settings
from workers.stack import StackError
from workflows.messages import UpdateResult

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

JsonOption = typer.Option(False, "--json", help="Print the result as JSON, for scripts.")
UpdateIdOption = typer.Option(
    None, "--update-id", help="An idempotency key: sending the same id again records nothing new."
)


def _bare_flags(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Commands(TyperGroup):
    """typer's group of commands, with every flag shown bare in ``--help`` (``--approve``).

    typer 0.29's rich help prints a value placeholder after every flag, ``--approve <bool>`` and even
    ``--help <bool>``, as if it took a value. A flag's metavar is used for nothing but that column, so an
    empty one shows the flag as click and earlier typers do. Every ``typer.Typer`` here is made with
    ``cls=Commands``.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _bare_flags(command.get_params(ctx))
        return command


def fail(message: str) -> NoReturn:
    """Print one clear sentence on stderr and exit 1."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)  # no markup in it
    raise typer.Exit(1)


def explain(exc: BaseException, engagement_id: str | None = None) -> str | None:
    """The sentence for an error we know how to explain (None: a bug, let it show)."""
    if isinstance(
        exc, NoStackError | StackError | EmbeddedPostgresError | KeySettingError | PayloadKeyMissing
    ):
        return str(exc)
    return errors.sentence(exc, engagement_id)


def attempt(action: Callable[[], T], engagement_id: str | None = None) -> T:
    """Call ``action``, turning known errors into one sentence and exit 1."""
    try:
        return action()
    except typer.Exit:
        raise
    except Exception as exc:
        message = explain(exc, engagement_id)
        if message is None:
            raise
        fail(message)


def run(action: Callable[[], Awaitable[T]], engagement_id: str | None = None) -> T:
    """Run an async command body, turning known errors into one sentence and exit 1."""
    return attempt(lambda: asyncio.run(action()), engagement_id)


def settings() -> Settings:
    return Settings()


def services() -> Services:
    """The application's services for this installation's settings."""
    return services_from_settings(settings())


def acting(person_id: str) -> Actor:
    """The person acting, from ``--as``, on the command line."""
    return Actor(person_id=person_id, channel="cli")


def operator(for_reason: str | None = None) -> Actor:
    """Who runs this command: ``COPRODUCE_OPERATOR``, else the operating system's user; an input they
    enter for someone else (``--as`` names another person) is recorded as assisted, with ``for_reason``."""
    return Actor(
        person_id=settings().operator or getpass.getuser(),
        channel="cli",
        authentication="operator",
        assisted_reason=for_reason,
    )


def build(cls: type[M], **values: Any) -> M:
    """A typed request from the options typed; a bad value ends the command with its sentence."""
    try:
        return request(cls, **values)
    except UserError as exc:
        fail(str(exc))


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"there is no file {path}") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise UserError(f"{path} is not a plan (a YAML text file)") from None
    return plan_from_yaml(text, str(path))


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        out.print_json(value.model_dump_json())
    else:
        out.print_json(json.dumps(value, default=str))


def report_update(result: UpdateResult, as_json: bool) -> None:
    """What an accepted update recorded."""
    if as_json:
        print_json(result)
        return
    recorded = ", ".join(
        f"{event} (#{position})" for event, position in zip(result.events, result.positions, strict=False)
    )
    out.print(f"recorded: {recorded}")
