"""What a facilitator records without the stock `temporal` CLI: adding someone to a running engagement,
widening the cohort (refused before the wider group's phase), recognition paid, and where a decision area stands on the ladder; each refused
in one sentence, with nothing recorded, when it does not fit the engagement.

Run against the session's ``coproduce up`` stack, as a facilitator at a terminal runs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest

from tests.bad_inputs.stack import Stack, shared_stack
from tests.cli.test_end_to_end import QUICK_PLAN

ENGAGEMENT = "facilitating-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        running.start_engagement(QUICK_PLAN, ENGAGEMENT)
        yield running


def recorded(stack: Stack, event_type: str) -> list[dict[str, object]]:
    return [payload for kind, payload in stack.events(ENGAGEMENT) if kind == event_type]


def test_people_add_records_the_person_by_id_and_keeps_their_name_in_the_register(stack: Stack) -> None:
    added = stack.ok(
        "people", "add", ENGAGEMENT, "u9", "--name", "Nia Newcomer", "--constituency", "service_user",
        "--role", "user-rep", "--contact", "nia@example.org", "--as", "f1", "--json",
    )  # fmt: skip
    assert json.loads(added.stdout)["events"] == ["participant_joined"]
    [joined] = recorded(stack, "participant_joined")
    assert joined["person_id"] == "u9" and joined["roles"] == ["user-rep"]
    assert "Nia" not in json.dumps(stack.events(ENGAGEMENT))  # the name is never in the log
    listed = {
        row["person_id"]: row for row in json.loads(stack.ok("people", "list", ENGAGEMENT, "--json").stdout)
    }
    assert listed["u9"]["name"] == "Nia Newcomer" and listed["u9"]["constituency"] == "service_user"

    before = stack.head()
    again = stack.coproduce(
        "people", "add", ENGAGEMENT, "u9", "--name", "Someone Else", "--constituency", "carer", "--as", "f1"
    )
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1, again.output
    assert "u9" in again.stderr and "Traceback" not in again.stderr
    assert stack.head() == before


def test_people_add_refuses_a_role_the_plan_does_not_have_and_a_bad_constituency(stack: Stack) -> None:
    before = stack.head()
    no_role = stack.coproduce(
        "people", "add", ENGAGEMENT, "u8", "--name", "Ola", "--constituency", "service_user",
        "--role", "tenant-chair", "--as", "f1",
    )  # fmt: skip
    assert no_role.returncode == 1 and "tenant-chair" in no_role.stderr, no_role.output
    constituency = stack.coproduce(
        "people", "add", ENGAGEMENT, "u8", "--name", "Ola", "--constituency", "tenant", "--as", "f1"
    )
    assert constituency.returncode == 1 and constituency.stderr.startswith("error: constituency"), (
        constituency.output
    )
    assert stack.head() == before
    names = {row["person_id"] for row in json.loads(stack.ok("people", "list", ENGAGEMENT, "--json").stdout)}
    assert "u8" not in names


def test_recognition_paid_is_recorded_and_more_than_is_owed_refused(stack: Stack) -> None:
    # Two hours at the plan's 2,000p an hour, and 420p of bus fares: 4,000p and 420p owed.
    stack.ok("record", "contribution", ENGAGEMENT, "--as", "f1", "--person", "u1", "--minutes", "120",
             "--expenses-pence", "420")  # fmt: skip
    stack.ok(
        "record", "recognition", ENGAGEMENT, "--as", "f1", "--person", "u1", "--fee-pence", "2500",
        "--expenses-pence", "420", "--form", "payment",
    )  # fmt: skip
    [paid] = recorded(stack, "recognition_paid")
    assert paid["person_id"] == "u1" and paid["fee_pence"] == 2500 and paid["form"] == "payment"
    before = stack.head()
    refused = stack.coproduce(
        "record",
        "recognition",
        ENGAGEMENT,
        "--as",
        "f1",
        "--person",
        "u1",
        "--fee-pence",
        "-5",
        "--form",
        "payment",
    )
    assert refused.returncode == 1 and refused.stderr.startswith("error: fee_pence"), refused.output
    assert stack.head() == before


def test_the_ladder_rung_agreed_is_recorded_and_an_unknown_area_refused(stack: Stack) -> None:
    stack.ok("ladder", "set", ENGAGEMENT, "--area", "policy", "--to", "engagement", "--agreed-by", "d1",
             "--agreed-by", "u1")  # fmt: skip
    [moved] = recorded(stack, "rung_changed")
    assert moved["area_id"] == "policy" and moved["to_rung"] == "engagement"
    before = stack.head()
    refused = stack.coproduce(
        "ladder", "set", ENGAGEMENT, "--area", "housing", "--to", "co-design", "--agreed-by", "d1"
    )
    assert refused.returncode == 1 and "housing" in refused.stderr, refused.output
    assert stack.head() == before


def test_widening_the_cohort_before_the_wider_groups_phase_is_refused(stack: Stack) -> None:
    # (Widening in the wider group's phase goes through the same update: tests/workflows drive it.)
    before = stack.head()
    early = stack.coproduce("engagement", "widen", ENGAGEMENT, "--as", "f1")
    assert early.returncode == 1, early.output
    assert early.stderr.strip() == (
        "error: the cohort widens in a running phase that works with the wider group, not 'setup'"
    )
    assert stack.head() == before and recorded(stack, "cohort_widened") == []


def test_a_service_user_asks_for_a_pause_and_an_unknown_change_cannot_be_co_signed(stack: Stack) -> None:
    asked = stack.ok(
        "engagement", "request-pause", ENGAGEMENT, "--as", "u1", "--reason", "Too much at once.", "--json"
    )
    assert json.loads(asked.stdout)["events"] == ["pause_requested"]
    [request] = recorded(stack, "pause_requested")
    assert (
        request["requested_by"] == "u1" and recorded(stack, "engagement_paused") == []
    )  # facilitators decide

    before = stack.head()
    for words in (("cosign", ENGAGEMENT, "change-7"), ("decline", ENGAGEMENT, "change-7", "--reason", "No.")):
        refused = stack.coproduce("engagement", *words, "--as", "d1")
        assert refused.returncode == 1, refused.output
        assert refused.stderr.strip() == "error: there is no proposed change 'change-7' in this engagement"
    assert stack.head() == before


def test_outputs_and_decisions_are_recorded_and_status_shows_the_practised_rung(stack: Stack) -> None:
    drafted = stack.ok(
        "record", "output", ENGAGEMENT, "repairs-policy", "--kind", "policy", "--stage", "drafted",
        "--title", "Repairs policy 2027", "--took-part", "u1,d1", "--as", "f1", "--json",
    )  # fmt: skip
    assert json.loads(drafted.stdout)["events"] == ["output_recorded"]
    [output] = recorded(stack, "output_recorded")
    assert output["stage"] == "drafted" and output["took_part"] == ["u1", "d1"]
    assert "Repairs policy" not in json.dumps(output)  # the organisation's text is sealed in the log

    today = date.today().isoformat()
    before = stack.head()
    for args, sentence in (
        (("--on", today, "--rung", "co-production", "--took-part", "d1,d2"), "needs a service user or carer"),
        (("--on", "2026-13-01", "--rung", "consultation", "--took-part", "d1"), "decided_on"),
        (("--on", today, "--rung", "partnership", "--took-part", "d1"), "rung"),
    ):
        refused = stack.coproduce("record", "decision", ENGAGEMENT, "--area", "policy", *args,
                                  "--summary", "Repairs priorities.", "--as", "f1")  # fmt: skip
        assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, refused.output
        assert sentence in refused.stderr, refused.output
    assert stack.head() == before

    stack.ok("record", "decision", ENGAGEMENT, "--area", "policy", "--on", today, "--rung", "co-production",
             "--took-part", "d1,u1", "--summary", "Repairs priorities.", "--as", "f1")  # fmt: skip
    status = json.loads(stack.ok("engagement", "status", ENGAGEMENT, "--json").stdout)
    policy = next(area for area in status["ladder"] if area["area_id"] == "policy")
    assert policy["practised"] == "co-production" and policy["share_with_service_users"] == 1.0
    shown = stack.ok("engagement", "status", ENGAGEMENT).stdout
    assert "Decision areas: agreed and practised" in shown and "100% of 1" in shown


def test_a_person_is_forgotten_in_every_engagement_they_take_part_in_in_one_step(stack: Stack) -> None:
    stack.start_engagement(QUICK_PLAN, "forget-elsewhere")
    stack.ok("people", "same", ENGAGEMENT, "u3", "forget-elsewhere", "u3")  # the same human on two panels
    done = stack.ok(
        "people", "forget", ENGAGEMENT, "u3", "--everywhere", "--as", "f1", "--reason",
        "Erasure request by email, 2026-12-01.", "--json",
    )  # fmt: skip
    forgotten = json.loads(done.stdout)
    assert [(row["engagement_id"], row["person_id"]) for row in forgotten] == [
        (ENGAGEMENT, "u3"),
        ("forget-elsewhere", "u3"),
    ]
    for engagement_id in (ENGAGEMENT, "forget-elsewhere"):
        listed = {
            row["person_id"]: row
            for row in json.loads(stack.ok("people", "list", engagement_id, "--json").stdout)
        }
        assert "Una" not in json.dumps(listed), listed  # the name is gone from both registers
    before = stack.head()
    again = stack.ok("people", "forget", ENGAGEMENT, "u3", "--everywhere", "--as", "f1", "--reason", "Again.")
    assert again.stdout.count("(forgotten already)") == 2 and stack.head() == before


def test_a_withdrawal_of_consent_is_recorded_and_later_inputs_are_refused(stack: Stack) -> None:
    stack.ok("people", "basis", ENGAGEMENT, "u2", "--basis", "consent", "--as", "f1")
    stack.ok("people", "withdraw", ENGAGEMENT, "u2", "--as", "f1", "--for-reason", "phoned to say so")
    assert [p["person_id"] for p in recorded(stack, "consent_withdrawn")] == ["u2"]
    before = stack.head()
    refused = stack.coproduce("record", "checkin", ENGAGEMENT, "--person", "u2", "--comfort", "3")
    assert refused.returncode == 1, refused.output
    assert "u2 withdrew their consent on " in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert stack.head() == before
