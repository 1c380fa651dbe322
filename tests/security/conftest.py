"""Fixtures of the security checks: the session's coproduce stack (shared with tests/bad_inputs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bad_inputs.stack import Stack, shared_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


# The web app's cases drive a real browser: the web tests' own (Debian's Chromium, module-scoped).
from tests.web.conftest import browser, playwright  # noqa: E402, F401
