"""Whether a change weakens the engagement, who may make it, and what its co-signing still waits for.

``weakenings(state, new)`` lists, in words a facilitator reads, what an amended plan would weaken in the
gates that have not passed yet and in the pace policy: a quorum lowered or dropped, fewer approvals, a
deciding role dropped, a rule switched off (reasons, four eyes, passkeys, evidence), a shorter dwell, a
training requirement dropped, comfort judged more leniently, someone moved to another constituency, or
the change policy itself changed. Under a plan's ``changes`` policy such an amendment needs co-signers
(``domain.change_policy``); anything else takes effect at once.

``cosigning_waits_for(change)`` says which co-signers a proposed change still needs, and
``cosign_refusal`` why someone's co-signature cannot count.
"""

from __future__ import annotations

from domain.change_policy import ChangePolicy, Power
from domain.engagement import EngagementState, PendingChange
from domain.phases import Gate
from domain.plan import Plan

_GROUP = {
    "service_user": "service user",
    "carer": "carer",
    "staff": "member of staff",
    "decision_maker": "decision maker",
    "partner": "partner",
    "facilitator": "facilitator",
}

_POWER_WORDS: dict[Power, str] = {
    "amend": "amend the plan",
    "widen": "widen the cohort",
    "pause": "pause or resume the engagement",
    "request_pause": "ask for a pause",
}


def amendment_problems(state: EngagementState, new: Plan) -> list[str]:
    """What an amended plan would rewrite: phases already started must stay first and in order; people,
    indicators, decision areas and milestones already used must stay."""
    problems = []
    begun = [phase_id for phase_id, phase in state.phases.items() if phase.status != "pending"]
    if [phase.id for phase in new.phases[: len(begun)]] != begun:
        problems.append(f"phases already started ({', '.join(begun)}) must stay first, in the same order")
    for what, before, after in (
        ("person", {p.person_id for p in state.people.values() if p.from_plan}, set(new.people_by_id)),
        ("indicator", set(state.indicators), set(new.indicators_by_key)),
        ("decision area", set(state.decision_areas), set(new.areas_by_id)),
        ("milestone", set(state.milestones_due), set(new.milestones_by_id)),
    ):
        problems.extend(f"{what} '{gone}' cannot be removed" for gone in sorted(before - after))
    return problems


def power_refusal(state: EngagementState, power: Power, person_id: str) -> str | None:
    """Why ``person_id`` may not use ``power`` under the plan's change policy (None: they may, or the plan
    has no change policy, when the rules before it apply)."""
    policy = state.require_plan().changes
    person = state.people.get(person_id)
    if person is None:
        return f"there is no person '{person_id}' in this engagement"
    if policy is None or policy.allows(power, person.constituency, person.roles):
        return None
    allowed = ", ".join(getattr(policy, power))
    return f"under this plan only {allowed} may {_POWER_WORDS[power]}, and {person_id} is not one"


def weakenings(state: EngagementState, new: Plan) -> list[str]:
    """What ``new`` weakens compared with the current plan, for gates not yet passed and for pace."""
    old = state.require_plan()
    found: list[str] = []
    for phase in old.phases:
        gate = state.gates.get(phase.id)
        if gate is not None and gate.status == "passed":
            continue
        after = new.phases_by_id.get(phase.id)
        if after is None:
            found.append(f"phase '{phase.id}' and its gate are removed")
            continue
        found += _gate_weakenings(phase.id, phase.gate, after.gate)
        if after.min_dwell_days < phase.min_dwell_days:
            found.append(f"phase '{phase.id}' dwells {after.min_dwell_days} days, not {phase.min_dwell_days}")
        for person in old.people:
            dropped = set(old.training.modules_required(phase.id, person.roles)) - set(
                new.training.modules_required(phase.id, person.roles)
            )
            if dropped:
                found.append(f"gate '{phase.id}' no longer needs {', '.join(sorted(dropped))} of {person.id}")
    found += _pace_weakenings(old, new)
    for person in old.people:
        moved = new.people_by_id.get(person.id)
        if moved is not None and moved.constituency != person.constituency:
            found.append(f"{person.id} moves from {person.constituency} to {moved.constituency}")
    if old.changes != new.changes:
        found.append("the rules for changing the engagement change")
    return found


