"""From an update's input to the domain events it records: pure functions, no Temporal.

Each builder takes the engagement's state, the update's input and the workflow's time, and returns the
events the update would record, or raises ``DomainError`` saying, in one sentence, why it cannot. The
workflow's validators call these and then apply the events to a copy of the state, so anything the
domain refuses is refused before it reaches history or the log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from domain.change_policy import Power
from domain.engagement import EngagementState
from domain.errors import DomainError
from domain.events import (
    AssessmentRecorded,
    AuthorisationGranted,
    BaselineRecorded,
    ChangeCosigned,
    ChangeDeclined,
    ChangeProposed,
    CheckInRecorded,
    CohortWidened,
    ConsentWithdrawn,
    ContributionLogged,
    DecisionRecorded,
    EngagementPaused,
    EngagementResumed,
    EvaluationStrategyAgreed,
    Event,
    LawfulBasisRecorded,
    MeasurementRecorded,
    OricScores,
    OutputRecorded,
    PaceOverridden,
    ParticipantJoined,
    PauseRequested,
    PlanAmended,
    RecognitionPaid,
    RungChanged,
    SessionHeld,
    TrainingCompleted,
    VoteCast,
)
from domain.events.incidents import EventDisowned
from domain.plan import plan_diff, plan_pseudonymised, plan_sha256
from domain.rules.changes import (
    cosign_refusal,
    cosigning_waits_for,
    needs_cosigners,
    power_refusal,
    weakenings,
)
from domain.rules.eligibility import vote_refusal
from domain.sentences import validation_sentence
from domain.state import apply
from domain.training import authorisation_expires_at

from . import messages as m
from .contracts import ForeignEvent


class CommandRefused(DomainError):
    """An update's input cannot be accepted now; the message says why."""


def _make(cls: type[Event], **values: Any) -> Event:
    """Build an event, turning pydantic's complaint into one sentence for the person who sent it
    (naming the fields, which are the input's own: ``note``, ``reason``, ...)."""
    try:
        return cls(**values)
    except ValidationError as exc:
        raise CommandRefused(validation_sentence(exc)) from None


def _current_phase(state: EngagementState, phase_id: str | None) -> str:
    if phase_id is not None:
        return phase_id
    current = state.current_phase()
    if current is None:
        raise CommandRefused("no phase is running; name the phase")
    return current


def _facilitator(state: EngagementState, who: str, what: str) -> None:
    """Refuse unless ``who`` is one of the engagement's facilitators (who record training, add
    people and pause or resume: otherwise anyone could make themselves an authorised decider)."""
    person = state.people.get(who)
    if person is None:
        raise CommandRefused(f"there is no person '{who}' in this engagement")
    if person.constituency != "facilitator":
        raise CommandRefused(f"only a facilitator may {what}, and {who} is not one")


def _pauser(state: EngagementState, who: str, what: str) -> None:
    """Refuse unless ``who`` may pause and resume: a facilitator, or whom the plan's change policy names."""
    if state.require_plan().changes is None:
        _facilitator(state, who, what)
    else:
        _may(state, "pause", who)


def record_assessment(state: EngagementState, msg: m.RecordAssessment, now: datetime) -> list[Event]:
    try:
        oric = OricScores.from_items(msg.commitment_items, msg.efficacy_items, msg.respondents)
    except ValidationError as exc:
        raise CommandRefused(
            f"ORIC scores: {validation_sentence(exc, first_only=True)} (each item is 1 to 5)"
        ) from None
    return [
        _make(
            AssessmentRecorded,
            occurred_at=now,
            recorded_by=msg.by,
            past_co_production=msg.past_co_production,
            what_worked=msg.what_worked,
            what_did_not_work=msg.what_did_not_work,
            approach_to_change=msg.approach_to_change,
            oric=oric,
        )
    ]


def agree_evaluation_strategy(
    state: EngagementState, msg: m.AgreeEvaluationStrategy, now: datetime
) -> list[Event]:
    return [_make(EvaluationStrategyAgreed, occurred_at=now, agreed_by=msg.agreed_by)]


def record_session(state: EngagementState, msg: m.RecordSession, now: datetime) -> list[Event]:
    phase_id = _current_phase(state, msg.phase_id)
    progress = state.phases.get(phase_id)
    held = progress.sessions_held if progress else 0
    session_id = msg.session_id or f"{phase_id}-{held + 1}"[:64]
    return [
        _make(
            SessionHeld,
            occurred_at=now,
            session_id=session_id,
            phase_id=phase_id,
            activity_id=msg.activity_id,
            activity_type=msg.activity_type,
            attendee_ids=msg.attendee_ids,
            duration_minutes=msg.duration_minutes,
            recorded_by=msg.by,
            notes=msg.notes,
        )
    ]


