"""Who acted, and how we know: every recorded input says so, and nobody can claim to be someone else.

On the session's shared stack, an engagement of the quick plan: inputs sent by the command line as the
person themselves, entered by an operator for someone else (assisted: a reason is required and kept),
sent through the stock ``temporal`` CLI (recorded as unauthenticated), and sent by a Python client
claiming a provenance it cannot sign (refused). The auditor's timeline says each in words. A plan can
ask a gate for passkeys or assisted votes only.
"""

from __future__ import annotations

import json

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from tests.bad_inputs.stack import Stack
from tests.cli.test_end_to_end import QUICK_PLAN
from workers.codec import data_converter
from workflows import messages as m

ENGAGEMENT = "sec-identity"


@pytest.fixture(scope="module")
def engagement(stack: Stack) -> str:
    stack.start_engagement(QUICK_PLAN, ENGAGEMENT)
    return ENGAGEMENT


def timeline(stack: Stack, engagement: str) -> list[dict[str, object]]:
    return json.loads(stack.ok("audit", "timeline", engagement, "--json").stdout)


def last_how(stack: Stack, engagement: str, event: str) -> str | None:
    entries = [e for e in timeline(stack, engagement) if e["event"] == event]
    return entries[-1]["how"]  # type: ignore[return-value]


def as_operator(stack: Stack, operator: str, *args: str) -> tuple[int | None, str]:
    """``coproduce ARGS`` run by ``operator`` (COPRODUCE_OPERATOR), whoever ``--as`` names."""
    saved = dict(stack.env)
    stack.env["COPRODUCE_OPERATOR"] = operator
    try:
        done = stack.coproduce(*args)
    finally:
        stack.env.clear()
        stack.env.update(saved)
    return done.returncode, done.stderr.strip()


def test_an_input_entered_by_the_person_themselves_says_so(stack: Stack, engagement: str) -> None:
    stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")
    assert last_how(stack, engagement, "check_in_recorded") == (
        "entered on the command line by u1, with an operator's account"
    )


def test_an_input_for_someone_else_needs_a_reason_and_records_who_entered_it(
    stack: Stack, engagement: str
) -> None:
    before = stack.head()
    code, said = as_operator(stack, "f1", "record", "checkin", engagement, "--person", "u2", "--comfort", "3")
    assert code == 1
    assert said == (
        "error: you are f1, entering this for u2: say why with --for-reason (for example 'by phone, with them')"
    )
    assert stack.head() == before
    code, said = as_operator(
        stack, "f1", "record", "checkin", engagement, "--person", "u2", "--comfort", "3",
        "--for-reason", "by phone, with u2, 3 March",
    )  # fmt: skip
    assert code == 0, said
    assert last_how(stack, engagement, "check_in_recorded") == (
        "entered by f1 for u2 on the command line: by phone, with u2, 3 March"
    )


def test_only_a_facilitator_enters_an_input_for_someone_else(stack: Stack, engagement: str) -> None:
    before = stack.head()
    code, said = as_operator(
        stack,
        "d1",
        "record",
        "checkin",
        engagement,
        "--person",
        "u2",
        "--comfort",
        "3",
        "--for-reason",
        "asked me",
    )
    assert code == 1
    assert said == "error: only a facilitator may enter an input for someone else, and d1 is not one"
    assert stack.head() == before


def test_an_input_through_the_stock_temporal_cli_is_recorded_as_unauthenticated(
    stack: Stack, engagement: str
) -> None:
    done = stack.update(engagement, "record_check_in", json.dumps({"person_id": "u3", "comfort": 4}))
    assert done.returncode == 0, done.output
    assert last_how(stack, engagement, "check_in_recorded") == (
        "sent through another Temporal client, unauthenticated: nobody vouches for who sent it"
    )


async def test_a_provenance_the_installation_did_not_sign_is_refused(stack: Stack, engagement: str) -> None:
    before = stack.head()
    client = await Client.connect(str(stack.info()["temporal_address"]), data_converter=data_converter())
    claimed = m.Provenance(
        channel="web", authentication="passkey", entered_by="u3", key="coproduce/eventlog/writer+00000000",
        signature="AAAA",
    )  # fmt: skip
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await client.get_workflow_handle(engagement).execute_update(
            "record_check_in",
            m.RecordCheckIn(person_id="u3", comfort=5, provenance=claimed),
            id="claims-a-passkey",
        )
    cause = refused.value.cause
    assert getattr(cause, "message", None) == (
        "the input says how it was sent, but this installation did not sign that; send it through coproduce "
        "(the web app or the command line), or without provenance"
    )
    assert stack.head() == before


def test_events_from_before_identities_were_recorded_still_read(stack: Stack, engagement: str) -> None:
    """What followed by itself (a phase starting) says nothing of how it was sent: no input sent it."""
    started = next(e for e in timeline(stack, engagement) if e["event"] == "phase_started")
    assert started["how"] is None
