"""Transitions for who takes part: participants joining, the cohort widening, training and authorisations."""

from __future__ import annotations

from domain.engagement import AuthorisationPeriod, EngagementState, PersonState
from domain.errors import PhaseOrderError, RuleViolation, UnknownReference
from domain.events import (
    AuthorisationExpired,
    AuthorisationGranted,
    CohortWidened,
    ConsentWithdrawn,
    LawfulBasisRecorded,
    ParticipantJoined,
    TrainingCompleted,
)
from domain.training import authorisation_expires_at
from domain.transitions.common import (
    Updates,
    allowed,
    known_module,
    known_person,
    known_phase,
    withdrawn_sentence,
)
from domain.vocabulary import day, evolve, iso, record


def on_participant_joined(state: EngagementState, event: ParticipantJoined) -> Updates:
    if event.person_id in state.people:
        raise RuleViolation(event, f"person '{event.person_id}' is already part of this engagement")
    unknown = [role for role in event.roles if role not in state.require_plan().role_ids]
    if unknown:
        raise UnknownReference(event, f"unknown role{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    person = PersonState(
        person_id=event.person_id,
        constituency=event.constituency,
        roles=event.roles,
        cohort=event.cohort,
        joined_at=event.occurred_at,
        from_plan=False,
    )
    return {"people": {**state.people, event.person_id: person}}


def on_cohort_widened(state: EngagementState, event: CohortWidened) -> Updates:
    known_person(state, event, event.widened_by)
    allowed(state, event, "widen", event.widened_by)
    phase, progress = known_phase(state, event, event.phase_id)
    if state.cohort == "wider":
        raise RuleViolation(event, f"the cohort was already widened on {day(state.widened_at)}")
    if progress.status != "running" or phase.cohort != "wider":
        raise PhaseOrderError(
            event, f"the cohort widens in a running phase that works with the wider group, not '{phase.id}'"
        )
    return {"cohort": "wider", "widened_at": event.occurred_at}


def on_training_completed(state: EngagementState, event: TrainingCompleted) -> Updates:
    person = known_person(state, event, event.person_id)
    known_module(state, event, event.module_id)
    trained = {**person.trained, event.module_id: event.occurred_at}
    return {"people": {**state.people, person.person_id: evolve(person, {"trained": trained})}}


def on_authorisation_granted(state: EngagementState, event: AuthorisationGranted) -> Updates:
    person = known_person(state, event, event.person_id)
    known_module(state, event, event.module_id)
    if event.module_id not in person.trained:
        raise RuleViolation(
            event, f"{person.person_id} has not completed '{event.module_id}', so cannot be authorised"
        )
    module = state.require_plan().modules_by_id[event.module_id]
    expected = authorisation_expires_at(module, event.occurred_at)
    if event.expires_at != expected:
        should = "never expire" if expected is None else f"expire at {iso(expected)}"
        raise RuleViolation(event, f"an authorisation for '{module.id}' granted now should {should}")
    period = record(
        AuthorisationPeriod,
        {
            "granted_at": event.occurred_at,
            "expires_at": event.expires_at,
            "ended_at": None,
            "renewal_reminded_at": None,
        },
    )
    periods = (*person.authorisations.get(event.module_id, ()), period)
    authorisations = {**person.authorisations, event.module_id: periods}
    updated = evolve(person, {"authorisations": authorisations})
    return {"people": {**state.people, person.person_id: updated}}


def on_authorisation_expired(state: EngagementState, event: AuthorisationExpired) -> Updates:
    person = known_person(state, event, event.person_id)
    periods = person.authorisations.get(event.module_id, ())
    latest = periods[-1] if periods else None
    if latest is None or latest.ended_at is not None or latest.expires_at is None:
        raise RuleViolation(
            event, f"{person.person_id} holds no expiring authorisation for '{event.module_id}'"
        )
    if event.occurred_at < latest.expires_at:
        raise RuleViolation(
            event, f"the authorisation for '{event.module_id}' runs until {iso(latest.expires_at)}"
        )
    ended = evolve(latest, {"ended_at": latest.expires_at})
    authorisations = {**person.authorisations, event.module_id: (*periods[:-1], ended)}
    updated = evolve(person, {"authorisations": authorisations})
    return {"people": {**state.people, person.person_id: updated}}


def on_lawful_basis_recorded(state: EngagementState, event: LawfulBasisRecorded) -> Updates:
    person = known_person(state, event, event.person_id)
    known_person(state, event, event.recorded_by)
    if person.consent_withdrawn_at is not None:
        raise RuleViolation(event, withdrawn_sentence(person.person_id, person.consent_withdrawn_at))
    return {"people": {**state.people, person.person_id: evolve(person, {"lawful_basis": event.basis})}}


def on_consent_withdrawn(state: EngagementState, event: ConsentWithdrawn) -> Updates:
    person = known_person(state, event, event.person_id)
    recorder = known_person(state, event, event.recorded_by)
    if recorder.constituency != "facilitator" and event.recorded_by != event.person_id:
        raise RuleViolation(
            event,
            f"only {event.person_id} or a facilitator may record that {event.person_id} withdrew consent",
        )
    if person.consent_withdrawn_at is not None:
        raise RuleViolation(
            event, f"{person.person_id} withdrew their consent already, on {day(person.consent_withdrawn_at)}"
        )
    withdrawn = evolve(person, {"consent_withdrawn_at": event.occurred_at})
    return {"people": {**state.people, person.person_id: withdrawn}}
