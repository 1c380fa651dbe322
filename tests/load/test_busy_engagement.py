"""A tenants' meeting acts at once: ten times more inputs reach one engagement together than Temporal
lets a workflow hold in flight, and every one is recorded, once.

Temporal turns away an update beyond its limit of in-flight updates per workflow (ten by default,
``RESOURCE_EXHAUSTED``), and under this load aborts updates in flight when the workflow's context is
reloaded ("workflow update was aborted", retryable). The SDK's client retries each a few times; the
application (``application.engagements.patiently``) goes on waiting its turn for up to two minutes,
with the same update id, so the people in the room never see "try again" and nothing is recorded twice.
Without that, a hundred at once failed in two of four runs here; with it, none in four. (A hundred and
fifty at once on one engagement, on this 2-core machine, outlast even that: docs/performance.md.)

This runs against the session's ``coproduce up`` stack: the Temporal dev server enforces the limit; the
time-skipping test server does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from application import engagements
from application.identity import Actor
from tests.bad_inputs.stack import Stack, shared_stack
from tests.cli.test_end_to_end import QUICK_PLAN
from workers.services import services_from_settings
from workers.settings import Settings
from workflows.messages import RecordCheckIn, UpdateResult

ENGAGEMENT = "busy-meeting"
AT_ONCE = 100  # ten times Temporal's limit of in-flight updates per workflow
PEOPLE = ("u1", "u2", "u3", "c1")
# The facilitator enters each person's check-in at the meeting, with them (an assisted input).
FACILITATOR = Actor("f1", "cli", assisted_reason="at the tenants' meeting, with them")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


def test_a_hundred_check_ins_sent_at_once_are_each_recorded_once(stack: Stack) -> None:
    stack.start_engagement(QUICK_PLAN, ENGAGEMENT)
    before = [p for t, p in stack.events(ENGAGEMENT) if t == "check_in_recorded"]

    async def meeting() -> list[UpdateResult]:
        services = services_from_settings(Settings(state_dir=stack.state_dir))
        await services.open()
        try:
            sends = [
                engagements.submit(
                    services,
                    FACILITATOR,
                    ENGAGEMENT,
                    RecordCheckIn(person_id=PEOPLE[n % len(PEOPLE)], comfort=1 + n % 5),
                    update_id=f"meeting-{n:02d}",
                )
                for n in range(AT_ONCE)
            ]
            return await asyncio.gather(*sends)
        finally:
            await services.close()

    results = asyncio.run(meeting())

    after = [p for t, p in stack.events(ENGAGEMENT) if t == "check_in_recorded"]
    assert len(results) == AT_ONCE
    assert len(after) - len(before) == AT_ONCE, "each check-in recorded exactly once"
    first = [result.positions[0] for result in results]  # the check-in; a gate may open after one
    assert len(set(first)) == AT_ONCE, "each input has its own place in the log"
    comforts = sorted(int(str(p["comfort"])) for p in after[len(before) :])
    assert comforts == sorted(1 + n % 5 for n in range(AT_ONCE))
