"""Only votes that can count are taken, whatever client sends them.

An engagement from the quick plan of the CLI tests runs with its 'train' gate open: a vote (two
approvals; a decision maker's and a service user's), decided by board members and service-user
representatives, who need the 'sdm' training for it. People who may not decide it try anyway, through
the `coproduce` command, the stock `temporal` CLI, a Python temporalio client, and raw payloads crafted
past the client's own models. Every attempt must be refused, leave the log unchanged, and leave the
gate without their vote. Two ways around the rules that this catalogue found (anyone recording training, anyone adding a
decision maker) are now refused: only a facilitator may do either; the tests guard that.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.converter import DataConverter, DefaultPayloadConverter

from tests.bad_inputs.stack import Stack, WronglyAccepted
from tests.cli.test_end_to_end import QUICK_PLAN
from workers.codec import data_converter
from workflows import messages as m

ENGAGEMENT = "sec-votes"
D2_SETUP_VOTE = "vote-d2-setup"

# Who may not decide the 'train' gate, and the sentence that says why.
NOT_ALLOWED = {
    "u1": "u1 has not completed the training module 'sdm'",
    "u4": "u4 belongs to the wider group, which has not been formed yet",
    "s1": "s1 is not on the roster for gate 'train': their roles (none) are not among its deciding roles",
    "d1": "d1 is not on the roster for gate 'train': their roles (sponsor) are not among its deciding roles",
    "zz9": "zz9 is not part of this engagement",
}
CLIENTS = ("coproduce", "temporal-cli", "python-client")


class PassThroughPayloads(DefaultPayloadConverter):
    """Sends ``Payload`` objects as they are: bytes and metadata chosen by the caller, no model in the way."""

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        return [v if isinstance(v, Payload) else super().to_payloads([v])[0] for v in values]


def raw(data: bytes, encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding}, data=data)


def vote(person: str, **extra: object) -> dict[str, object]:
    return {"person_id": person, "phase_id": "train", "choice": "approve", **extra}


CRAFTED = {
    "claims-to-be-counted-and-authorised": raw(json.dumps(vote(
        "u1", counted=True, authorised=True, constituency="decision_maker", required_modules=[])).encode()),
    "id-with-trailing-space": raw(json.dumps(vote("u1 ")).encode()),
    "id-in-capitals": raw(json.dumps(vote("U1")).encode()),
    "two-people-in-one-vote": raw(json.dumps(vote(["u1", "d3"])).encode()),  # type: ignore[arg-type]
    "json-sent-as-binary": raw(json.dumps(vote("u1")).encode(), b"binary/plain"),
    "null-payload": raw(b"", b"binary/null"),
    "sql-as-person-id": raw(json.dumps(vote("u1'); DELETE FROM eventlog.events; --")).encode()),
}  # fmt: skip


@pytest.fixture(scope="module")
def train_gate(stack: Stack) -> str:
    stack.start_engagement(QUICK_PLAN, ENGAGEMENT)
    stack.ok("record", "checkin", ENGAGEMENT, "--person", "u1", "--comfort", "4")
    approve = ("--as", "d2", "--approve", "--update-id", D2_SETUP_VOTE)
    stack.ok("gate", "decide", ENGAGEMENT, "--phase", "setup", *approve)
    gate = stack.status(ENGAGEMENT)["gate"]
    assert isinstance(gate, dict) and gate["phase_id"] == "train" and gate["status"] == "open", gate
    assert gate["votes"] == [] and sorted(gate["may_still_vote"]) == ["d2", "d3"], gate
    return ENGAGEMENT


async def _client(stack: Stack, converter: DataConverter | None = None) -> Client:
    """A Python client of the stack; by default with coproduce's converter, as a script would use it."""
    return await Client.connect(
        str(stack.info()["temporal_address"]), data_converter=converter or data_converter()
    )


def _assert_nothing_counted(stack: Stack, engagement: str, before: tuple[int, str]) -> None:
    assert stack.head() == before, "the refused vote changed the log"
    gate = stack.status(engagement)["gate"]
    assert isinstance(gate, dict) and gate["phase_id"] == "train" and gate["status"] == "open", gate
    assert gate["votes"] == [], gate["votes"]


