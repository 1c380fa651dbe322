"""Whole engagements on the real time-skipping Temporal server and the real event log."""

from __future__ import annotations

from datetime import date

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application.simulation import ScriptedPeople, demo_responses
from domain.plan import plan_rescheduled
from eventlog import EventLog, verify_database

from .conftest import example_plan, start_engagement
from .invariants import assert_each_update_logged_once, assert_log_matches_status, logged


@pytest.mark.parametrize("plan_name", ["housing-tenant-governance", "mental-health-lived-experience"])
async def test_a_year_long_engagement_runs_to_completion_and_its_log_folds_to_its_status(
    env: WorkflowEnvironment, client: Client, writer_log: EventLog, database_url: str, plan_name: str
) -> None:
    plan = plan_rescheduled(example_plan(plan_name), date.today())
    handle = await start_engagement(client, plan=plan, started_by=plan.people[0].id)
    driver = ScriptedPeople(handle, env.sleep, plan, demo_responses(plan))

    status = await driver.run(max_weeks=90)

    assert status.status == "completed"
    assert all(phase.status == "completed" for phase in status.phases)
    result = await handle.result()
    assert result.state == status.state
    events = await logged(writer_log, "eng-1")
    assert_log_matches_status(events, status)
    assert_each_update_logged_once(events, driver.sent)
    types = [e.type for e in events]
    assert types[0] == "engagement_started" and types[-1] == "engagement_completed"
    assert types.count("gate_opened") >= len(plan.phases) and types.count("phase_completed") == len(
        plan.phases
    )
    assert {"reminder_sent", "cohort_widened", "milestone_due", "training_completed", "session_held"} <= set(
        types
    )
    held = [e for e in events if e.type == "pace_hold_recorded"]
    assert held and any(e.type == "pace_hold_released" and e.position > held[0].position for e in events)
    decided = [e.payload for e in events if e.type == "gate_decided"]
    outcomes = [d["outcome"] for d in decided]
    assert outcomes.count("passed") == len(plan.phases)
    assert "held" in outcomes and "rejected" in outcomes  # dissent is recorded, with its reasons
    assert all(d["reason"] for d in decided if d["outcome"] != "passed")
    objections = [e.payload for e in events if e.type == "vote_cast" and e.payload["choice"] == "object"]
    assert objections and all(o["reason"] for o in objections)
    assert (await verify_database(database_url)).ok