def record_training(state: EngagementState, msg: m.RecordTraining, now: datetime) -> list[Event]:
    """Completing a module authorises the person for it, until the module's validity runs out."""
    _facilitator(state, msg.by, "record training")
    module = state.require_plan().modules_by_id.get(msg.module_id)
    if module is None:
        raise CommandRefused(f"there is no training module '{msg.module_id}' in the plan")
    return [
        _make(
            TrainingCompleted,
            occurred_at=now,
            person_id=msg.person_id,
            module_id=msg.module_id,
            session_id=msg.session_id,
        ),
        _make(
            AuthorisationGranted,
            occurred_at=now,
            person_id=msg.person_id,
            module_id=msg.module_id,
            expires_at=authorisation_expires_at(module, now),
        ),
    ]


def record_measurement(state: EngagementState, msg: m.RecordMeasurement, now: datetime) -> list[Event]:
    if msg.baseline:
        if msg.milestone_id is not None:
            raise CommandRefused("a baseline is not measured for a milestone; leave milestone_id out")
        return [
            _make(
                BaselineRecorded,
                occurred_at=now,
                indicator=msg.indicator,
                value=msg.value,
                recorded_by=msg.by,
                note=msg.note,
            )
        ]
    return [
        _make(
            MeasurementRecorded,
            occurred_at=now,
            indicator=msg.indicator,
            value=msg.value,
            milestone_id=msg.milestone_id,
            recorded_by=msg.by,
            note=msg.note,
        )
    ]


def record_check_in(state: EngagementState, msg: m.RecordCheckIn, now: datetime) -> list[Event]:
    return [
        _make(CheckInRecorded, occurred_at=now, person_id=msg.person_id, comfort=msg.comfort, note=msg.note)
    ]


def add_participant(state: EngagementState, msg: m.AddParticipant, now: datetime) -> list[Event]:
    _facilitator(state, msg.by, "add a participant")
    return [
        _make(
            ParticipantJoined,
            occurred_at=now,
            person_id=msg.person_id,
            constituency=msg.constituency,
            roles=msg.roles,
            cohort=msg.cohort,
        )
    ]


def widen_cohort(state: EngagementState, msg: m.WidenCohort, now: datetime) -> list[Event]:
    _may(state, "widen", msg.by)
    phase_id = _current_phase(state, msg.phase_id)
    if msg.phase_id is None:  # the current phase may not be the one that works with the wider group
        plan = state.require_plan()
        wider = [p for p in state.running_phases() if plan.phases_by_id[p].cohort == "wider"]
        phase_id = wider[0] if wider else phase_id
    return [_make(CohortWidened, occurred_at=now, phase_id=phase_id, widened_by=msg.by)]


def amend_plan(state: EngagementState, msg: m.AmendPlan, now: datetime) -> list[Event]:
    """An amendment takes effect at once, unless the plan's change policy asks for co-signers and it
    weakens a gate or the pace policy: then it is proposed, and takes effect once co-signed."""
    plan = plan_pseudonymised(msg.plan)  # names stay in the people register, never in the log
    current = state.require_plan()
    changes = plan_diff(current, plan)
    if not changes:
        raise CommandRefused("the amended plan is the same as the current one; there is nothing to record")
    _may(state, "amend", msg.by)
    weakened = weakenings(state, plan) if needs_cosigners(current.changes) else []
    if weakened and current.changes is not None:
        return [
            _make(
                ChangeProposed,
                occurred_at=now,
                change_id=_next_change_id(state),
                kind="amendment",
                proposed_by=msg.by,
                reason=msg.reason,
                needs=current.changes.cosign,
                weakens=tuple(weakened),
                plan=plan,
                plan_sha256=plan_sha256(plan),
                base_plan_sha256=state.plan_sha256,
                changes=changes,
            )
        ]
    return [
        _make(
            PlanAmended,
            occurred_at=now,
            plan=plan,
            plan_sha256=plan_sha256(plan),
            changes=changes,
            amended_by=msg.by,
            reason=msg.reason,
        )
    ]


