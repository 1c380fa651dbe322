"""The facilitator's portfolio is kept up to date by the worker, from the log alone: a row appears
when an engagement starts, says what it waits for, and follows a hold, a pause and a resume; a
facilitator reads only the engagements they facilitate. Run against the session's ``coproduce up``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from tests.bad_inputs.stack import Stack, shared_stack
from tests.cli.test_end_to_end import QUICK_PLAN


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


def row(stack: Stack, engagement: str) -> dict[str, object] | None:
    found = stack.sql(
        "SELECT status, current_phase, waiting_for, held, paused_since IS NOT NULL, facilitators, organisation, "
        "attention, position FROM engagements.portfolio WHERE engagement_id = %s",
        (engagement,),
    )
    if not found:
        return None
    status, phase, waiting, held, paused, facilitators, organisation, attention, position = found[0]
    return {
        "status": status, "phase": phase, "waiting_for": waiting, "held": held, "paused": paused,
        "facilitators": facilitators, "organisation": organisation, "attention": attention, "position": position,
    }  # fmt: skip


def eventually(check: Callable[[], object], timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "the portfolio did not catch up in time"
        time.sleep(0.2)


def last_position(stack: Stack, engagement: str) -> int:
    [(position,)] = stack.sql("SELECT max(position) FROM eventlog.events WHERE stream_id = %s", (engagement,))
    return int(position)  # type: ignore[call-overload]


def test_a_started_engagement_appears_with_what_it_waits_for_and_follows_a_pause(stack: Stack) -> None:
    engagement = f"folio-{secrets.token_hex(3)}"
    stack.start_engagement(QUICK_PLAN, engagement)
    first = eventually(
        lambda: (r := row(stack, engagement)) and r["position"] == last_position(stack, engagement) and r
    )
    assert isinstance(first, dict)
    assert first["status"] == "active" and first["phase"] == "setup"
    assert first["facilitators"] == ["f1"]
    assert first["waiting_for"], "a phase just started waits for something"
    stack.ok(
        "engagement", "pause", engagement, "--as", "f1", "--reason", "the board asked for a month to think"
    )
    paused = eventually(lambda: (r := row(stack, engagement)) and r["paused"] and r)
    assert isinstance(paused, dict) and paused["status"] == "paused" and paused["attention"] >= 1
    stack.ok("engagement", "resume", engagement, "--as", "f1", "--reason", "the board is ready")
    resumed = eventually(lambda: (r := row(stack, engagement)) and r["status"] == "active" and r)
    assert isinstance(resumed, dict) and not resumed["paused"]
    # Nothing personal in the row: no name or contact from the plan.
    [(raw,)] = stack.sql(
        "SELECT row_to_json(p)::text FROM engagements.portfolio p WHERE engagement_id = %s", (engagement,)
    )
    assert "Uma" not in str(raw) and "@" not in str(raw)
    json.loads(str(raw))
