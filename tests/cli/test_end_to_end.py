"""The installed `coproduce` command as a new user drives it: subprocesses against a stack started by
`coproduce up --detach`, with its own state directory. Real PostgreSQL, real Temporal dev server."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.domain.plans import SMALL_PLAN_YAML
from tests.operators import as_the_person
from tests.session_keys import SESSION_KEYS

# A plan whose first two gates can open at once (no minimum dwell), so a test can decide them in real
# time; service user representatives need the 'sdm' module to decide the second.
QUICK_PLAN = (
    SMALL_PLAN_YAML.replace("    min_dwell_days: 3\n", "    min_dwell_days: 0\n", 1)
    .replace("    min_dwell_days: 5\n", "    min_dwell_days: 0\n", 1)
    .replace("gates: [pilot, widen]", "gates: [train, pilot, widen]")
    .replace("  min_check_ins: 2\n", "  min_check_ins: 1\n")
    .replace("  comfort_threshold: 3.5\n", "  comfort_threshold: 2\n")
)
ENGAGEMENT = "quick-1"


class Cli:
    """Runs `coproduce` the way a person at a terminal would, in one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS
        }
        self.env["COPRODUCE_STATE_DIR"] = str(state_dir)
        self.env["COPRODUCE_STACK_PORTS"] = "any"  # free ports: never those of a stack the user runs
        self.state_dir = state_dir

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "coproduce", *args],
            env=as_the_person(args, self.env),
            capture_output=True,
            text=True,
            timeout=240,
        )
        if check:
            assert result.returncode == 0, f"coproduce {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json").stdout)

    def stack(self) -> dict[str, object]:
        return json.loads((self.state_dir / "stack.json").read_text())

    def events(self, engagement: str = ENGAGEMENT) -> list[str]:
        with psycopg.connect(str(self.stack()["database_url"])) as conn:
            rows = conn.execute(
                "SELECT event_type FROM eventlog.events WHERE stream_id = %s ORDER BY position", (engagement,)
            ).fetchall()
        return [r[0] for r in rows]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    state = tmp_path_factory.mktemp("state")
    state.chmod(0o755)
    run = Cli(state)
    started = run("up", "--detach")
    assert "coproduce is up" in started.stdout and "Temporal UI" in started.stdout
    (state / "quick.yaml").write_text(QUICK_PLAN)
    (state / "broken.yaml").write_text(QUICK_PLAN.replace("method: consent", "method: unanimity", 1))
    yield run
    run("down", check=False)


