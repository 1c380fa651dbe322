"""`coproduce plan check|schema`, `simulate` and `demo` as people run them (real subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.session_keys import SESSION_KEYS

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "domain" / "broken_plans"


def environment(state: Path) -> dict[str, str]:
    """A clean environment (the session's keys only) for a state directory of the test's own; a stack
    started there takes free ports, never those of a stack the user runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    env["COPRODUCE_STATE_DIR"] = str(state)
    env["COPRODUCE_STACK_PORTS"] = "any"
    return env


def coproduce(*args: str, state: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = environment(state)
    return subprocess.run(
        [sys.executable, "-m", "coproduce", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    tmp_path.chmod(0o755)
    return tmp_path / "state"


def test_plan_check_strict_accepts_the_examples(state: Path) -> None:
    for name in ("housing-tenant-governance", "mental-health-lived-experience"):
        checked = coproduce("plan", "check", f"examples/{name}.yaml", "--strict", state=state)
        assert checked.returncode == 0 and "a valid plan" in checked.stdout, checked.stderr
        assert "warning" not in checked.stdout


def test_plan_check_strict_refuses_a_plan_with_warnings_and_lists_them(state: Path, tmp_path: Path) -> None:
    # Without its follow-up period, the housing plan's year-end milestone would never fall due.
    text = (ROOT / "examples/housing-tenant-governance.yaml").read_text()
    without = text.replace("follow_up:\n  days: 395\n", "")
    without = (
        without[: without.index("    # After the last phase: did the change last?")]
        + without[without.index("\ndecision_areas:") :]
    )
    path = tmp_path / "no-follow-up.yaml"
    path.write_text(without)
    checked = coproduce("plan", "check", str(path), state=state)
    assert (
        checked.returncode == 0
        and "1 warning of token co-production (`--strict` refuses them):" in checked.stdout
    )
    assert "evaluation.milestones[2].at_end_of_phase: 'year-end' is due at the end of the last phase" in (
        checked.stdout
    )
    strict = coproduce("plan", "check", str(path), "--strict", state=state)
    assert strict.returncode == 1 and strict.stdout == ""
    first, *listed = strict.stderr.strip().splitlines()
    assert first == f"error: {path} has 1 warning of token co-production, which --strict refuses:"
    assert [line.split(": ")[0].strip() for line in listed] == ["evaluation.milestones[2].at_end_of_phase"]
    as_json = json.loads(coproduce("plan", "check", str(path), "--strict", "--json", state=state).stdout)
    assert as_json["valid"] is False
    assert [w["path"] for w in as_json["warnings"]] == ["evaluation.milestones[2].at_end_of_phase"]


def test_plan_check_lists_every_problem_with_its_field_path(state: Path) -> None:
    broken = sorted(BROKEN.glob("*.yaml"))
    assert broken
    for path in broken:
        checked = coproduce("plan", "check", str(path), state=state)
        assert checked.returncode == 1, path
        assert checked.stderr.startswith("error: ") and str(path) in checked.stderr
        assert "Traceback" not in checked.stderr
    as_json = json.loads(coproduce("plan", "check", str(broken[0]), "--json", state=state).stdout)
    assert as_json["valid"] is False and as_json["problems"][0]["path"]


def test_plan_schema_is_json_schema(state: Path) -> None:
    schema = json.loads(coproduce("plan", "schema", state=state).stdout)
    assert schema["$schema"].startswith("https://json-schema.org/") and "phases" in schema["properties"]
    assert json.loads(coproduce("plan", "schema", "--json", state=state).stdout) == schema


def test_simulate_projects_a_plans_timeline(state: Path, tmp_path: Path) -> None:
    responses = tmp_path / "responses.yaml"
    responses.write_text("uneasy_phases: [evaluation-strategy]\nobjections: {training: 'Dates clash.'}\n")
    result = coproduce(
        "simulate",
        "examples/housing-tenant-governance.yaml",
        "--responses",
        str(responses),
        "--json",
        state=state,
    )
    assert result.returncode == 0, result.stderr
    assert "worker shutdown" not in result.stderr, result.stderr
    projected = json.loads(result.stdout)
    assert projected["status"] == "completed"
    phases = {row["phase"]: row for row in projected["phases"]}
    assert phases["evaluation-strategy"]["held"] and phases["training"]["rounds"] == 2
    assert all(row["completed"] for row in projected["phases"])
    # People who stay uneasy longer hold the phase longer: its end, and the plan's, move out.
    longer = tmp_path / "longer.yaml"
    longer.write_text("uneasy_phases: [evaluation-strategy]\nuneasy_weeks: 8\n")
    result = coproduce(
        "simulate",
        "examples/housing-tenant-governance.yaml",
        "--responses",
        str(longer),
        "--json",
        state=state,
    )
    assert result.returncode == 0, result.stderr
    held_longer = {row["phase"]: row for row in json.loads(result.stdout)["phases"]}
    assert held_longer["evaluation-strategy"]["completed"] > phases["evaluation-strategy"]["completed"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("comfort: high\n")
    refused = coproduce(
        "simulate", "examples/housing-tenant-governance.yaml", "--responses", str(bad), state=state
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: {bad} is not a valid responses file: comfort: Input should be")
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "comfort: 3\nuneasy_phases: [trianing]\nobjections:\n  training: Dates clash.\n  widen: x\n"
    )
    refused = coproduce(
        "simulate", "examples/housing-tenant-governance.yaml", "--responses", str(typo), state=state
    )
    assert refused.returncode == 1 and refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert lines[0] == f"error: {typo} has 2 problems:"
    assert lines[1].startswith("  line 2: uneasy_phases names 'trianing', which is not a phase of the plan (")
    assert lines[2].startswith("  line 5: objections names 'widen', which is not a phase of the plan (")


def test_the_demo_runs_a_year_and_verifies_its_log(state: Path) -> None:
    started = time.monotonic()
    demo = coproduce("demo", state=state, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert time.monotonic() - started < 90
    out = demo.stdout
    assert "Decision timeline" in out and "Indicators against their targets" in out
    assert "held" in out and "rejected" in out and "pace hold" in out
    assert "minority signal to clear" in out  # a service user at the bottom of the scale held a phase
    assert "engagement completed" in out
    assert "Verification: OK:" in out and "The log folds to the workflow's state: yes" in out
    assert "worker shutdown" not in demo.stderr, demo.stderr  # the in-process worker's news stays off


def test_the_demo_in_json_is_one_object_and_nothing_else(state: Path) -> None:
    demo = coproduce("demo", "--json", state=state, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    result = json.loads(demo.stdout)  # the whole of stdout: no progress bar, no table
    assert result["status"] == "completed" and result["verified"] is True
    assert result["fold_matches_status"] is True and result["fold_differences"] == []
    assert result["events"] == len(result["timeline"]) and result["inputs"] > 0
    assert {"gate_decided", "pace_hold_recorded"} <= {event["type"] for event in result["timeline"]}
    assert result["indicators"] and all("status" in item for item in result["indicators"])
    assert "worker shutdown" not in demo.stderr, demo.stderr


def test_up_in_the_foreground_stops_everything_on_ctrl_c(state: Path) -> None:
    env = environment(state)
    up = subprocess.Popen(
        [sys.executable, "-m", "coproduce", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        lines = []
        assert up.stdout is not None
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            lines.append(line)
            if "Stop it with Ctrl-C" in line:
                break
        assert any("Temporal UI" in line for line in lines), "".join(lines)
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0
    assert "coproduce is down" in rest
    assert not (state / "stack.json").exists()
    still = coproduce("engagement", "list", state=state)
    assert still.returncode == 1 and "no coproduce stack is running" in still.stderr
    down = coproduce("down", "--json", state=state)
    assert down.returncode == 0 and json.loads(down.stdout) == {"stopped": False, "pid": None}
