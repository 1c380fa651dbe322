"""Whether a gate's decision is met, overall and per constituency.

- consent: met when no counted vote objects, at least one counted vote approves, and each
  constituency in the quorum gave its approvals. One objection blocks it.
- vote: met when counted approvals reach `approvals_required` and each constituency's quorum is met;
  objections are recorded but do not block.
- abstentions are recorded and counted, never as approvals.
- four eyes: the person who asked for the gate cannot approve it alone.
Only counted votes (the voter was authorised when voting) count; the others are listed with the reason.
"""

from __future__ import annotations

from domain.engagement import EngagementState
from domain.vocabulary import Constituency, DomainModel


class ConstituencyCount(DomainModel):
    constituency: Constituency
    required: int
    approvals: int


class QuorumResult(DomainModel):
    phase_id: str
    round: int
    met: bool
    blocked: bool
    approvals: int
    objections: int
    abstentions: int
    per_constituency: tuple[ConstituencyCount, ...]
    not_counted: tuple[tuple[str, str], ...]
    waiting_for: tuple[str, ...]


def tally(state: EngagementState, phase_id: str) -> QuorumResult:
    """The count of the latest round of a phase's gate and what it still waits for."""
    gate = state.gates.get(phase_id)
    if gate is None:
        return QuorumResult(
            phase_id=phase_id,
            round=0,
            met=False,
            blocked=False,
            approvals=0,
            objections=0,
            abstentions=0,
            per_constituency=(),
            not_counted=(),
            waiting_for=(f"gate '{phase_id}' to open",),
        )
    policy = gate.policy
    counted = [vote for vote in gate.votes.values() if vote.counted]
    approvers = [vote for vote in counted if vote.choice == "approve"]
    objectors = [vote.person_id for vote in counted if vote.choice == "object"]
    abstentions = sum(1 for vote in counted if vote.choice == "abstain")
    per_constituency = tuple(
        ConstituencyCount(
            constituency=constituency,
            required=required,
            approvals=sum(1 for vote in approvers if vote.constituency == constituency),
        )
        for constituency, required in sorted(policy.quorum.items())
    )

    waiting: list[str] = []
    blocked = policy.method == "consent" and bool(objectors)
    if blocked:
        waiting.append(f"the objection of {', '.join(objectors)} to be resolved (consent needs no objection)")
    if policy.method == "vote":
        needed = policy.approvals_required or 1
        if len(approvers) < needed:
            waiting.append(f"{_more(needed - len(approvers), 'approval')} ({len(approvers)} of {needed})")
    elif not approvers:
        waiting.append("at least one approval")
    for count in per_constituency:
        if count.approvals < count.required:
            waiting.append(
                f"{_more(count.required - count.approvals, count.constituency + ' approval')} "
                f"({count.approvals} of {count.required})"
            )
    if policy.four_eyes and approvers and all(vote.person_id == gate.requested_by for vote in approvers):
        waiting.append(f"an approval from someone other than {gate.requested_by}, who asked for the gate")

    return QuorumResult(
        phase_id=phase_id,
        round=gate.round,
        met=not waiting,
        blocked=blocked,
        approvals=len(approvers),
        objections=len(objectors),
        abstentions=abstentions,
        per_constituency=per_constituency,
        not_counted=tuple(
            (vote.person_id, vote.not_counted_reason or "not authorised")
            for vote in gate.votes.values()
            if not vote.counted
        ),
        waiting_for=tuple(waiting),
    )


def _more(n: int, what: str) -> str:
    return f"{n} more {what}{'s' if n != 1 else ''}"