def decide_gate(state: EngagementState, msg: m.DecideGate, now: datetime) -> list[Event]:
    """A vote on the open gate: refused (not merely uncounted) when it could not count."""
    if msg.phase_id not in state.require_plan().phases_by_id:
        raise CommandRefused(f"there is no phase '{msg.phase_id}' in the plan")
    refusal = vote_refusal(state, msg.phase_id, msg.person_id, msg.choice, msg.reason, now)
    if refusal is not None:
        raise CommandRefused(refusal)
    gate = state.gates[msg.phase_id]
    if msg.choice == "approve" and gate.policy.four_eyes and msg.person_id == gate.requested_by:
        raise CommandRefused(
            f"{msg.person_id} asked for gate '{msg.phase_id}', and four eyes are required: "
            "someone else must approve it"
        )
    return [
        _make(
            VoteCast,
            occurred_at=now,
            phase_id=msg.phase_id,
            round=gate.round,
            person_id=msg.person_id,
            choice=msg.choice,
            reason=msg.reason,
        )
    ]


def override_hold(state: EngagementState, msg: m.OverrideHold, now: datetime) -> list[Event]:
    """Lift a pace hold now or, where the plan's change policy asks for co-signers, propose it."""
    policy = state.require_plan().changes
    if policy is None or not needs_cosigners(policy):
        return [
            _make(
                PaceOverridden,
                occurred_at=now,
                phase_id=msg.phase_id,
                overridden_by=msg.by,
                reason=msg.reason,
            )
        ]
    return [
        _make(
            ChangeProposed,
            occurred_at=now,
            change_id=_next_change_id(state),
            kind="pace_override",
            proposed_by=msg.by,
            reason=msg.reason,
            needs=policy.cosign,
            phase_id=msg.phase_id,
        )
    ]


def cosign_change(state: EngagementState, msg: m.CosignChange, now: datetime) -> list[Event]:
    """Co-sign a proposed change; the last co-signature it needs makes the change itself happen."""
    change = state.changes.get(msg.change_id)
    if change is None:
        raise CommandRefused(f"there is no proposed change '{msg.change_id}' in this engagement")
    refusal = cosign_refusal(state, change, msg.by)
    if refusal is not None:
        raise CommandRefused(refusal)
    signed = _make(ChangeCosigned, occurred_at=now, change_id=change.change_id, person_id=msg.by)
    after = apply(state, signed).changes[change.change_id]
    if cosigning_waits_for(after):
        return [signed]
    cosigned_by = tuple(sorted(after.cosigned))
    if change.kind == "amendment" and change.plan is not None:
        done: Event = _make(
            PlanAmended,
            occurred_at=now,
            plan=change.plan,
            plan_sha256=plan_sha256(change.plan),
            changes=plan_diff(state.require_plan(), change.plan),
            amended_by=change.proposed_by,
            change_id=change.change_id,
            cosigned_by=cosigned_by,
        )
    else:
        gate = state.gates.get(change.phase_id or "")
        done = _make(
            PaceOverridden,
            occurred_at=now,
            phase_id=change.phase_id,
            overridden_by=change.proposed_by,
            change_id=change.change_id,
            cosigned_by=cosigned_by,
            round=gate.round + 1 if gate else 1,
        )
    return [signed, done]


def decline_change(state: EngagementState, msg: m.DeclineChange, now: datetime) -> list[Event]:
    return [
        _make(ChangeDeclined, occurred_at=now, change_id=msg.change_id, person_id=msg.by, reason=msg.reason)
    ]


def request_pause(state: EngagementState, msg: m.RequestPause, now: datetime) -> list[Event]:
    _may(state, "request_pause", msg.by)
    return [_make(PauseRequested, occurred_at=now, requested_by=msg.by, reason=msg.reason)]


def _next_change_id(state: EngagementState) -> str:
    return f"change-{len(state.changes) + 1}"


def _may(state: EngagementState, power: Power, who: str) -> None:
    """Refuse unless the plan's change policy lets ``who`` use ``power``."""
    refusal = power_refusal(state, power, who)
    if refusal is not None:
        raise CommandRefused(refusal)


def record_contribution(state: EngagementState, msg: m.RecordContribution, now: datetime) -> list[Event]:
    return [
        _make(
            ContributionLogged,
            occurred_at=now,
            person_id=msg.person_id,
            minutes=msg.minutes,
            expenses_pence=msg.expenses_pence,
            session_id=msg.session_id,
        )
    ]


