"""The soak (``make soak``): a thousand engagements on the Temporal dev server, in real time.

Runs ``python -m bench.soak`` (bench/soak.py says what each engagement receives and what is measured)
in a process of its own, as an operator would, shows its figures as they come, and fails unless its
final invariant check passed: every accepted input in the log exactly once and nothing else, the hash
chain verified, and fold(log) == status for every engagement. Marked ``slow``: it takes about a quarter
of an hour, so ``make test`` leaves it out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOAK_ARGS = os.environ.get("COPRODUCE_SOAK_ARGS", "").split()  # e.g. "--engagements 200 --round-seconds 30"


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_thousand_engagements_soak_on_the_dev_server_and_keep_the_invariants(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines: list[str] = []
    with (
        capsys.disabled(),
        subprocess.Popen(
            [sys.executable, "-m", "bench.soak", *SOAK_ARGS],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as soak,
    ):
        assert soak.stdout is not None
        print()
        for line in soak.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        code = soak.wait()
    figures = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
    assert figures["invariants_ok"], figures["first_failures"] or figures["first_round_errors"]
    assert code == 0
