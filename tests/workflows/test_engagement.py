"""Whole engagements on the real time-skipping Temporal server and the real event log."""

from __future__ import annotations

from datetime import date

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application.simulation import ScriptedPeople, demo_responses
from domain.plan import Plan, plan_rescheduled
from eventlog import EventLog, verify_database
from workflows import messages as m
from workflows.engagement import EngagementWorkflow as W

from .conftest import example_plan, start_engagement
from .invariants import assert_each_update_logged_once, assert_log_matches_status, logged


class OverridingPeople(ScriptedPeople):
    """The scripted year, and a facilitator who tries to weaken it alone: early on, an amendment lowering
    the last gate's quorum; later, an override of the first comfort hold. Each waits for a decision maker
    and a service user to co-sign it (the plan's change policy) before it takes effect."""

    overridden: str | None = None
    waited: list[str] | None = None
    lowered: str | None = None

    async def week(self, status: m.EngagementStatus) -> None:
        if self.lowered is None and self.weeks >= 2:
            await self.lower_the_last_quorum(status)
            status = await self.status()
        held = [p.phase_id for p in status.phases if p.status == "running" and p.held_since is not None]
        if self.overridden is None and held:  # before the week's check-ins, which would release it
            await self.override(held[0], status)
            status = await self.status()
        await super().week(status)

    async def lower_the_last_quorum(self, status: m.EngagementStatus) -> None:
        last = self.plan.phases[-1]
        group, count = max(last.gate.quorum.items(), key=lambda item: item[1])
        gate = last.gate.model_copy(update={"quorum": {**last.gate.quorum, group: count - 1}})
        phases = [*self.plan.phases[:-1], last.model_copy(update={"gate": gate})]
        lowered = Plan.model_validate({**self.plan.model_dump(), "phases": [p.model_dump() for p in phases]})
        amend = m.AmendPlan(by=self.facilitator, plan=lowered, reason="Board numbers are down this year.")
        proposed = await self.send(W.amend_plan, amend)
        assert proposed.events == ["change_proposed"]  # not in the plan until co-signed
        before = (await self.status()).state.require_plan().phases[-1].gate.quorum
        assert before[group] == count
        results = await self.cosign(status)
        assert results[-1].events[:2] == ["change_cosigned", "plan_amended"]
        after = (await self.status()).state.require_plan().phases[-1].gate.quorum
        assert after[group] == count - 1
        self.lowered = f"{last.id}:{group}"

    async def override(self, phase_id: str, status: m.EngagementStatus) -> None:
        proposed = await self.send(W.override_hold, m.OverrideHold(by=self.facilitator, phase_id=phase_id,
                                                                   reason="The board meets next week."))  # fmt: skip
        assert proposed.events == ["change_proposed"]  # one facilitator alone does not lift it
        self.waited = (await self.status()).changes_waiting[0].waiting_for
        results = await self.cosign(status)
        assert results[0].events == ["change_cosigned"]
        assert results[1].events[:2] == ["change_cosigned", "pace_overridden"]
        self.overridden = phase_id

    async def cosign(self, status: m.EngagementStatus) -> list[m.UpdateResult]:
        """A decision maker and a service user of the initial group co-sign the change waiting."""
        state = status.state
        [waiting] = (await self.status()).changes_waiting
        cosigners = [
            next(
                p
                for p, person in state.people.items()
                if person.constituency == group and person.cohort == "initial"
            )
            for group in ("decision_maker", "service_user")
        ]
        return [
            await self.send(W.cosign_change, m.CosignChange(by=person, change_id=waiting.change_id))
            for person in cosigners
        ]


@pytest.mark.parametrize("plan_name", ["housing-tenant-governance", "mental-health-lived-experience"])
async def test_a_year_long_engagement_runs_to_completion_and_its_log_folds_to_its_status(
    env: WorkflowEnvironment, client: Client, writer_log: EventLog, database_url: str, plan_name: str
) -> None:
    plan = plan_rescheduled(example_plan(plan_name), date.today())
    handle = await start_engagement(client, plan=plan, started_by=plan.people[0].id)
    driver = OverridingPeople(handle, env.sleep, plan, demo_responses(plan))

    status = await driver.run(max_weeks=160)

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
    lifted = ("pace_hold_released", "pace_overridden")
    assert held and any(e.type in lifted and e.position > held[0].position for e in events)
    assert any("the minority signal to clear" in " ".join(e.payload["waiting_for"]) for e in held)
    # The first hold was overridden only once a decision maker and a service user co-signed it.
    assert driver.overridden is not None and driver.waited == [
        "1 decision maker to co-sign",
        "1 service user to co-sign",
    ]
    [amended] = [e.payload for e in events if e.type == "plan_amended"]
    assert driver.lowered is not None and len(amended["cosigned_by"]) == 2 and amended["amended_by"] == "f01"
    [overridden] = [e.payload for e in events if e.type == "pace_overridden"]
    assert overridden["phase_id"] == driver.overridden and len(overridden["cosigned_by"]) == 2
    decided = [e.payload for e in events if e.type == "gate_decided"]
    outcomes = [d["outcome"] for d in decided]
    assert outcomes.count("passed") == len(plan.phases)
    assert "held" in outcomes and "rejected" in outcomes  # dissent is recorded, with its reasons
    assert all(d["reason"] for d in decided if d["outcome"] != "passed")
    objections = [e.payload for e in events if e.type == "vote_cast" and e.payload["choice"] == "object"]
    assert objections and all(o["reason"] for o in objections)
    # The follow-up period: the year-end and follow-up milestones fall due, are measured, and the new
    # decision makers are reviewed at six and twelve months.
    [follow_up] = [e for e in events if e.type == "follow_up_started"]
    assert types.index("follow_up_started") > max(
        i for i, kind in enumerate(types) if kind == "phase_completed"
    )
    reviews = [e.payload for e in events if e.type == "follow_up_reviewed"]
    assert [r["milestone_id"] for r in reviews] == ["six-months-on", "a-year-on"]
    assert all(set(r["still_authorised"]) <= set(r["new_decision_makers"]) for r in reviews)
    assert reviews[0]["still_authorised"]  # six months on; a year on, authorisations not renewed have lapsed
    measured = {
        e.payload["milestone_id"]
        for e in events
        if e.type == "measurement_recorded" and e.position > follow_up.position
    }
    assert {"year-end", "six-months-on", "a-year-on"} <= measured
    assert (await verify_database(database_url)).ok