@pytest.mark.parametrize("person", sorted(NOT_ALLOWED))
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_vote_that_could_not_count_is_refused_from_every_client(
    stack: Stack, train_gate: str, client: str, person: str
) -> None:
    before = stack.head()
    if client == "coproduce":
        done = stack.coproduce("gate", "decide", train_gate, "--phase", "train", "--as", person, "--approve")
        assert done.returncode == 1 and NOT_ALLOWED[person] in done.stderr, done.output
    elif client == "temporal-cli":
        done = stack.update(train_gate, "decide_gate", json.dumps(vote(person)))
        assert done.returncode == 1 and NOT_ALLOWED[person] in done.stderr, done.output
    else:
        handle = (await _client(stack)).get_workflow_handle(train_gate)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                "decide_gate",
                m.DecideGate(person_id=person, phase_id="train", choice="approve"),
                id=f"py-{person}",
            )
        assert NOT_ALLOWED[person] in str(refused.value.cause)
    _assert_nothing_counted(stack, train_gate, before)


@pytest.mark.parametrize("payload", sorted(CRAFTED))
async def test_a_crafted_payload_cannot_slip_a_vote_past_the_validator(
    stack: Stack, train_gate: str, payload: str
) -> None:
    before = stack.head()
    handle = (
        await _client(stack, DataConverter(payload_converter_class=PassThroughPayloads))
    ).get_workflow_handle(train_gate)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("decide_gate", CRAFTED[payload], id=f"crafted-{payload}")
    _assert_nothing_counted(stack, train_gate, before)


async def test_reusing_someone_elses_update_id_records_no_vote(stack: Stack, train_gate: str) -> None:
    """The update id is an idempotency key: u1 sending a vote under d2's earlier key gets d2's old
    result back (Temporal and the workflow both dedup on the key), and no vote of u1's is recorded."""
    before = stack.head()
    stack.update(train_gate, "decide_gate", json.dumps(vote("u1")), update_id=D2_SETUP_VOTE)
    handle = (await _client(stack)).get_workflow_handle(train_gate)
    with contextlib.suppress(WorkflowUpdateFailedError):
        await handle.execute_update(
            "decide_gate", m.DecideGate(person_id="u1", phase_id="train", choice="approve"), id=D2_SETUP_VOTE
        )
    _assert_nothing_counted(stack, train_gate, before)


def _counted_votes(stack: Stack, engagement: str) -> list[str]:
    gate = stack.status(engagement)["gate"] or {}
    return [v["person_id"] for v in gate.get("votes", []) if v["counted"]]  # type: ignore[union-attr]


def test_an_untrained_person_cannot_train_themselves_into_a_vote(stack: Stack) -> None:
    engagement = stack.start_engagement(QUICK_PLAN, "sec-self-training")
    stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")
    stack.ok("gate", "decide", engagement, "--phase", "setup", "--as", "d2", "--approve")
    before = stack.head()
    trained = stack.update(
        engagement, "record_training", '{"by": "u1", "person_id": "u1", "module_id": "sdm"}'
    )
    if trained.returncode == 0:
        voted = stack.update(engagement, "decide_gate", json.dumps(vote("u1")))
        raise WronglyAccepted(
            f"u1 recorded their own training (log {before} -> {stack.head()}); their vote then "
            f"{'was' if voted.returncode == 0 else 'was not'} accepted; counted votes: {_counted_votes(stack, engagement)}"
        )
    assert stack.head() == before


def test_a_stranger_cannot_add_a_decision_maker_to_the_roster(stack: Stack) -> None:
    engagement = stack.start_engagement(QUICK_PLAN, "sec-newcomer")  # the 'setup' gate has not opened yet
    before = stack.head()
    added = stack.update(
        engagement,
        "add_participant",
        '{"by": "zz9", "person_id": "x9", "constituency": "decision_maker", "roles": ["sponsor"]}',
    )
    if added.returncode == 0:
        stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "4")  # the gate opens
        voted = stack.update(
            engagement, "decide_gate", '{"person_id": "x9", "phase_id": "setup", "choice": "approve"}'
        )
        raise WronglyAccepted(
            f"zz9 (not in the plan) added x9 as a decision maker; x9's vote on 'setup' was "
            f"{'accepted' if voted.returncode == 0 else 'refused'}; "
            f"events: {[t for t, _ in stack.events(engagement)][-4:]}"
        )
    assert stack.head() == before
