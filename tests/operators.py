"""Who the command line acts as, in tests that are about something else than who acts.

The ``coproduce`` command acts as its operator (``COPRODUCE_OPERATOR``, else the OS user); an input it
enters for anyone else is recorded as assisted and needs ``--for-reason``. Most CLI tests are about
what an input does, not who typed it: they run each command as the person it names, as if that person
sat at the terminal (``as_the_person``). Tests of assisted inputs set the operator themselves.
"""

from __future__ import annotations

from collections.abc import Sequence


def acting_person(args: Sequence[str]) -> str | None:
    """The person a command acts for: its ``--as``, else ``--person``, else the first of ``--agreed-by``."""
    for flag in ("--as", "--person", "--agreed-by"):
        if flag in args[:-1]:
            return args[list(args).index(flag) + 1].split(",")[0].strip()
    return None


def as_the_person(args: Sequence[str], env: dict[str, str]) -> dict[str, str]:
    """``env`` for running ``args`` as the person they name (unless the test chose an operator)."""
    person = acting_person(args)
    if person is None or "--for-reason" in args or "COPRODUCE_OPERATOR" in env:
        return env
    return {**env, "COPRODUCE_OPERATOR": person}
