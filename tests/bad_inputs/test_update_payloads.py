"""Bad update payloads sent with the stock `temporal` CLI, as any approver or script may send them
(docs/approvers.md): malformed JSON, wrong types, unknown ids, out-of-range values, back- and
future-dated inputs, enormous strings, control characters and NUL bytes.

The workflow's validators are the only gate here (the `coproduce` command is not in the way), so each
bad payload must be refused by the workflow itself, with one sentence, and leave the log unchanged.
(tests/workflows/test_worker_and_cli_contract.py sends five others; none is repeated.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_end_to_end import QUICK_PLAN

from .stack import ProductBug, Stack, UnclearMessage, WronglyAccepted, assert_refused, known_bug

DECODING = (
    "the worker's argument decoding refuses it, and the person sees the SDK's raw report: 'Failed decoding "
    "arguments (type: RuntimeError, retryable: true): 1 validation error for ...', pydantic's "
    "[type=..., input_value=...] and an errors.pydantic.dev link, instead of one sentence"
)


@dataclass(frozen=True)
class PayloadCase:
    id: str
    update: str
    inputs: tuple[str, ...]  # JSON texts, one --input each
    expected: tuple[str, ...]
    bug: type[ProductBug] | None = None
    why: str = ""
    huge_field: str | None = None  # send {..., field: 1 MB} with --input-file instead
    extra: tuple[str, ...] = ()  # more options for `temporal workflow update execute`


CASES = [
    # -- malformed JSON, or not one JSON object ----------------------------------------------------------
    PayloadCase("trailing-comma", "record_check_in", ('{"person_id": "u1", "comfort": 4,}',),
                ("input #1 is not valid JSON",)),
    PayloadCase("a-list-not-an-object", "record_check_in", ("[1, 2]",), ("object",), UnclearMessage, DECODING),
    PayloadCase("no-input-at-all", "pause", (), ("by", "reason"), UnclearMessage,
                "says 'EngagementWorkflow._v_pause() missing 1 required positional argument: 'msg' (type: "
                "TypeError ...)': Python internals, not what to send"),
    PayloadCase("two-inputs", "pause", ('{"by": "f1", "reason": "a"}', '{"by": "f1", "reason": "b"}'),
                ("one input",), UnclearMessage,
                "says 'EngagementWorkflow._v_pause() takes 2 positional arguments but 3 were given'"),
    PayloadCase("json-marked-as-binary", "decide_gate", ('{"person_id": "u1", "phase_id": "setup", "choice": "approve"}',),
                ("encoding",), UnclearMessage,
                "with --input-meta encoding=binary/plain the payload reaches the validator as bytes, not as "
                "DecideGate (the converter does not enforce the type hint for binary payloads); it is refused "
                "only by accident: \"'bytes' object has no attribute 'phase_id' (type: AttributeError)\"",
                extra=("--input-meta", "encoding=binary/plain")),
    PayloadCase("duplicate-key", "record_check_in", ('{"person_id": "u1", "comfort": 5, "comfort": 1}',),
                ("comfort", "twice"), WronglyAccepted,
                "a key given twice is accepted silently and the last wins (comfort 1 is recorded); plans "
                "refuse duplicate keys, updates should too"),
    # -- wrong types -------------------------------------------------------------------------------------
    PayloadCase("comfort-with-a-fraction", "record_check_in", ('{"person_id": "u1", "comfort": 4.5}',),
                ("comfort", "4.5"), UnclearMessage, DECODING),
    PayloadCase("comfort-true", "record_check_in", ('{"person_id": "u1", "comfort": true}',),
                ("comfort",), WronglyAccepted,
                "JSON true is taken as comfort 1 (pydantic's lax mode) and recorded as a check-in"),
    PayloadCase("person-id-a-number", "record_check_in", ('{"person_id": 7, "comfort": 4}',),
                ("person_id",), UnclearMessage, DECODING),
    # -- unknown ids, out-of-range values ------------------------------------------------------------
    PayloadCase("comfort-above-the-scale", "record_check_in", ('{"person_id": "u1", "comfort": 6}',),
                ("comfort 6 is outside the scale 1..5",)),
    PayloadCase("vote-by-a-stranger", "decide_gate", ('{"person_id": "zz9", "phase_id": "setup", "choice": "approve"}',),
                ("zz9 is not part of this engagement",)),
    PayloadCase("vote-on-a-phase-not-in-the-plan", "decide_gate",
                ('{"person_id": "d2", "phase_id": "nowhere", "choice": "approve"}',),
                ("there is no phase 'nowhere'",)),
    PayloadCase("unknown-decision-area", "change_rung",
                ('{"area_id": "nope", "to_rung": "co-design", "agreed_by": ["d1"]}',),
                ("there is no decision area 'nope' in the plan",)),
    PayloadCase("paying-more-than-is-owed", "record_recognition",
                ('{"by": "f1", "person_id": "u1", "fee_pence": 999999999, "form": "payment"}',),
                ("u1 is owed 0p in fees and 0p in expenses, less than the 999999999p and 0p paid",)),
    PayloadCase("unknown-update-name", "record_checkin", ('{"person_id": "u1", "comfort": 4}',),
                ("Update handler for 'record_checkin' expected but not found", "record_check_in")),
    # -- back-dated and future-dated inputs (the workflow's clock decides when things happen) ------------
    PayloadCase("check-in-back-dated-to-1900", "record_check_in",
                ('{"person_id": "u1", "comfort": 4, "occurred_at": "1900-01-01T00:00:00Z"}',),
                ("occurred_at",), UnclearMessage, DECODING),
    PayloadCase("vote-dated-in-2999", "decide_gate",
                ('{"person_id": "d2", "phase_id": "setup", "choice": "approve", "cast_at": "2999-01-01T00:00:00Z"}',),
                ("cast_at",), UnclearMessage, DECODING),
    # -- enormous strings, control characters --------------------------------------------------------------
    PayloadCase("pause-reason-of-1-mb", "pause", ('{"by": "f1"}',), ("reason", "20000"), huge_field="reason"),
    PayloadCase("lone-surrogate-in-note", "record_check_in",
                ('{"person_id": "u1", "comfort": 4, "note": "a\\ud800b"}',), ("note",), UnclearMessage,
                "says 'Invalid JSON: unexpected end of hex escape' inside the raw decoding report"),
    PayloadCase("terminal-escapes-in-note", "record_check_in",
                ('{"person_id": "u1", "comfort": 4, "note": "fine \\u001b[2J\\u001b[31mred\\u0007"}',),
                ("note", "control character")),
]  # fmt: skip


def _params() -> list[object]:
    return [
        pytest.param(case, id=case.id, marks=[known_bug(case.bug, case.why)] if case.bug else [])
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
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
    assert_refused(outcome, before, stack.head(), case.expected)


def test_an_unknown_engagement_is_named(stack: Stack) -> None:
    before = stack.head()
    outcome = stack.update("nope-1", "record_check_in", '{"person_id": "u1", "comfort": 4}')
    assert_refused(outcome, before, stack.head(), ("workflow not found for ID: nope-1",))


def test_a_nul_byte_in_a_note_is_refused(stack: Stack) -> None:
    engagement = stack.start_engagement(QUICK_PLAN, "nul-note-1")  # its own: the bug wedges it
    before = stack.head()
    try:
        outcome = stack.update(
            engagement, "record_check_in", '{"person_id": "u1", "comfort": 4, "note": "a\\u0000b"}', timeout=6
        )
        assert_refused(outcome, before, stack.head(), ("note",))
        after = stack.update(engagement, "record_check_in", '{"person_id": "u2", "comfort": 4}', timeout=8)
        assert after.returncode == 0, f"the engagement still takes input: {after.output}"
    finally:
        stack.terminate(engagement)
