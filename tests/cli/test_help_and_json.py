"""What `coproduce ... --help` shows and which commands answer `--json`, for every command (in-process,
no server: the command tree and its help pages only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from coproduce.cli.app import app

# They run until stopped and log as they go: nothing to print as one JSON value.
RUN_UNTIL_STOPPED = {("worker",), ("codec-server",), ("web",)}


def commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command, by its words (``("audit", "verify")``), with its click command."""
    root = get_command(app)
    context = root.make_context("coproduce", ["--help"], resilient_parsing=True)

    def walk(group: Any, words: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if hasattr(command, "list_commands"):
                yield from walk(command, (*words, name))
            else:
                yield (*words, name), command

    yield from walk(root, ())


ALL = dict(commands())


def help_page(*words: str) -> str:
    shown = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "160"}, terminal_width=160)
    assert shown.exit_code == 0, shown.output
    return shown.output


def test_the_tree_is_found() -> None:
    assert {("gate", "decide"), ("audit", "verify-bundle"), ("up",), ("keys", "new")} <= set(ALL)


@pytest.mark.parametrize("words", sorted(set(ALL) - RUN_UNTIL_STOPPED), ids=" ".join)
def test_every_command_that_reports_takes_json(words: tuple[str, ...]) -> None:
    options = {opt for param in ALL[words].params for opt in param.opts}
    assert "--json" in options, f"`coproduce {' '.join(words)}` has no --json"


@pytest.mark.parametrize("words", sorted(ALL), ids=" ".join)
def test_flags_are_shown_as_flags_not_as_options_taking_a_value(words: tuple[str, ...]) -> None:
    page = help_page(*words)
    assert "<bool>" not in page and "BOOLEAN" not in page, page
    flags = [opt for param in ALL[words].params if getattr(param, "is_flag", False) for opt in param.opts]
    for flag in flags:
        line = next(line for line in page.splitlines() if f" {flag} " in f" {line} ")
        after = line.split(flag, 1)[1].strip(" │")
        assert not after.startswith("<"), f"{flag} is shown with a value: {line.strip()}"


def test_a_vote_shows_its_three_choices_as_flags() -> None:
    page = help_page("gate", "decide")
    for flag, meaning in (
        ("--approve", "Vote to approve."),
        ("--object", "Vote to object"),
        ("--abstain", "Abstain"),
    ):
        line = next(line for line in page.splitlines() if flag in line)
        assert line.split(flag, 1)[1].strip(" │").startswith(meaning), line
