"""Update ids are idempotency keys, within a run (Temporal) and across continue-as-new (the workflow)."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus

from eventlog import EventLog
from workflows.engagement import EngagementWorkflow as W
from workflows.messages import RecordCheckIn, RecordContribution, RecordSession, RecordTraining

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
    handle = await start_engagement(dev_client, search_attributes=True)  # the server suggests it at 60 events
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


async def test_state_carries_over_several_continue_as_new_runs(
    dev_client: Client, writer_log: EventLog
) -> None:
    """Many kinds of input across several runs: the state the last run holds is the fold of the log."""
    handle = await start_engagement(dev_client, "eng-1", search_attributes=True)
    first_run = handle.result_run_id
    n = 0

    async def send(update, msg):  # type: ignore[no-untyped-def]
        nonlocal n
        n += 1
        return await handle.execute_update(update, msg, id=f"u-{n}")

    for round_ in range(6):
        await send(
            W.record_training, RecordTraining(by="f01", person_id="t01", module_id="coproduction-foundations")
        )
        await send(
            W.record_session,
            RecordSession(
                by="f01", activity_type="assessment", attendee_ids=("t01", "d01"), duration_minutes=60
            ),
        )
        await send(
            W.record_contribution,
            RecordContribution(by="f01", person_id="t01", minutes=90, expenses_pence=450),
        )
        for person in ("t01", "t02", "t03", "t04", "c01"):
            await send(W.record_check_in, RecordCheckIn(person_id=person, comfort=3 + round_ % 3))
    runs = [w.run_id async for w in dev_client.list_workflows('WorkflowId = "eng-1"')]
    assert first_run in runs and len(runs) >= 3, runs
    status = await handle.query(W.status)
    assert status.state.recognition["t01"].minutes == 6 * 90
    assert_log_matches_status(await logged(writer_log, "eng-1"), status)
