"""The ``status`` view of an engagement, built from its folded state alone: pure, no Temporal.

The workflow's ``status`` query returns it, and so can anyone who folds the log (``fold(events)``),
which is how the invariant "the log and the workflow agree" is checked.
"""

from __future__ import annotations

from datetime import datetime

from domain.engagement import EngagementState
from domain.rules.changes import cosigning_waits_for
from domain.rules.eligibility import may_still_vote
from domain.rules.indicators import indicator_progress
from domain.rules.ladder import ladder_positions
from domain.rules.pace import pace_check
from domain.rules.quorum import tally
from domain.rules.schedule import falls_due

from .messages import ChangeView, ConstituencyVotes, EngagementStatus, GateView, PhaseView, VoteView


def gate_view(state: EngagementState, phase_id: str, now: datetime) -> GateView | None:
    gate = state.gates.get(phase_id)
    if gate is None:
        return None
    count = tally(state, phase_id)
    constituencies = sorted({entry.constituency for entry in gate.roster.values()} | set(gate.policy.quorum))
    by_constituency = []
    for constituency in constituencies:
        row = ConstituencyVotes(
            constituency=constituency, required_approvals=gate.policy.quorum.get(constituency, 0)
        )
        for vote in gate.votes.values():
            if vote.constituency == constituency and vote.counted:
                setattr(row, vote.choice, getattr(row, vote.choice) + 1)
        by_constituency.append(row)
    return GateView(
        phase_id=phase_id,
        round=gate.round,
        status=gate.status,
        opened_at=gate.opened_at,
        requested_by=gate.requested_by,
        method=gate.policy.method,
        votes=[VoteView(**vote.model_dump()) for vote in gate.votes.values()],
        by_constituency=by_constituency,
        may_still_vote=list(may_still_vote(state, phase_id, now)),
        waiting_for=list(count.waiting_for) if gate.status == "open" else [],
    )


def build_status(
    state: EngagementState, now: datetime, *, stream_version: int, lead: str, due_items: int = 5
) -> EngagementStatus:
    """The engagement as it stands at ``now``."""
    phases: list[PhaseView] = []
    waiting: list[str] = []
    current = state.current_phase()
    gate = None
    if state.plan is not None:
        for phase in state.plan.phases:
            progress = state.phases[phase.id]
            pace = pace_check(state, phase.id, now) if progress.status == "running" else None
            phases.append(
                PhaseView(
                    phase_id=phase.id,
                    title=phase.title,
                    status=progress.status,
                    started_at=progress.started_at,
                    held_since=progress.hold.since if progress.hold else None,
                    pace=pace,
                )
            )
        if current is not None:
            gate = gate_view(state, current, now)
            if gate is not None and gate.status == "open":
                waiting = gate.waiting_for
            else:
                check = pace_check(state, current, now)
                waiting = list(check.waiting_for)
    return EngagementStatus(
        engagement_id=state.engagement_id,
        status=state.status,
        as_of=now,
        stream_version=stream_version,
        lead=lead,
        phases=phases,
        current_phase=current,
        gate=gate,
        waiting_for=waiting,
        indicators=list(indicator_progress(state)) if state.plan is not None else [],
        ladder=list(ladder_positions(state)) if state.plan is not None else [],
        next_due=[item for item in falls_due(state) if item.kind != "dwell_ends" or item.due_at > now][
            :due_items
        ],
        state=state,
        changes_waiting=[
            ChangeView(
                change_id=change.change_id,
                kind=change.kind,
                proposed_by=change.proposed_by,
                proposed_at=change.proposed_at,
                phase_id=change.phase_id,
                weakens=list(change.weakens),
                cosigned_by=sorted(change.cosigned),
                waiting_for=cosigning_waits_for(change),
            )
            for change in state.changes.values()
            if change.status == "waiting"
        ],
    )
