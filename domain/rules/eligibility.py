"""Who may decide a gate: the roster (people holding a deciding role who take part now), and, for each
person, whether they are authorised at a given time for every training module their roles require.

A vote from someone on the roster who is not authorised when they cast it is recorded but does not
count; `eligibility` says why. `vote_refusal` is what a validator checks before accepting a vote.
"""

from __future__ import annotations

from datetime import datetime

from domain.engagement import AuthorisationPeriod, EngagementState, PersonState
from domain.events.gates import GateOpened, GatePolicy, RosterEntry, VoteChoice
from domain.plan import Plan
from domain.vocabulary import DomainModel, day


class Eligibility(DomainModel):
    person_id: str
    phase_id: str
    eligible: bool
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        """Why the person may not decide, as one sentence (None when they may)."""
        return "; ".join(self.reasons) if self.reasons else None


def gate_policy(plan: Plan, phase_id: str) -> GatePolicy:
    """The decision policy of a phase's gate, as snapshotted when it opens."""
    gate = plan.phases_by_id[phase_id].gate
    return GatePolicy(
        deciding_roles=gate.deciding_roles,
        method=gate.method,
        approvals_required=gate.approvals_required,
        quorum=dict(sorted(gate.quorum.items())),
        reason_required=gate.reason_required,
        four_eyes=gate.four_eyes,
        assurance=gate.assurance,
    )


def gate_roster(state: EngagementState, phase_id: str) -> tuple[RosterEntry, ...]:
    """Everyone who takes part now and holds one of the gate's deciding roles, sorted by id, with the
    training modules each needs for this gate."""
    return tuple(
        RosterEntry(person_id=person_id, constituency=constituency, roles=roles, required_modules=modules)
        for person_id, constituency, roles, modules in roster_rows(state, phase_id)
    )


def roster_rows(
    state: EngagementState, phase_id: str
) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """The roster as plain `(person_id, constituency, roles, required_modules)` rows (cheap to compare)."""
    plan = state.require_plan()
    deciding = frozenset(plan.phases_by_id[phase_id].gate.deciding_roles)
    required = plan.training.modules_required
    everyone = state.cohort == "wider"
    return [
        (person.person_id, person.constituency, person.roles, required(phase_id, person.roles))
        for _, person in sorted(state.people.items())
        if (everyone or person.cohort == "initial") and not deciding.isdisjoint(person.roles)
    ]


def gate_opened_event(state: EngagementState, phase_id: str, requested_by: str, now: datetime) -> GateOpened:
    """The `gate_opened` event for opening a phase's gate now, with its round, policy and roster."""
    previous = state.gates.get(phase_id)
    return GateOpened(
        occurred_at=now,
        phase_id=phase_id,
        round=previous.round + 1 if previous else 1,
        requested_by=requested_by,
        policy=gate_policy(state.require_plan(), phase_id),
        roster=gate_roster(state, phase_id),
    )


def authorisation_problems(person: PersonState, modules: tuple[str, ...], at: datetime) -> tuple[str, ...]:
    """Why `person` is not authorised at `at` for each of `modules` that they lack (empty: authorised)."""
    problems = []
    for module in modules:
        periods = person.authorisations.get(module, ())
        if _authorised(periods, at):
            continue
        begun = [period for period in periods if period.granted_at <= at]
        trained_at = person.trained.get(module)
        if begun and (end := begun[-1].ends()) is not None:
            problems.append(
                f"{person.person_id}'s authorisation for '{module}' expired on {day(end)}; "
                "renewing the training restores it"
            )
        elif trained_at is not None and trained_at <= at:
            problems.append(f"{person.person_id} completed '{module}' but has not been authorised for it yet")
        else:
            problems.append(f"{person.person_id} has not completed the training module '{module}'")
    return tuple(problems)


def _authorised(periods: tuple[AuthorisationPeriod, ...], at: datetime) -> bool:
    """Whether one of `periods` covers `at` (`AuthorisationPeriod.valid_at`, inlined: votes call it a lot)."""
    for period in periods:
        if period.granted_at <= at:
            expires, ended = period.expires_at, period.ended_at
            if (expires is None or at < expires) and (ended is None or at < ended):
                return True
    return False


def eligibility(state: EngagementState, phase_id: str, person_id: str, at: datetime) -> Eligibility:
    """Whether `person_id` may decide the gate of `phase_id` at time `at`, and if not, why.

    While the gate is open its snapshotted roster applies; before it opens, the roster it would have now.
    """
    plan = state.require_plan()

    def no(reason: str) -> Eligibility:
        return Eligibility(person_id=person_id, phase_id=phase_id, eligible=False, reasons=(reason,))

    if phase_id not in plan.phases_by_id:
        return no(f"there is no phase '{phase_id}' in the plan")
    person = state.people.get(person_id)
    if person is None:
        return no(f"{person_id} is not part of this engagement")
    if person.consent_withdrawn_at is not None:
        return no(
            f"{person_id} withdrew their consent on {day(person.consent_withdrawn_at)}; nothing more is asked of them"
        )
    gate = state.gates.get(phase_id)
    is_open = gate is not None and gate.status == "open"
    if gate is not None and is_open:
        entry = gate.roster.get(person_id)
    else:
        entry = next((e for e in gate_roster(state, phase_id) if e.person_id == person_id), None)
    if entry is None:
        deciding = plan.phases_by_id[phase_id].gate.deciding_roles
        if not state.takes_part(person):
            return no(f"{person_id} belongs to the wider group, which has not been formed yet")
        if gate is not None and is_open and any(role in deciding for role in person.roles):
            return no(
                f"{person_id} was not on the roster when gate '{phase_id}' opened on {day(gate.opened_at)}"
            )
        return no(
            f"{person_id} is not on the roster for gate '{phase_id}': their roles "
            f"({', '.join(person.roles) or 'none'}) are not among its deciding roles ({', '.join(deciding)})"
        )
    problems = authorisation_problems(person, entry.required_modules, at)
    return Eligibility(person_id=person_id, phase_id=phase_id, eligible=not problems, reasons=problems)


def vote_refusal(
    state: EngagementState,
    phase_id: str,
    person_id: str,
    choice: VoteChoice,
    reason: str | None,
    now: datetime,
) -> str | None:
    """Why a vote may not be accepted now (None: accept it). For validators, before any event is written."""
    gate = state.gates.get(phase_id)
    if gate is None or gate.status != "open":
        status = "has not been opened" if gate is None else f"is not open (it was {gate.status})"
        return f"gate '{phase_id}' {status}"
    if person_id in gate.votes:
        return f"{person_id} has already voted on gate '{phase_id}' ({gate.votes[person_id].choice})"
    verdict = eligibility(state, phase_id, person_id, now)
    if not verdict.eligible:
        return verdict.reason
    if choice == "object" and gate.policy.reason_required and not (reason and reason.strip()):
        return f"an objection to gate '{phase_id}' needs a reason"
    return None


def may_still_vote(state: EngagementState, phase_id: str, now: datetime) -> tuple[str, ...]:
    """Ids of people on the open gate's roster who have not voted and are authorised now."""
    gate = state.gates.get(phase_id)
    if gate is None or gate.status != "open":
        return ()
    return tuple(
        entry.person_id
        for entry in gate.roster.values()
        if entry.person_id not in gate.votes
        and state.people[entry.person_id].consent_withdrawn_at is None
        and not authorisation_problems(state.people[entry.person_id], entry.required_modules, now)
    )