def _gate_weakenings(phase_id: str, old: Gate, new: Gate) -> list[str]:
    found = []
    for constituency, count in old.quorum.items():
        now = new.quorum.get(constituency, 0)
        if now < count:
            group = _GROUP[constituency]
            found.append(f"gate '{phase_id}' needs {_approvals(now, group)}, not {count}")
    if old.approvals_required and (new.approvals_required or 0) < old.approvals_required:
        found.append(
            f"gate '{phase_id}' needs {new.approvals_required or 'no set number of'} approvals, "
            f"not {old.approvals_required}"
        )
    if new.method != old.method:
        found.append(f"gate '{phase_id}' is decided by {new.method}, not {old.method}")
    for role in old.deciding_roles:
        if role not in new.deciding_roles:
            found.append(f"role '{role}' no longer decides gate '{phase_id}'")
    for rule, words in (("reason_required", "an objection's reason"), ("four_eyes", "four eyes")):
        if getattr(old, rule) and not getattr(new, rule):
            found.append(f"gate '{phase_id}' no longer asks for {words}")
    if old.assurance != "any" and new.assurance == "any":
        found.append(f"gate '{phase_id}' no longer asks for passkeys or assisted votes")
    for key in old.evidence.indicators_measured:
        if key not in new.evidence.indicators_measured:
            found.append(f"gate '{phase_id}' no longer waits for a measurement of '{key}'")
    if old.evidence.readiness_reassessed and not new.evidence.readiness_reassessed:
        found.append(f"gate '{phase_id}' no longer waits for a readiness re-assessment")
    return found


def _approvals(count: int, group: str) -> str:
    return (
        f"{count} approval{'' if count == 1 else 's'} from a {group}" if count else f"no {group}'s approval"
    )


def _pace_weakenings(old: Plan, new: Plan) -> list[str]:
    before, after = old.pace, new.pace
    found = []
    if after.comfort_threshold < before.comfort_threshold:
        found.append(f"comfort needs to reach {after.comfort_threshold:g}, not {before.comfort_threshold:g}")
    if after.min_check_ins < before.min_check_ins:
        found.append(f"{after.min_check_ins} check-ins are enough, not {before.min_check_ins}")
    if before.comfort_by == "each_constituency" and after.comfort_by != "each_constituency":
        found.append("comfort is judged as one average, not group by group")
    if before.minority_signal and not after.minority_signal:
        found.append("one answer at the bottom of the scale no longer holds a gate")
    return found


def needs_cosigners(policy: ChangePolicy | None) -> bool:
    """Whether changes that weaken the engagement wait for co-signers under ``policy``."""
    return policy is not None and bool(policy.cosign)


def cosigning_waits_for(change: PendingChange) -> list[str]:
    """The co-signers ``change`` still needs, in words (empty: it may take effect)."""
    waiting = []
    for constituency, count in change.needs.items():
        have = sum(1 for theirs in change.cosigned.values() if theirs == constituency)
        if have < count:
            missing = count - have
            word = _GROUP[constituency] + ("s" if missing != 1 else "")
            waiting.append(f"{missing} {word} to co-sign")
    return waiting


def cosign_refusal(state: EngagementState, change: PendingChange, person_id: str) -> str | None:
    """Why ``person_id``'s co-signature of ``change`` cannot count (None: it can)."""
    person = state.people.get(person_id)
    if person is None:
        return f"there is no person '{person_id}' in this engagement"
    if change.status != "waiting":
        return f"change '{change.change_id}' is {change.status}; there is nothing to co-sign"
    if person.consent_withdrawn_at is not None:
        return f"{person_id} withdrew their consent; nothing more is recorded from them"
    if person_id == change.proposed_by:
        return f"{person_id} proposed change '{change.change_id}'; someone else must co-sign it"
    if person_id in change.cosigned:
        return f"{person_id} has already co-signed change '{change.change_id}'"
    if person.constituency not in change.needs:
        groups = ", ".join(_GROUP[c] + "s" for c in change.needs)
        return f"change '{change.change_id}' is co-signed by {groups}, and {person_id} is not one"
    if not state.takes_part(person):
        return f"{person_id} is in the wider group, which does not take part yet"
    proposer = state.people[change.proposed_by].constituency
    signed = [*change.cosigned.values(), person.constituency]
    needed = sum(change.needs.values())
    if len(signed) == needed and all(theirs == proposer for theirs in signed):
        return (
            f"change '{change.change_id}' needs at least one co-signer from another group than its "
            f"proposer's ({_GROUP[proposer]}s)"
        )
    if (
        sum(1 for theirs in change.cosigned.values() if theirs == person.constituency)
        >= change.needs[person.constituency]
    ):
        return f"change '{change.change_id}' has all the {_GROUP[person.constituency]}s it needs"
    if change.kind == "amendment" and change.base_plan_sha256 != state.plan_sha256:
        return (
            f"the plan was amended after change '{change.change_id}' was proposed; propose it again "
            "against the current plan"
        )
    if change.kind == "pace_override":
        progress = state.phases.get(change.phase_id or "")
        if progress is None or progress.hold is None:
            return f"phase '{change.phase_id}' is no longer held, so there is nothing to override"
    return None
