"""What falls due next, for the workflow's durable timers and the status display.

Each item is something that will happen at a known time unless something else happens first: the next
check-in round, a dated milestone (or one whose phase has ended, or one so many days into the follow-up), a reminder that an open gate still
waits (when the plan sets ``remind_after_days``), a gate escalation, a phase's dwell ending, a reminder
to renew training (``renewal_notice_days``), an authorisation expiring. Items already recorded (milestone due, gate escalated, expiry
recorded) are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal

from domain.engagement import EngagementState
from domain.vocabulary import DomainModel

DueKind = Literal[
    "check_in",
    "milestone",
    "gate_reminder",
    "gate_escalation",
    "dwell_ends",
    "training_renewal",
    "authorisation_expiry",
]


class DueItem(DomainModel):
    kind: DueKind
    reference: str | None
    due_at: datetime


def falls_due(state: EngagementState) -> tuple[DueItem, ...]:
    """Everything scheduled, soonest first (ties by kind, then reference)."""
    if state.status in ("not_started", "completed") or state.started_at is None:
        return ()
    plan = state.require_plan()
    items: list[DueItem] = []

    if state.status != "following_up":  # no check-in rounds once every phase is complete
        last_round = (
            state.reminders["check_in"].last_at if "check_in" in state.reminders else state.started_at
        )
        due = last_round + timedelta(days=plan.pace.check_in_every_days)
        items.append(DueItem(kind="check_in", reference=None, due_at=due))

    for milestone in plan.evaluation.milestones:
        if milestone.id in state.milestones_due:
            continue
        if milestone.due_on is not None:
            due = datetime.combine(milestone.due_on, time(9, 0), tzinfo=UTC)
        elif milestone.after_completion_days is not None:
            if state.follow_up_started_at is None:
                continue
            due = state.follow_up_started_at + timedelta(days=milestone.after_completion_days)
        else:
            phase = state.phases.get(milestone.at_end_of_phase or "")
            if phase is None or phase.completed_at is None:
                continue
            due = phase.completed_at
        items.append(DueItem(kind="milestone", reference=milestone.id, due_at=due))

    for phase_id, progress in state.phases.items():
        if progress.status != "running" or progress.started_at is None:
            continue
        phase = plan.phases_by_id[phase_id]
        items.append(
            DueItem(
                kind="dwell_ends",
                reference=phase_id,
                due_at=progress.started_at + timedelta(days=phase.min_dwell_days),
            )
        )
        gate = state.gates.get(phase_id)
        if progress.escalated_at is None and (gate is None or gate.status != "passed"):
            due = progress.started_at + timedelta(days=phase.escalate_after_days)
            items.append(DueItem(kind="gate_escalation", reference=phase_id, due_at=due))
        if (
            phase.remind_after_days is not None
            and gate is not None
            and gate.status == "open"
            and gate.reminded_at is None
        ):
            due = gate.opened_at + timedelta(days=phase.remind_after_days)
            items.append(DueItem(kind="gate_reminder", reference=phase_id, due_at=due))

    notice = plan.training.renewal_notice_days
    for person_id, person in sorted(state.people.items()):
        for module, periods in sorted(person.authorisations.items()):
            latest = periods[-1]
            renewable = latest.ended_at is None and latest.expires_at is not None
            if notice is not None and renewable and latest.renewal_reminded_at is None:
                assert latest.expires_at is not None
                items.append(
                    DueItem(
                        kind="training_renewal",
                        reference=f"{person_id}/{module}",
                        due_at=latest.expires_at - timedelta(days=notice),
                    )
                )
            if latest.ended_at is None and latest.expires_at is not None:
                items.append(
                    DueItem(
                        kind="authorisation_expiry",
                        reference=f"{person_id}/{module}",
                        due_at=latest.expires_at,
                    )
                )
    return tuple(sorted(items, key=lambda item: (item.due_at, item.kind, item.reference or "")))
