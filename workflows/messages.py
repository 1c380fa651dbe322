"""The engagement workflow's public contract: its input, its updates' inputs and results, its status.

Update names and these JSON shapes are what operators, approvers and scripts send, also through the
stock ``temporal`` CLI, for example::

    temporal workflow update execute --workflow-id eng-42 --name decide_gate \\
        --input '{"person_id": "t01", "phase_id": "training", "choice": "approve"}'

Unknown fields are refused (a typo must not be silently ignored), and so is a key given twice; every
field is strict: ``true`` is not a comfort of 1, ``"4"`` is not 4, ``4.5`` is not a whole number (lists
stand for tuples, as JSON has no tuples). People are named by their opaque id from the plan. Who acts
is ``by`` where a message has it (the facilitator recording a session or a training, the person
pausing); a vote and a check-in are the act of their ``person_id`` themselves; the evaluation strategy
and a ladder move are agreed by everyone in ``agreed_by``. ``read_input`` reads an update's message
from what the worker received, refusing anything else with one sentence.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, Strict, ValidationError

from domain.engagement import EngagementState
from domain.events.gates import VoteChoice
from domain.events.outputs import OutputKind, OutputStage
from domain.events.people import LawfulBasis
from domain.plan import Plan
from domain.rules.indicators import IndicatorProgress
from domain.rules.ladder import LadderPosition
from domain.rules.pace import PaceCheck
from domain.rules.schedule import DueItem
from domain.sentences import shown, validation_sentence
from domain.vocabulary import (
    ActivityType,
    Cohort,
    Constituency,
    EngagementId,
    Identifier,
    Rung,
)
from workflows.contracts import ForeignEvent

OricItem = float
T = TypeVar("T")
# A sequence in a message: a JSON list, or a list or tuple in Python, of strictly checked items.
Items = Annotated[tuple[T, ...], Strict(False)]


# Free text in a message is taken as sent and checked when the domain event is made (length, no control
# characters), so a refusal is one sentence from the validator, not a decoding error from the SDK.
FreeText = str


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)


# -- who sent an input, and how we know -------------------------------------------------------------------
class Provenance(Message):
    """How an input reached the engagement, vouched for by the installation: through which entrance,
    how the person who sent it was authenticated, who that was, and, when they entered it for someone
    else (an *assisted* input: a facilitator entering a tenant's vote, the tenant present), why.

    ``signature`` is the installation's writer key's Ed25519 signature over the input and these fields
    (``input_signing_bytes``), checked by the validator against the keys the engagement was started
    with; an input without provenance (the stock ``temporal`` CLI, another client) is recorded as
    unauthenticated, and one whose signature does not check is refused."""

    channel: Literal["web", "cli"]
    authentication: Literal["sign_in_link", "one_time_code", "passkey", "operator"]
    entered_by: Identifier
    assisted_reason: FreeText | None = None
    key: str
    signature: str


class Input(Message):
    """An update's input: its own fields, and how it reached the engagement (``provenance``)."""

    provenance: Provenance | None = None


INPUT_SIGNING_CONTEXT = b"coproduce/input/v1\n"


def input_signing_bytes(engagement_id: str, update: str, update_id: str, msg: Input) -> bytes:
    """What the writer key signs for an input: the engagement, the update, its id, the input's fields and
    its provenance (but the signature), as canonical JSON (RFC 8785) after a context line. An integer beyond
    JSON's safe range (a typed comfort of 99999999999999999999) is signed as its decimal string, so the input
    still reaches the engagement and is refused there in words, not by the signer; each field has one type,
    so this cannot make two different inputs sign alike."""
    from eventlog.canonical import canonical_json

    provenance = msg.provenance.model_dump(mode="json", exclude={"signature"}) if msg.provenance else None
    body = {
        "engagement": engagement_id,
        "update": update,
        "update_id": update_id,
        "input": _json_safe(msg.model_dump(mode="json", exclude={"provenance"})),
        "provenance": provenance,
    }
    return INPUT_SIGNING_CONTEXT + canonical_json(body)


_SAFE_INTEGER = 2**53 - 1


def _json_safe(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > _SAFE_INTEGER:
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def verify_input(keys: Sequence[str], provenance: Provenance, signed: bytes) -> bool:
    """Whether ``provenance.signature`` over ``signed`` is by the key it names, one of ``keys``."""
    verifier = _verifiers(tuple(keys)).get(provenance.key)
    if verifier is None:
        return False
    try:
        signature = base64.b64decode(provenance.signature, validate=True)
    except ValueError:
        return False
    return verifier.verify(signed, signature)


@cache
def _verifiers(keys: tuple[str, ...]) -> dict[str, Any]:
    from eventlog.checkpoint import Verifier
    from eventlog.writers import key_name

    found = {}
    for text in keys:
        try:
            verifier = Verifier.from_key_string(text)
        except ValueError:
            continue
        found[key_name(verifier)] = verifier
    return found


# -- starting --------------------------------------------------------------------------------------------
class StartEngagement(Message):
    """Start an engagement: its id (the workflow id), its validated plan, and who starts it (the lead)."""

    engagement_id: EngagementId
    plan: Plan
    started_by: Identifier
    # The writer keys (public, ``name+id+base64``) whose signatures vouch for inputs' provenance.
    input_keys: Items[str] = ()


class UpdateResult(Message):
    """What an accepted update recorded: the event types, their positions in the log, and a summary."""

    update_id: str
    events: list[str]
    positions: list[int]
    stream_version: int
    summary: str


class Carried(Message):
    """What one run of the workflow hands to the next at continue-as-new."""

    state: EngagementState
    stream_version: int
    lead: Identifier
    # Results of recent updates by id, so an update retried across continue-as-new returns its first result.
    seen_updates: dict[str, UpdateResult] = Field(default_factory=dict)
    runs: PositiveInt = 1
    # Events in the stream this engagement did not write and no operator has disowned yet.
    foreign: list[ForeignEvent] = Field(default_factory=list)
    input_keys: Items[str] = ()


class EngagementInput(Message):
    """The workflow's input: a fresh start, or the state carried over from the previous run."""

    start: StartEngagement | None = None
    carried: Carried | None = None
    # Continue as new after this many history events (None: when Temporal suggests it). For tests.
    continue_as_new_after: PositiveInt | None = None
    # Keep the search attributes (status, phase, organisation) up to date. They must be registered in the
    # namespace (workers do it at start); the time-skipping test server cannot register them.
    search_attributes: bool = True


# -- updates -----------------------------------------------------------------------------------------------
class RecordAssessment(Input):
    by: Identifier
    past_co_production: FreeText
    what_worked: FreeText
    what_did_not_work: FreeText
    approach_to_change: FreeText
    commitment_items: Items[OricItem] = Field(min_length=5, max_length=5)
    efficacy_items: Items[OricItem] = Field(min_length=7, max_length=7)
    respondents: PositiveInt | None = None


class AgreeEvaluationStrategy(Input):
    agreed_by: Items[Identifier] = Field(min_length=1)


class RecordSession(Input):
    by: Identifier
    activity_type: ActivityType
    attendee_ids: Items[Identifier] = Field(min_length=1)
    duration_minutes: PositiveInt
    phase_id: Identifier | None = None  # the current phase when left out
    activity_id: Identifier | None = None
    session_id: Identifier | None = None  # made from the update id when left out
    notes: FreeText | None = None


class RecordTraining(Input):
    by: Identifier
    person_id: Identifier
    module_id: Identifier
    session_id: Identifier | None = None


class RecordMeasurement(Input):
    by: Identifier
    indicator: Identifier
    value: float
    baseline: bool = False
    milestone_id: Identifier | None = None
    note: FreeText | None = None


class RecordCheckIn(Input):
    person_id: Identifier
    comfort: int
    note: FreeText | None = None


class AddParticipant(Input):
    by: Identifier
    person_id: Identifier
    constituency: Constituency
    roles: Items[Identifier] = ()
    cohort: Cohort = "initial"


class WidenCohort(Input):
    by: Identifier
    phase_id: Identifier | None = None  # the current phase when left out


class AmendPlan(Input):
    by: Identifier
    plan: Plan
    reason: FreeText


class DecideGate(Input):
    person_id: Identifier
    phase_id: Identifier
    choice: VoteChoice
    reason: FreeText | None = None


class OverrideHold(Input):
    by: Identifier
    phase_id: Identifier
    reason: FreeText


class CosignChange(Input):
    """Co-sign a change proposed under the plan's change policy (an amendment or an override)."""

    by: Identifier
    change_id: Identifier


class DeclineChange(Input):
    """Decline to co-sign a proposed change (or, for its proposer, withdraw it), with a reason."""

    by: Identifier
    change_id: Identifier
    reason: FreeText


class RequestPause(Input):
    """Ask the facilitators to pause the engagement, and say why."""

    by: Identifier
    reason: FreeText


class RecordContribution(Input):
    by: Identifier
    person_id: Identifier
    minutes: PositiveInt
    expenses_pence: NonNegativeInt = 0
    session_id: Identifier | None = None


class RecordRecognition(Input):
    by: Identifier
    person_id: Identifier
    fee_pence: NonNegativeInt
    expenses_pence: NonNegativeInt = 0
    form: Literal["payment", "voucher"]


class RecordLawfulBasis(Input):
    """The lawful basis on which a person's data is processed (UK GDPR Article 6)."""

    by: Identifier
    person_id: Identifier
    basis: LawfulBasis


class WithdrawConsent(Input):
    """A person withdrew their consent: recorded by them or by a facilitator for them."""

    by: Identifier
    person_id: Identifier


class RecordOutput(Input):
    """An output reached a stage: a policy drafted, consulted on, adopted; findings published."""

    by: Identifier
    output_id: Identifier
    kind: OutputKind
    stage: OutputStage
    title: FreeText
    took_part: Items[Identifier] = Field(min_length=1)
    phase_id: Identifier | None = None  # the current phase when left out
    summary: FreeText | None = None


class RecordDecision(Input):
    """A decision the organisation made in one of the plan's decision areas, and how service users took
    part in it (a rung on the ladder)."""

    by: Identifier
    area_id: Identifier
    decided_on: Annotated[date, Strict(False)]
    rung: Rung
    took_part: Items[Identifier] = Field(min_length=1)
    summary: FreeText


class ChangeRung(Input):
    area_id: Identifier
    to_rung: Rung
    agreed_by: Items[Identifier] = Field(min_length=1)


class Pause(Input):
    by: Identifier
    reason: FreeText


class Resume(Input):
    by: Identifier
    reason: FreeText | None = None


class DisownEvent(Input):
    """A facilitator disowns the foreign event at ``position``: the engagement goes on without it."""

    by: Identifier
    position: PositiveInt
    reason: FreeText


# -- reading an update's input ------------------------------------------------------------------------------
M = TypeVar("M", bound=Message)


class JsonObject(dict[str, Any]):
    """A JSON object as the payload converter read it, with the keys it gave more than once (anywhere
    in it: a plain ``dict`` keeps the last value and forgets the others)."""

    duplicate_keys: tuple[str, ...] = ()


class UnreadableJson:
    """A payload marked as JSON that does not parse (no stock client sends one; a hand-made one may)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def read_json(data: bytes) -> Any:
    """A JSON payload as Python values, objects as ``JsonObject`` remembering their duplicate keys."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> JsonObject:
        obj = JsonObject()
        for key, value in items:
            if key in obj and key not in duplicates:
                duplicates.append(key)
            obj[key] = value
        return obj

    try:
        value = json.loads(data, object_pairs_hook=pairs)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bytes that are not UTF-8, too deep
        return UnreadableJson(str(exc).split(":")[0])
    if isinstance(value, JsonObject):
        value.duplicate_keys = tuple(duplicates)
    return value


class InputRefused(ValueError):
    """An update's input is not one well-formed message; the message says what to send instead."""


def read_input(cls: type[M], update: str, inputs: Sequence[Any], *, strict: bool = True) -> M:
    """The one message of type ``cls`` in an update's inputs (as the payload converter read them, with
    no type: see ``read_json``), or ``InputRefused`` saying in one sentence what is wrong.

    ``strict=False`` reads what an older, laxer version of this check accepted (a key given twice, a
    ``true`` for a number): an update handler replaying history it recorded then must read it again
    the same way. New input always meets the validator's strict check first."""
    wanted = f"a JSON object with {_fields(cls)}"
    if len(inputs) != 1:
        if not inputs:
            raise InputRefused(f"{update} needs one input: {wanted}")
        raise InputRefused(f"{update} takes one input, not {len(inputs)}: {wanted}")
    (value,) = inputs
    if isinstance(value, cls):
        return value
    if isinstance(value, UnreadableJson):
        raise InputRefused(f"the input of {update} is not valid JSON ({value.problem}); send {wanted}")
    if isinstance(value, bytes | bytearray):
        raise InputRefused(
            f"the input of {update} is marked as binary data (encoding binary/plain); send it as JSON "
            "(encoding json/plain, the default)"
        )
    if not isinstance(value, dict):
        raise InputRefused(f"the input of {update} must be {wanted}, not {shown(value)}")
    if strict:
        duplicates = getattr(value, "duplicate_keys", ())
        if duplicates:
            raise InputRefused(
                f"the input of {update} gives the key '{duplicates[0]}' twice; give each key once"
            )
        unknown = [key for key in value if key not in cls.model_fields]
        if unknown:
            clock = " (the engagement's own clock says when things happen)" * unknown[0].endswith("_at")
            raise InputRefused(
                f"{update} has no field {shown(unknown[0])}; its fields are {_fields(cls, optional='')}{clock}"
            )
    try:
        return cls.model_validate(value, strict=None if strict else False)
    except ValidationError as exc:
        raise InputRefused(validation_sentence(exc)) from None


def _fields(cls: type[Message], optional: str = ", and optionally {}") -> str:
    """The fields of a message in words: ``person_id and comfort, and optionally note``."""
    required = [name for name, field in cls.model_fields.items() if field.is_required()]
    others = [name for name in cls.model_fields if name not in required and name != "provenance"]
    if not optional:
        return _listed(required + others)
    return _listed(required) + (optional.format(_listed(others, "or")) if others else "")


def _listed(names: list[str], conjunction: str = "and") -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


# -- status ------------------------------------------------------------------------------------------------
class VoteView(BaseModel):
    person_id: str
    constituency: Constituency
    choice: VoteChoice
    cast_at: datetime
    counted: bool
    not_counted_reason: str | None = None


class ConstituencyVotes(BaseModel):
    constituency: Constituency
    required_approvals: int
    approve: int = 0
    object: int = 0
    abstain: int = 0


class GateView(BaseModel):
    phase_id: str
    round: int
    status: str
    opened_at: datetime
    requested_by: str
    method: str
    votes: list[VoteView]
    by_constituency: list[ConstituencyVotes]
    may_still_vote: list[str]
    waiting_for: list[str]


class PhaseView(BaseModel):
    phase_id: str
    title: str
    status: str
    started_at: datetime | None
    held_since: datetime | None = None
    pace: PaceCheck | None = None


class ChangeView(BaseModel):
    """A change waiting for co-signers (the plan's change policy): what it is and who it still needs."""

    change_id: str
    kind: str
    proposed_by: str
    proposed_at: datetime
    phase_id: str | None = None
    weakens: list[str] = []
    cosigned_by: list[str] = []
    waiting_for: list[str] = []


class EngagementStatus(BaseModel):
    """What the ``status`` query returns: the folded state and what people need to act on it."""

    engagement_id: str | None
    status: str
    as_of: datetime
    stream_version: int
    lead: str
    phases: list[PhaseView]
    current_phase: str | None
    gate: GateView | None
    waiting_for: list[str]
    indicators: list[IndicatorProgress]
    ladder: list[LadderPosition]
    next_due: list[DueItem]
    state: EngagementState
    changes_waiting: list[ChangeView] = []
    # True while an append is in flight: its events are (or are about to be) in the log, not yet in this
    # status. The append is an activity, so a query no longer waits for it: ask again in a moment.
    recording: bool = False
