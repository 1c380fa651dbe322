"""Retention by itself, on the real time-skipping Temporal server and the real log: an engagement whose
plan forgets its participants 730 days after it completes runs to completion; two years later its
participants are forgotten, but not the one who opted to stay, nor the facilitator; a rerun changes
nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application import people, retention
from application.errors import UserError
from application.identity import Actor
from application.privacy.register import forgotten_stream
from application.services import Services
from application.simulation import Responses, ScriptedPeople
from application.subject_access import subject_access
from domain.plan import Plan, plan_rescheduled
from eventlog import EventLog
from tests.domain.plans import small_plan
from workers.services import services_from_settings
from workers.settings import Settings
from workflows.contracts import RetentionStep
from workflows.retention import retention_workflow_id

from .conftest import start_engagement, wait_until_started

DAYS = 730


def retained_plan() -> Plan:
    plan = plan_rescheduled(small_plan(), date.today())
    return Plan.model_validate({**plan.model_dump(), "retention": {"forget_participants_after_days": DAYS}})


@pytest.fixture
def services(database_url: str) -> Services:
    found = services_from_settings(Settings())
    found.database_url = lambda: database_url
    return found


async def test_participants_are_forgotten_two_years_after_completion_unless_they_stay(
    env: WorkflowEnvironment, client: Client, writer_log: EventLog, services: Services
) -> None:
    plan = retained_plan()
    handle = await start_engagement(client, plan=plan, started_by="f1")
    await wait_until_started(handle)
    u1 = await retention.stay(services, Actor("f1", "cli"), "eng-1", "u1")  # recorded for them
    assert u1.newly and u1.rule is not None
    again = await retention.stay(services, Actor("u1", "cli"), "eng-1", "u1")
    assert not again.newly  # a second choice records nothing
    with pytest.raises(UserError, match="only d2 or a facilitator"):
        await retention.stay(services, Actor("d1", "cli"), "eng-1", "d2")
    await retention.stay(services, Actor("u2", "cli"), "eng-1", "u2")
    assert (
        await retention.withdraw_stay(services, Actor("u2", "cli"), "eng-1", "u2")
    ).withdrawn_at is not None

    status = await ScriptedPeople(handle, env.sleep, plan, Responses()).run(max_weeks=80)
    assert status.status == "completed" and status.state.completed_at is not None
    due_at = status.state.completed_at + timedelta(days=DAYS)

    # The retention workflow sleeps for two years (skipped here), then applies the rule.
    timer = client.get_workflow_handle(retention_workflow_id("eng-1"), result_type=RetentionStep)
    result = await timer.result()
    everyone_else = tuple(sorted(p.id for p in plan.people if p.id not in ("f1", "u1")))
    assert result.applied and result.recorded and sorted(result.newly_forgotten) == list(everyone_else)

    rows = {row.person_id: row for row in await people.list_people(services, "eng-1")}
    assert {p for p, row in rows.items() if row.forgotten} == set(everyone_else)
    assert rows["u1"].forgotten is None and rows["f1"].forgotten is None
    records = await writer_log.read_stream(forgotten_stream("eng-1"))
    [applied] = [r for r in records if r.type == "retention_applied"]
    assert applied.payload["forgotten"] == list(everyone_else)
    assert applied.payload["stayed"] == ["u1"]
    assert applied.payload["forget_participants_after_days"] == DAYS
    assert applied.payload["due_at"] == due_at.isoformat().replace("+00:00", "Z")
    # applied when its durable timer fired: on the day it fell due, not before
    assert due_at <= applied.occurred_at < due_at + timedelta(days=1)
    view = await retention.retention_view(services, "eng-1")
    assert view.due_at == due_at and view.applied is not None and view.to_forget == ()
    assert [r.payload["requested_by"] for r in records if r.type == "person_forgotten"] == [
        "coproduce"
    ] * len(everyone_else)

    # A rerun (the activity retried, or a DPO running it again) forgets nobody twice, records nothing twice.
    rerun = await retention.apply_retention(services, "eng-1", due_at + timedelta(days=1))
    assert rerun.applied is not None and not rerun.newly_forgotten and not rerun.recorded
    assert len(await writer_log.read_stream(forgotten_stream("eng-1"))) == len(records)

    with pytest.raises(UserError, match="was forgotten on"):
        await retention.stay(services, Actor("f1", "cli"), "eng-1", "u2")
    with pytest.raises(UserError, match=r"was applied to eng-1 on .* and kept u1; to forget them now, use"):
        await retention.withdraw_stay(services, Actor("u1", "cli"), "eng-1", "u1")


async def test_a_stay_withdrawn_and_made_again_counts_as_last_chosen_and_the_person_sees_each_choice(
    env: WorkflowEnvironment, client: Client, writer_log: EventLog, services: Services
) -> None:
    handle = await start_engagement(client, plan=retained_plan(), started_by="f1")
    await wait_until_started(handle)
    u1, f1 = Actor("u1", "cli"), Actor("f1", "cli")
    await retention.stay(services, u1, "eng-1", "u1")
    gone = await retention.withdraw_stay(services, u1, "eng-1", "u1")
    assert gone.withdrawn_at is not None and gone.rule is not None and gone.due_at is None  # not completed
    assert "u1" in (await retention.retention_view(services, "eng-1")).to_forget
    again = await retention.withdraw_stay(services, u1, "eng-1", "u1")
    assert again.withdrawn_at is None  # not staying: nothing recorded
    assert (await retention.stay(services, f1, "eng-1", "u1")).newly  # a new choice, recorded for them
    assert not (await retention.stay(services, u1, "eng-1", "u1")).newly
    with pytest.raises(UserError, match="only u1 or a facilitator may record whether u1 stays"):
        await retention.withdraw_stay(services, Actor("d1", "cli"), "eng-1", "u1")

    view = await retention.retention_view(services, "eng-1")
    assert "u1" in view.stayed and "u1" not in view.to_forget
    kinds = [r.type for r in await writer_log.read_stream(forgotten_stream("eng-1"))]
    assert kinds == ["person_opted_to_stay", "person_stay_withdrawn", "person_opted_to_stay"]

    copy = await subject_access(services, "eng-1", "u1")
    choices = [item.what for item in copy.events if item.value.get("event", "").startswith("person_")]
    assert choices == [
        "you opted to stay: the retention rule will not forget you",
        "you withdrew your choice to stay: the retention rule will forget you when it falls due",
        "you opted to stay: the retention rule will not forget you",
    ]
    assert all(i.stored_in.startswith("the event log") for i in copy.events)
