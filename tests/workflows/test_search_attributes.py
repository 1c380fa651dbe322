"""Engagements can be listed and counted by status, phase and organisation, and by nothing personal."""

from __future__ import annotations

import asyncio
from datetime import date

from temporalio.client import Client

from domain.plan import plan_rescheduled
from eventlog import EventLog
from tests.domain.plans import small_plan
from workers.search_attributes import ensure_search_attributes
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import Pause

from .conftest import example_plan, start_engagement, wait_until_started


async def ids_where(client: Client, query: str, expected: int) -> list[str]:
    """Visibility is eventually consistent: poll until the expected count shows (or give up)."""
    found: list[str] = []
    for _ in range(50):
        found = sorted([w.id async for w in client.list_workflows(query)])
        if len(found) == expected:
            break
        await asyncio.sleep(0.1)
    return found


async def test_engagements_are_listed_by_status_phase_and_organisation(
    dev_client: Client, writer_log: EventLog
) -> None:
    housing = example_plan()
    small = plan_rescheduled(small_plan(), date.today())
    first = await start_engagement(
        dev_client, "eng-a", plan=housing, started_by="f01", search_attributes=True
    )
    await start_engagement(dev_client, "eng-b", plan=small, started_by="f1", search_attributes=True)
    await wait_until_started(first)
    await first.execute_update(W.pause, Pause(by="f01", reason="Board elections this month."), id="p1")

    assert await ids_where(dev_client, 'EngagementStatus = "paused"', 1) == ["eng-a"]
    assert await ids_where(dev_client, 'EngagementPhase = "setup"', 1) == ["eng-b"]
    assert await ids_where(dev_client, f'Organisation = "{housing.organisation.name}"', 1) == ["eng-a"]
    count = await dev_client.count_workflows('EngagementStatus = "active" OR EngagementStatus = "paused"')
    assert count.count == 2

    described = await first.describe()
    values = {key.name: value for key, value in described.typed_search_attributes}  # type: ignore[attr-defined]
    names = [person.display_name for person in housing.people]
    assert not any(name in str(value) for value in values.values() for name in names)


async def test_registering_search_attributes_twice_changes_nothing(dev_client: Client) -> None:
    assert await ensure_search_attributes(dev_client, "default") == []  # the fixture registered them