def wait_for(condition, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_the_stack_of_a_test_takes_free_ports_not_the_usual_ones(cli: Cli) -> None:
    """COPRODUCE_STACK_PORTS=any: a test's stack never takes the usual ports (7233, 8233, 8089, 8000, 8025)
    from a stack the user runs."""
    ports = json.loads((cli.state_dir / "ports.json").read_text())
    assert set(ports) == {"temporal", "ui", "codec", "web", "smtp"}
    assert not {7233, 8233, 8089, 8000, 8025} & set(ports.values()), ports
    stack = cli.stack()
    assert stack["temporal_address"] == f"127.0.0.1:{ports['temporal']}"
    assert stack["temporal_ui"] == f"http://127.0.0.1:{ports['ui']}"
    assert stack["web_url"] == f"http://localhost:{ports['web']}"
    assert stack["smtp_url"] == f"smtp://127.0.0.1:{ports['smtp']}"


def test_a_second_up_says_one_is_running(cli: Cli) -> None:
    again = cli("up", "--detach", check=False)
    assert again.returncode == 1
    assert "already running" in again.stderr


def test_an_engagement_from_start_to_its_first_gate_decided(cli: Cli) -> None:
    started = cli.json(
        "engagement", "start", str(cli.state_dir / "quick.yaml"), "--id", ENGAGEMENT, "--as", "f1"
    )
    assert started["id"] == ENGAGEMENT  # type: ignore[index]
    assert wait_for(lambda: "phase_started" in cli.events())

    listed = cli.json("engagement", "list")
    assert [row["id"] for row in listed] == [ENGAGEMENT]  # type: ignore[union-attr]

    cli("record", "checkin", ENGAGEMENT, "--person", "u1", "--comfort", "4")
    cli(
        "record",
        "session",
        ENGAGEMENT,
        "--as",
        "f1",
        "--type",
        "group_work",
        "--attendees",
        "u1,d2",
        "--minutes",
        "60",
    )
    status = cli.json("engagement", "status", ENGAGEMENT)
    assert status["gate"]["phase_id"] == "setup" and status["gate"]["status"] == "open"  # type: ignore[index]

    decided = cli.json("gate", "decide", ENGAGEMENT, "--phase", "setup", "--as", "d2", "--approve")
    assert decided["events"][:3] == ["vote_cast", "gate_decided", "phase_completed"]  # type: ignore[index]
    status = cli.json("engagement", "status", ENGAGEMENT)
    assert status["current_phase"] == "train"  # type: ignore[index]
    readable = cli("engagement", "status", ENGAGEMENT).stdout
    assert "train" in readable and "running" in readable


BAD_INPUTS = [
    (("record", "checkin", "no-such-engagement", "--person", "u1", "--comfort", "4"), "there is no engagement 'no-such-engagement'"),
    (("record", "checkin", ENGAGEMENT, "--person", "zz9", "--comfort", "4"), "zz9"),
    (("record", "checkin", ENGAGEMENT, "--person", "u1", "--comfort", "9"), "outside the scale"),
    (("gate", "decide", ENGAGEMENT, "--phase", "pilot", "--as", "u1", "--approve"), "gate 'pilot' has not been opened"),
    (("gate", "decide", ENGAGEMENT, "--phase", "setup", "--as", "d3", "--approve"), "is not open"),
    (("gate", "decide", ENGAGEMENT, "--phase", "train", "--as", "d3", "--approve", "--object"), "exactly one of"),
    (("gate", "override", ENGAGEMENT, "--phase", "train", "--as", "d2", "--reason", "go"), "only a facilitator"),
    (("record", "training", ENGAGEMENT, "--as", "f1", "--person", "u1", "--module", "juggling"), "no training module 'juggling'"),
    (("record", "session", ENGAGEMENT, "--as", "f1", "--type", "party", "--attendees", "u1", "--minutes", "5"), "activity_type"),
    (("engagement", "start", "does-not-exist.yaml"), "there is no file does-not-exist.yaml"),
    (("engagement", "resume", ENGAGEMENT, "--as", "f1"), "not paused"),
    (("record", "measurement", ENGAGEMENT, "--as", "f1", "--indicator", "nope", "--value", "3"), "nope"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"), BAD_INPUTS, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(BAD_INPUTS)]
)
def test_bad_input_gets_one_clear_sentence_and_changes_nothing(
    cli: Cli, args: tuple[str, ...], expected: str
) -> None:
    before = cli.events()
    result = cli(*args, check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert cli.events() == before


def test_votes_that_cannot_count_are_refused_with_the_reason(cli: Cli) -> None:
    """The 'train' gate (a vote: 2 approvals, a decision maker's and a service user's) is open now."""
    status = cli.json("engagement", "status", ENGAGEMENT)
    assert status["gate"]["phase_id"] == "train" and status["gate"]["status"] == "open"  # type: ignore[index]
    cli("gate", "decide", ENGAGEMENT, "--phase", "train", "--as", "d2", "--approve")
    for args, expected in [
        (("--as", "d2", "--approve"), "d2 has already voted on gate 'train'"),
        (("--as", "u1", "--approve"), "sdm"),  # untrained: not authorised for 'shared decision making'
        (("--as", "d3", "--object"), "needs a reason"),
    ]:
        before = cli.events()
        refused = cli("gate", "decide", ENGAGEMENT, "--phase", "train", *args, check=False)
        assert refused.returncode == 1 and expected in refused.stderr, refused.stderr
        assert cli.events() == before


def test_the_auditors_commands_answer_in_json(cli: Cli, tmp_path: Path) -> None:
    note_file = tmp_path / "checkpoint-1.txt"
    signed = cli.json("audit", "checkpoint", "--out", str(note_file))
    assert signed["file"] == str(note_file) and note_file.read_text() == signed["note"]  # type: ignore[index]
    assert signed["size"] >= len(cli.events()) and signed["origin"] == "coproduce/eventlog"  # type: ignore[index]
    key = cli.json("audit", "key")
    assert key["kind"] == "checkpoint" and str(key["key"]).startswith("coproduce/eventlog+")  # type: ignore[index]
    assert cli.json("audit", "key", "--writer")["kind"] == "writer"  # type: ignore[index]
    verified = cli.json(
        "audit", "verify", ENGAGEMENT, "--checkpoint", str(note_file), "--key", str(key["key"])
    )  # type: ignore[index]
    assert verified["ok"] is True, verified  # type: ignore[index]
    assert any(line.startswith("workflow: OK") for line in verified["lines"]), verified  # type: ignore[index]

    evidence = tmp_path / "evidence"
    exported = cli.json("audit", "export", ENGAGEMENT, "--out", str(evidence))
    assert exported["folder"] == str(evidence) and exported["events"] > 0  # type: ignore[index,operator]
    checked = cli.json("audit", "verify-bundle", str(evidence), "--key", str(key["key"]))  # type: ignore[index]
    assert checked["ok"] is True and checked["summary"].startswith("OK"), checked  # type: ignore[index,union-attr]

    refused = cli("audit", "verify", "--key", "garbage", "--json", check=False)
    assert refused.returncode == 1 and refused.stdout == "" and "Traceback" not in refused.stderr
    assert (
        refused.stderr.startswith("error: --key is not a public key")
        and len(refused.stderr.splitlines()) == 1
    )

    assert cli.json("db", "migrate") == {"applied": [], "passwords_set": [], "embedded_postgres": None}
    assert len(base64.b64decode(str(cli.json("keys", "new")["key"]))) == 32  # type: ignore[index]
    assert cli.json("plan", "schema") == json.loads(cli("plan", "schema").stdout)


def test_a_malformed_plan_lists_every_problem(cli: Cli) -> None:
    checked = cli("plan", "check", str(cli.state_dir / "broken.yaml"), check=False)
    assert checked.returncode == 1
    assert "broken.yaml" in checked.stderr and "method" in checked.stderr
    started = cli("engagement", "start", str(cli.state_dir / "broken.yaml"), "--id", "broken", check=False)
    assert started.returncode == 1 and "method" in started.stderr
    assert cli("plan", "check", str(cli.state_dir / "quick.yaml")).stdout.startswith(
        str(cli.state_dir / "quick.yaml")
    )


def test_commands_without_a_stack_say_how_to_start_one(tmp_path: Path) -> None:
    lonely = Cli(tmp_path / "nothing-here")
    result = lonely("engagement", "list", check=False)
    assert result.returncode == 1
    assert "no coproduce stack is running" in result.stderr and "coproduce up --detach" in result.stderr


def test_a_stack_killed_with_sigkill_comes_back_with_everything(cli: Cli) -> None:
    events = cli.events()
    assert events, "the earlier tests recorded events"
    pid = int(cli.stack()["pid"])  # type: ignore[arg-type]
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: cli("engagement", "list", check=False).returncode != 0, timeout=15)

    restarted = json.loads(cli("up", "--detach", "--json").stdout)
    assert restarted["pid"] == cli.stack()["pid"] != pid
    assert restarted["temporal_address"] == cli.stack()["temporal_address"]
    assert cli.events() == events
    status = cli.json("engagement", "status", ENGAGEMENT)
    assert status["stream_version"] == len(events) and status["current_phase"] == "train"  # type: ignore[index]
    cli("record", "checkin", ENGAGEMENT, "--person", "u3", "--comfort", "5")  # and it still works
    assert cli.events()[-1] == "check_in_recorded"