def record_recognition(state: EngagementState, msg: m.RecordRecognition, now: datetime) -> list[Event]:
    return [
        _make(
            RecognitionPaid,
            occurred_at=now,
            person_id=msg.person_id,
            fee_pence=msg.fee_pence,
            expenses_pence=msg.expenses_pence,
            form=msg.form,
        )
    ]


def record_lawful_basis(state: EngagementState, msg: m.RecordLawfulBasis, now: datetime) -> list[Event]:
    _facilitator(state, msg.by, "record a lawful basis")
    return [
        _make(
            LawfulBasisRecorded, occurred_at=now, person_id=msg.person_id, basis=msg.basis, recorded_by=msg.by
        )
    ]


def withdraw_consent(state: EngagementState, msg: m.WithdrawConsent, now: datetime) -> list[Event]:
    return [_make(ConsentWithdrawn, occurred_at=now, person_id=msg.person_id, recorded_by=msg.by)]


def record_output(state: EngagementState, msg: m.RecordOutput, now: datetime) -> list[Event]:
    _facilitator(state, msg.by, "record an output")
    phase_id = msg.phase_id or state.current_phase()
    return [
        _make(
            OutputRecorded,
            occurred_at=now,
            output_id=msg.output_id,
            kind=msg.kind,
            stage=msg.stage,
            phase_id=phase_id,
            took_part=msg.took_part,
            recorded_by=msg.by,
            title=msg.title,
            summary=msg.summary,
        )
    ]


def record_decision(state: EngagementState, msg: m.RecordDecision, now: datetime) -> list[Event]:
    _facilitator(state, msg.by, "record a decision")
    return [
        _make(
            DecisionRecorded,
            occurred_at=now,
            decision_id=f"decision-{state.decisions_recorded + 1}",
            area_id=msg.area_id,
            decided_on=msg.decided_on,
            rung=msg.rung,
            took_part=msg.took_part,
            recorded_by=msg.by,
            summary=msg.summary,
        )
    ]


def change_rung(state: EngagementState, msg: m.ChangeRung, now: datetime) -> list[Event]:
    area = state.decision_areas.get(msg.area_id)
    if area is None:
        raise CommandRefused(f"there is no decision area '{msg.area_id}' in the plan")
    if area.rung == msg.to_rung:
        raise CommandRefused(f"decision area '{msg.area_id}' is already at '{msg.to_rung}'")
    return [
        _make(
            RungChanged,
            occurred_at=now,
            area_id=msg.area_id,
            from_rung=area.rung,
            to_rung=msg.to_rung,
            agreed_by=msg.agreed_by,
        )
    ]


def pause(state: EngagementState, msg: m.Pause, now: datetime) -> list[Event]:
    _pauser(state, msg.by, "pause the engagement")
    return [_make(EngagementPaused, occurred_at=now, paused_by=msg.by, reason=msg.reason)]


def resume(state: EngagementState, msg: m.Resume, now: datetime) -> list[Event]:
    _pauser(state, msg.by, "resume the engagement")
    return [_make(EngagementResumed, occurred_at=now, resumed_by=msg.by, reason=msg.reason)]


def disown_event(
    state: EngagementState, msg: m.DisownEvent, now: datetime, foreign: ForeignEvent | None
) -> list[Event]:
    """Disown ``foreign``, the event at ``msg.position`` that this engagement did not write."""
    if foreign is None:
        raise CommandRefused(
            f"there is no foreign event at position {msg.position} in this engagement; "
            "`coproduce audit verify` lists them"
        )
    _facilitator(state, msg.by, "disown an event")
    return [
        _make(
            EventDisowned,
            occurred_at=now,
            position=foreign.position,
            event_id=foreign.event_id,
            event_type=foreign.type[:80],
            disowned_by=msg.by,
            reason=msg.reason,
        )
    ]


Builder = Callable[[EngagementState, Any, datetime], list[Event]]


def actor_of(msg: m.Message) -> str | None:
    """Who acts, for the log's metadata."""
    for field in ("by", "person_id"):
        value = getattr(msg, field, None)
        if isinstance(value, str):
            return value
    agreed = getattr(msg, "agreed_by", None)
    return agreed[0] if agreed else None


def dry_run(state: EngagementState, events: list[Event]) -> EngagementState:
    """The state after the events; raises the domain's error when one of them cannot happen now."""
    for event in events:
        state = apply(state, event)
    return state
