"""Small checks every transition uses: does the person, phase, indicator, ... exist?

Each returns the thing it found or raises `UnknownReference` naming the missing id. Handlers return the
top-level fields of the state they change, as a dict; `domain.state.apply` makes the new state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.change_policy import Power
from domain.engagement import EngagementState, PersonState, PhaseState
from domain.errors import RuleViolation, UnknownReference
from domain.events import Event
from domain.phases import Phase
from domain.rules.changes import power_refusal
from domain.vocabulary import day

Updates = dict[str, Any]


def known_person(state: EngagementState, event: Event, person_id: str) -> PersonState:
    person = state.people.get(person_id)
    if person is None:
        raise UnknownReference(event, f"person '{person_id}' is not part of this engagement")
    return person


def still_consenting(state: EngagementState, event: Event, person_id: str) -> PersonState:
    """The person, refusing an input of theirs once they withdrew their consent."""
    person = known_person(state, event, person_id)
    if person.consent_withdrawn_at is not None:
        raise RuleViolation(event, withdrawn_sentence(person_id, person.consent_withdrawn_at))
    return person


def withdrawn_sentence(person_id: str, at: datetime) -> str:
    return f"{person_id} withdrew their consent on {day(at)}; nothing more is asked of them or recorded from them"


def known_people(state: EngagementState, event: Event, person_ids: tuple[str, ...]) -> None:
    for person_id in person_ids:
        known_person(state, event, person_id)


def known_phase(state: EngagementState, event: Event, phase_id: str) -> tuple[Phase, PhaseState]:
    plan = state.require_plan()
    phase = plan.phases_by_id.get(phase_id)
    if phase is None:
        raise UnknownReference(event, f"there is no phase '{phase_id}' in the plan")
    return phase, state.phases[phase_id]


def known_module(state: EngagementState, event: Event, module_id: str) -> None:
    if module_id not in state.require_plan().modules_by_id:
        raise UnknownReference(event, f"there is no training module '{module_id}' in the plan")


def known_indicator(state: EngagementState, event: Event, key: str) -> None:
    if key not in state.require_plan().indicators_by_key:
        raise UnknownReference(event, f"there is no indicator '{key}' in the evaluation strategy")


def allowed(state: EngagementState, event: Event, power: Power, person_id: str) -> None:
    """Refuse the event when the plan's change policy does not let ``person_id`` use ``power``."""
    refusal = power_refusal(state, power, person_id)
    if refusal is not None:
        raise RuleViolation(event, refusal)
