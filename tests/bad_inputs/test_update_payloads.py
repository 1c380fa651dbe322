"""Bad update payloads sent with the stock `temporal` CLI, as any approver or script may send them
(docs/approvers.md): malformed JSON, wrong types, unknown ids, out-of-range values, back- and
future-dated inputs, enormous strings, control characters and NUL bytes.

The workflow's validators are the only gate here (the `coproduce` command is not in the way), so each
bad payload must be refused by the workflow itself, with one sentence (each case gives it, exactly), and
leave the log unchanged.
(tests/workflows/test_worker_and_cli_contract.py sends five others; none is repeated.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_end_to_end import QUICK_PLAN

from .stack import Stack, assert_refused, said_by_the_workflow

CHECK_IN = "a JSON object with person_id and comfort, and optionally note"
PAUSE = "a JSON object with by and reason"
ID_RULE = "is not an id: use lower-case letters, digits, '-' and '_', up to 64 characters"


@dataclass(frozen=True)
class PayloadCase:
    id: str
    update: str
    inputs: tuple[str, ...]  # JSON texts, one --input each
    expected: str  # the workflow's sentence, exactly
    huge_field: str | None = None  # send {..., field: 1 MB} with --input-file instead
    extra: tuple[str, ...] = ()  # more options for `temporal workflow update execute`


CASES = [
    # -- malformed JSON, or not one JSON object ----------------------------------------------------------
    PayloadCase("a-list-not-an-object", "record_check_in", ("[1, 2]",),
                f"the input of record_check_in must be {CHECK_IN}, not a list"),
    PayloadCase("no-input-at-all", "pause", (), f"pause needs one input: {PAUSE}"),
    PayloadCase("two-inputs", "pause", ('{"by": "f1", "reason": "a"}', '{"by": "f1", "reason": "b"}'),
                f"pause takes one input, not 2: {PAUSE}"),
    PayloadCase("json-marked-as-binary", "decide_gate", ('{"person_id": "u1", "phase_id": "setup", "choice": "approve"}',),
                "the input of decide_gate is marked as binary data (encoding binary/plain); send it as JSON "
                "(encoding json/plain, the default)",
                extra=("--input-meta", "encoding=binary/plain")),
    PayloadCase("duplicate-key", "record_check_in", ('{"person_id": "u1", "comfort": 5, "comfort": 1}',),
                "the input of record_check_in gives the key 'comfort' twice; give each key once"),
    PayloadCase("duplicate-key-in-the-plan-of-an-amendment", "amend_plan",
                ('{"by": "f1", "reason": "r", "plan": {"title": "A", "title": "B"}}',),
                "the input of amend_plan gives the key 'title' twice; give each key once"),
    # -- wrong types -------------------------------------------------------------------------------------
    PayloadCase("comfort-with-a-fraction", "record_check_in", ('{"person_id": "u1", "comfort": 4.5}',),
                "comfort must be a whole number, not 4.5"),
    PayloadCase("comfort-true", "record_check_in", ('{"person_id": "u1", "comfort": true}',),
                "comfort must be a whole number, not true"),
    PayloadCase("comfort-a-string", "record_check_in", ('{"person_id": "u1", "comfort": "4"}',),
                "comfort must be a whole number, not '4'"),
    PayloadCase("person-id-a-number", "record_check_in", ('{"person_id": 7, "comfort": 4}',),
                "person_id must be text, not 7"),
    PayloadCase("person-id-in-capitals", "record_check_in", ('{"person_id": "U1", "comfort": 4}',),
                f"person_id 'U1' {ID_RULE}"),
    PayloadCase("baseline-a-number", "record_measurement",
                ('{"by": "f1", "indicator": "attendance", "value": 5, "baseline": 1}',),
                "baseline must be true or false, not 1"),
    PayloadCase("agreed-by-a-string", "agree_evaluation_strategy", ('{"agreed_by": "d1"}',),
                "agreed_by must be a list, not 'd1'"),
    PayloadCase("measurement-too-large-for-a-float", "record_measurement",
                ('{"by": "f1", "indicator": "attendance", "value": 1e309}',),
                "value must be a finite number, not inf"),
    # -- unknown ids, out-of-range values ------------------------------------------------------------
    PayloadCase("comfort-above-the-scale", "record_check_in", ('{"person_id": "u1", "comfort": 6}',),
                "comfort 6 is outside the scale 1..5"),
    PayloadCase("vote-by-a-stranger", "decide_gate", ('{"person_id": "zz9", "phase_id": "setup", "choice": "approve"}',),
                "zz9 is not part of this engagement"),
    PayloadCase("vote-on-a-phase-not-in-the-plan", "decide_gate",
                ('{"person_id": "d2", "phase_id": "nowhere", "choice": "approve"}',),
                "there is no phase 'nowhere' in the plan"),
    PayloadCase("vote-maybe", "decide_gate", ('{"person_id": "d2", "phase_id": "setup", "choice": "maybe"}',),
                "choice must be 'approve', 'object' or 'abstain', not 'maybe'"),
    PayloadCase("unknown-decision-area", "change_rung",
                ('{"area_id": "nope", "to_rung": "co-design", "agreed_by": ["d1"]}',),
                "there is no decision area 'nope' in the plan"),
    PayloadCase("paying-more-than-is-owed", "record_recognition",
                ('{"by": "f1", "person_id": "u1", "fee_pence": 999999999, "form": "payment"}',),
                "u1 is owed 0p in fees and 0p in expenses, less than the 999999999p and 0p paid"),
    PayloadCase("unknown-update-name", "record_checkin", ('{"person_id": "u1", "comfort": 4}',),
                "there is no update 'record_checkin'; did you mean 'record_check_in'?"),
    # -- back-dated and future-dated inputs (the workflow's clock decides when things happen) ------------
    PayloadCase("check-in-back-dated-to-1900", "record_check_in",
                ('{"person_id": "u1", "comfort": 4, "occurred_at": "1900-01-01T00:00:00Z"}',),
                "record_check_in has no field 'occurred_at'; its fields are person_id, comfort and note "
                "(the engagement's own clock says when things happen)"),
    PayloadCase("vote-dated-in-2999", "decide_gate",
                ('{"person_id": "d2", "phase_id": "setup", "choice": "approve", "cast_at": "2999-01-01T00:00:00Z"}',),
                "decide_gate has no field 'cast_at'; its fields are person_id, phase_id, choice and reason "
                "(the engagement's own clock says when things happen)"),
    # -- enormous strings, control characters --------------------------------------------------------------
    PayloadCase("pause-reason-of-1-mb", "pause", ('{"by": "f1"}',),
                "reason has 1,000,000 characters, more than the 20,000 allowed", huge_field="reason"),
    PayloadCase("lone-surrogate-in-note", "record_check_in",
                ('{"person_id": "u1", "comfort": 4, "note": "a\\ud800b"}',),
                "note is not text: it holds half of a UTF-16 surrogate pair (send UTF-8 text)"),
    PayloadCase("terminal-escapes-in-note", "record_check_in",
                ('{"person_id": "u1", "comfort": 4, "note": "fine \\u001b[2J\\u001b[31mred\\u0007"}',),
                "note contains the control character U+001B (remove it)"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_payload_from_the_stock_cli_is_refused_and_changes_nothing(
    stack: Stack, engagement: str, tmp_path: Path, case: PayloadCase
) -> None:
    input_file = None
    inputs = case.inputs
    if case.huge_field:
        payload = {**json.loads(inputs[0]), case.huge_field: "x" * 1_000_000}
        input_file = tmp_path / "payload.json"
        input_file.write_text(json.dumps(payload))
        inputs = ()
    before = stack.head()
    outcome = stack.update(engagement, case.update, *inputs, input_file=input_file, extra=case.extra)
    assert_refused(outcome, before, stack.head(), said_by_the_workflow(case.expected))


def test_malformed_json_is_refused_by_the_stock_cli(stack: Stack, engagement: str) -> None:
    """The CLI checks the JSON itself, before anything is sent."""
    before = stack.head()
    outcome = stack.update(engagement, "record_check_in", '{"person_id": "u1", "comfort": 4,}')
    assert_refused(outcome, before, stack.head(), "Error: input #1 is not valid JSON")


def test_an_unknown_engagement_is_named(stack: Stack) -> None:
    before = stack.head()
    outcome = stack.update("nope-1", "record_check_in", '{"person_id": "u1", "comfort": 4}')
    assert_refused(
        outcome, before, stack.head(), "Error: unable to update workflow: workflow not found for ID: nope-1"
    )


def test_a_nul_byte_in_a_note_is_refused(stack: Stack) -> None:
    engagement = stack.start_engagement(QUICK_PLAN, "nul-note-1")  # its own: the bug wedges it
    before = stack.head()
    try:
        outcome = stack.update(
            engagement, "record_check_in", '{"person_id": "u1", "comfort": 4, "note": "a\\u0000b"}', timeout=6
        )
        assert_refused(
            outcome,
            before,
            stack.head(),
            said_by_the_workflow("note contains the control character U+0000 (remove it)"),
        )
        after = stack.update(engagement, "record_check_in", '{"person_id": "u2", "comfort": 4}', timeout=8)
        assert after.returncode == 0, f"the engagement still takes input: {after.output}"
    finally:
        stack.terminate(engagement)
