"""Fixtures of the bad-input catalogue: the session's stack and one engagement with its first gate open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.test_end_to_end import QUICK_PLAN

from .stack import Stack, shared_stack

CATALOGUE = "catalogue-1"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="session")
def engagement(stack: Stack) -> str:
    """A running engagement whose 'setup' gate is open (d1, d2 and d3 may decide it).

    Bad inputs are sent to it; the few a bug lets through only add check-ins and training, which
    change nothing the other cases rely on."""
    stack.start_engagement(QUICK_PLAN, CATALOGUE)
    stack.ok("record", "checkin", CATALOGUE, "--person", "u1", "--comfort", "4")
    gate = stack.status(CATALOGUE)["gate"]
    assert isinstance(gate, dict) and gate["phase_id"] == "setup" and gate["status"] == "open", gate
    return CATALOGUE


# The web app's cases drive a real browser: the web tests' own (Debian's Chromium, module-scoped).
from tests.web.conftest import browser, playwright  # noqa: E402, F401
