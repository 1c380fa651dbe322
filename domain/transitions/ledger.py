"""Transitions for the ladder (decision areas changing rung) and recognition (time logged, money paid)."""

from __future__ import annotations

from domain.engagement import EngagementState, RecognitionAccount, RungChange
from domain.errors import RuleViolation, UnknownReference
from domain.events import ContributionLogged, RecognitionPaid, RungChanged
from domain.recognition_policy import fee_pence
from domain.rules.ladder import rung_change_refusal
from domain.transitions.common import Updates, known_people, known_person
from domain.vocabulary import evolve, record

NO_ACCOUNT = RecognitionAccount()


def on_rung_changed(state: EngagementState, event: RungChanged) -> Updates:
    area = state.decision_areas.get(event.area_id)
    if area is None:
        raise UnknownReference(event, f"there is no decision area '{event.area_id}' in the plan")
    known_people(state, event, event.agreed_by)
    if area.rung != event.from_rung:
        raise RuleViolation(
            event, f"decision area '{area.area_id}' is on '{area.rung}', not '{event.from_rung}'"
        )
    if event.to_rung == event.from_rung:
        raise RuleViolation(event, f"decision area '{area.area_id}' is already on '{event.to_rung}'")
    if state.require_plan().changes is not None:  # plans before the change policy keep their old rule
        refusal = rung_change_refusal(state, area.area_id, event.to_rung, event.agreed_by)
        if refusal is not None:
            raise RuleViolation(event, refusal)
    change = RungChange(
        at=event.occurred_at, from_rung=event.from_rung, to_rung=event.to_rung, agreed_by=event.agreed_by
    )
    moved = evolve(area, {"rung": event.to_rung, "changes": (*area.changes, change)})
    return {"decision_areas": {**state.decision_areas, area.area_id: moved}}


def on_contribution_logged(state: EngagementState, event: ContributionLogged) -> Updates:
    person = known_person(state, event, event.person_id)
    policy = state.require_plan().recognition
    eligible = person.constituency in policy.eligible_constituencies
    if event.expenses_pence and not (policy.expenses and eligible):
        raise RuleViolation(
            event, f"the recognition policy does not reimburse expenses for {person.person_id}"
        )
    account = state.recognition.get(person.person_id) or NO_ACCOUNT
    updated = record(
        RecognitionAccount,
        {
            "minutes": account.minutes + event.minutes,
            "fee_earned_pence": account.fee_earned_pence
            + (fee_pence(policy, event.minutes) if eligible else 0),
            "expenses_claimed_pence": account.expenses_claimed_pence + event.expenses_pence,
            "fee_paid_pence": account.fee_paid_pence,
            "expenses_paid_pence": account.expenses_paid_pence,
        },
    )
    return {"recognition": {**state.recognition, person.person_id: updated}}


def on_recognition_paid(state: EngagementState, event: RecognitionPaid) -> Updates:
    person = known_person(state, event, event.person_id)
    account = state.recognition.get(person.person_id) or NO_ACCOUNT
    fee_owed = account.fee_earned_pence - account.fee_paid_pence
    expenses_owed = account.expenses_claimed_pence - account.expenses_paid_pence
    if event.fee_pence + event.expenses_pence == 0:
        raise RuleViolation(event, "a payment of nothing is not a payment")
    if event.fee_pence > fee_owed or event.expenses_pence > expenses_owed:
        raise RuleViolation(
            event,
            f"{person.person_id} is owed {fee_owed}p in fees and {expenses_owed}p in expenses, "
            f"less than the {event.fee_pence}p and {event.expenses_pence}p paid",
        )
    method = state.require_plan().recognition.method
    if event.fee_pence and (event.form == "voucher") != (method == "vouchers"):
        raise RuleViolation(event, f"the recognition policy pays fees by {method}, not as a {event.form}")
    updated = evolve(
        account,
        {
            "fee_paid_pence": account.fee_paid_pence + event.fee_pence,
            "expenses_paid_pence": account.expenses_paid_pence + event.expenses_pence,
        },
    )
    return {"recognition": {**state.recognition, person.person_id: updated}}
