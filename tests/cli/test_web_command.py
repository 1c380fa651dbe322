"""`coproduce web` as a deployment runs it: a real subprocess.

Listening beyond this machine needs the public address (COPRODUCE_WEB_URL): sign-in links and passkeys
are made for it, so without it the command refuses in one sentence before it listens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.session_keys import SESSION_KEYS
from tests.web.conftest import free_port

COPRODUCE = [sys.executable, "-m", "coproduce"]
ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    return {**env, "COPRODUCE_STATE_DIR": str(tmp_path / "state"), "COPRODUCE_LOG_FORMAT": "json", **extra}


@pytest.mark.parametrize("how", ["--bind", "COPRODUCE_WEB_BIND"])
def test_web_refuses_to_listen_beyond_this_machine_without_its_public_address(
    tmp_path: Path, how: str
) -> None:
    port = free_port()
    args, extra = (["--bind", f"0.0.0.0:{port}"], {}) if how == "--bind" else ([], {how: f"0.0.0.0:{port}"})
    done = subprocess.run(
        [*COPRODUCE, "web", *args], env=environment(tmp_path, **extra), capture_output=True, text=True,
        cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()  # one sentence, no traceback
    assert line.startswith("error: the web app would listen on 0.0.0.0, beyond this machine")
    assert "COPRODUCE_WEB_URL is not set" in line and "https://" in line
    assert done.stdout == ""  # it never said it was serving
