"""Update ids are idempotency keys, within a run (Temporal) and across continue-as-new (the workflow)."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus

from eventlog import EventLog
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn

from .conftest import start_engagement
from .invariants import assert_log_matches_status, logged


async def test_a_repeated_update_id_returns_the_first_result_and_records_nothing(
    client: Client, writer_log: EventLog
) -> None:
    handle = await start_engagement(client)
    first = await handle.execute_update(
        W.record_check_in, RecordCheckIn(person_id="t01", comfort=4), id="c-1"
    )
    again = await handle.execute_update(
        W.record_check_in, RecordCheckIn(person_id="t01", comfort=4), id="c-1"
    )
    assert again == first
    events = await logged(writer_log, "eng-1")
    assert [e.type for e in events].count("check_in_recorded") == 1


async def test_update_ids_are_remembered_across_continue_as_new(
    dev_client: Client, writer_log: EventLog
) -> None:
    handle = await start_engagement(dev_client, continue_as_new_after=40)
    first_run = handle.result_run_id
    results = []
    for n in range(12):
        person = ["t01", "t02", "t03"][n % 3]
        msg = RecordCheckIn(person_id=person, comfort=3 + n % 2)
        results.append(await handle.execute_update(W.record_check_in, msg, id=f"check-in-{n}"))
    described = await dev_client.get_workflow_handle("eng-1", run_id=first_run).describe()
    assert described.status == WorkflowExecutionStatus.CONTINUED_AS_NEW

    # Retried in a later run (the server has forgotten them): the workflow answers with the first result.
    for n in (0, 5):
        msg = RecordCheckIn(person_id=["t01", "t02", "t03"][n % 3], comfort=3 + n % 2)
        assert await handle.execute_update(W.record_check_in, msg, id=f"check-in-{n}") == results[n]
    events = await logged(writer_log, "eng-1")
    assert [e.type for e in events].count("check_in_recorded") == 12
    assert_log_matches_status(events, await handle.query(W.status))
