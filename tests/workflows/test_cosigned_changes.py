"""A weakening change through the real workflow: proposed by one facilitator, co-signed by a board member
and a tenant, and only then in the plan and the log (the plan's ``changes`` policy, on the real
time-skipping Temporal server and the real event log)."""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from domain.plan import Plan
from eventlog import EventLog
from workflows import messages as m
from workflows.engagement import EngagementWorkflow

from .conftest import example_plan, start_engagement
from .invariants import logged


def _lower_partner_quorum(plan: Plan) -> Plan:
    """The housing plan with the first gate no longer needing the tenants' federation."""
    first = plan.phases[0]
    gate = first.gate.model_copy(update={"quorum": {"decision_maker": 1}})
    phases = [first.model_copy(update={"gate": gate}), *plan.phases[1:]]
    return Plan.model_validate({**plan.model_dump(), "phases": [p.model_dump() for p in phases]})


async def _status(handle) -> m.EngagementStatus:  # type: ignore[no-untyped-def]
    return await handle.query(EngagementWorkflow.status)


async def test_a_lowered_quorum_waits_for_a_board_member_and_a_tenant_before_it_counts(
    client: Client, writer_log: EventLog
) -> None:
    plan = example_plan()
    handle = await start_engagement(client, plan=plan, started_by="f01")
    first = plan.phases[0].id

    amend = m.AmendPlan(by="f01", plan=_lower_partner_quorum(plan), reason="The federation cannot attend.")
    await handle.execute_update(EngagementWorkflow.amend_plan, amend)
    status = await _status(handle)
    [waiting] = status.changes_waiting
    assert waiting.proposed_by == "f01" and waiting.kind == "amendment"
    assert waiting.weakens == [f"gate '{first}' needs no partner's approval, not 1"]
    assert waiting.waiting_for == ["1 decision maker to co-sign", "1 service user to co-sign"]
    assert status.state.require_plan().phases[0].gate.quorum["partner"] == 1  # not in effect yet

    for by, sentence in (("f01", "someone else must co-sign it"), ("f02", "and f02 is not one")):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                EngagementWorkflow.cosign_change, m.CosignChange(by=by, change_id=waiting.change_id)
            )
        assert sentence in str(refused.value.cause)

    await handle.execute_update(
        EngagementWorkflow.cosign_change, m.CosignChange(by="d02", change_id=waiting.change_id)
    )
    [still] = (await _status(handle)).changes_waiting
    assert still.cosigned_by == ["d02"] and still.waiting_for == ["1 service user to co-sign"]

    await handle.execute_update(
        EngagementWorkflow.cosign_change, m.CosignChange(by="t01", change_id=waiting.change_id)
    )
    status = await _status(handle)
    assert status.changes_waiting == []
    assert status.state.require_plan().phases[0].gate.quorum == {"decision_maker": 1}

    events = await logged(writer_log, "eng-1")
    types = [e.type for e in events]
    assert types.count("change_proposed") == 1 and types.count("change_cosigned") == 2
    [amended] = [e.payload for e in events if e.type == "plan_amended"]
    assert amended["change_id"] == waiting.change_id and amended["cosigned_by"] == ["d02", "t01"]
    assert amended["amended_by"] == "f01"
