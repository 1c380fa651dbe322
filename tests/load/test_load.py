"""Bounded load: a hundred engagements at once, each through its whole plan, on one worker.

The time-skipping server stands in for the weeks and ``Lockstep`` (lockstep.py) drives all the
engagements on one clock, week by week, several people acting at once in each, at most
``ACTING_AT_ONCE`` engagements sending inputs at the same moment. The plan is the load plan
(plans.py: three phases, consent and vote gates with per-constituency quorums, training, evidence,
widening, a milestone, a pace hold), which runs its course in five simulated weeks and about 47
accepted inputs per engagement; the small test plan (tests/domain/plans.py) takes seven weeks and about
85, the example plans 39 weeks and about 300: too many for a hundred engagements in the time
``make test`` has on one worker (about 50 inputs a second on a 2-core machine).

At the end every engagement has completed, and for the log as a whole: every accepted input is in it
exactly once (its update id is the causation id of its events, at the positions it reported), nothing
else is (no refused input, no second copy of an input sent again, no stream that is not one of these
engagements), the hash chain verifies, and folding each engagement's events gives exactly the state its
workflow reports.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

import psycopg
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application.simulation import Responses
from domain.plan import plan_rescheduled
from eventlog import EventLog, verify_database
from tests.workflows.conftest import start_engagement
from tests.workflows.invariants import assert_each_update_logged_once, assert_log_matches_status
from workflows.engagement import EngagementWorkflow as W

from .lockstep import Lockstep
from .plans import load_plan

ENGAGEMENTS = 100
ACTING_AT_ONCE = 25
MAX_WEEKS = 10  # the load plan completes in five


# About 4 minutes of CPU on its own; `make test` runs it beside two other test processes on two cores.
@pytest.mark.timeout(900)
async def test_a_hundred_engagements_run_their_whole_plan_at_once_and_the_log_holds_each_input_once(
    env: WorkflowEnvironment, client: Client, writer_log: EventLog, database_url: str
) -> None:
    plan = plan_rescheduled(load_plan(), date.today())
    handles = await asyncio.gather(
        *(start_engagement(client, f"load-{n:03d}", plan=plan, started_by="f1") for n in range(ENGAGEMENTS))
    )
    await all_started(database_url, ENGAGEMENTS)
    # People are uneasy in training at first: the pace policy holds the phase until comfort recovers.
    driver = Lockstep(env, handles, plan, Responses(uneasy_phases=["train"]), acting_at_once=ACTING_AT_ONCE)

    statuses = await driver.run(max_weeks=MAX_WEEKS)

    assert [s.status for s in statuses] == ["completed"] * ENGAGEMENTS, f"after {driver.weeks} weeks"
    for driven in driver.engagements:
        engagement_id = driven.handle.id
        # The status query (a replay of the whole history, now that the run is closed) and the
        # workflow's result say the same; folding the log gives exactly that state.
        status = await driven.handle.query(W.status)
        assert status.model_dump() == (await driven.handle.result()).model_dump()  # one at a time
        events = await writer_log.read_stream(engagement_id)
        assert_log_matches_status(events, status)
        assert_each_update_logged_once(events, driven.accepted)
        # ... and nothing else: every event was caused by an accepted input, the start, or a timer.
        accepted = {result.update_id for result in driven.accepted}
        causes = {e.causation_id for e in events}
        by_inputs = {c for c in causes if c != f"start:{engagement_id}" and not c.startswith("timer:")}
        assert by_inputs == accepted
        assert len(driven.refused) == driven.weeks_acted and not causes & set(driven.refused)
        assert driven.repeated > 0
        types = Counter(e.type for e in events)
        assert types["phase_completed"] == len(plan.phases) and types["engagement_completed"] == 1
        assert types["pace_hold_recorded"] == types["pace_hold_released"] == 1
        assert types["contribution_logged"] > 0 and types["cohort_widened"] == 1

    # The log holds these engagements' streams and nothing more, and its hash chain verifies.
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT stream_id, count(*) FROM eventlog.events GROUP BY stream_id")
        streams = dict(await cursor.fetchall())
    assert streams == {s.engagement_id: s.stream_version for s in statuses}
    report = await verify_database(database_url)
    assert report.ok, report


async def all_started(url: str, count: int, timeout: float = 120) -> None:
    """Wait until every engagement's start is in the log. The database says so without touching the
    workflows: polling a hundred of them with status queries while their starts were being recorded
    kept workflow tasks open for 10 to 30 s, and more than once left a history that would not replay."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(int(timeout / 0.2)):
            cursor = await conn.execute(
                "SELECT count(*) FROM eventlog.events WHERE event_type = 'engagement_started'"
            )
            row = await cursor.fetchone()
            if row is not None and row[0] >= count:
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"the {count} engagements did not all start within {timeout:.0f} s")
