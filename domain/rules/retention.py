"""The retention rule: when an engagement's participants fall due to be forgotten, and which of them.

Pure: the caller says who was forgotten already and who opted to stay (both are kept in the log beside
the engagement, in ``people/<engagement id>``), and when it is now. Nothing falls due before the
engagement has completed, nor ever under a plan without ``retention``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from domain.engagement import EngagementState
from domain.retention import NOT_PARTICIPANTS, RetentionPolicy
from domain.vocabulary import DomainModel


class RetentionOutcome(DomainModel):
    """What the rule asks for at a moment on or after its due date: who to forget now, and who it leaves
    alone (forgotten before at someone's request, or opted to stay)."""

    rule: RetentionPolicy
    completed_at: datetime
    due_at: datetime
    forget: tuple[str, ...]
    forgotten_before: tuple[str, ...]
    stayed: tuple[str, ...]


def retention_rule(state: EngagementState) -> RetentionPolicy | None:
    """The engagement's retention rule (from its plan as it stands, amendments included), if any."""
    return state.plan.retention if state.plan is not None else None


def retention_due_at(state: EngagementState) -> datetime | None:
    """When the engagement's participants fall due to be forgotten; None under a plan without a rule,
    or while the engagement has not completed."""
    rule = retention_rule(state)
    if rule is None or state.completed_at is None or state.status != "completed":
        return None
    return state.completed_at + timedelta(days=rule.forget_participants_after_days)


def participants(state: EngagementState) -> tuple[str, ...]:
    """Everyone the rule covers: the engagement's people but its facilitators, by id."""
    return tuple(
        sorted(pid for pid, person in state.people.items() if person.constituency not in NOT_PARTICIPANTS)
    )


def retention_outcome(
    state: EngagementState, now: datetime, *, forgotten: Collection[str], stayed: Collection[str]
) -> RetentionOutcome | None:
    """What retention asks for at ``now``: None before it falls due (or under no rule)."""
    rule, due_at = retention_rule(state), retention_due_at(state)
    if rule is None or due_at is None or state.completed_at is None or now < due_at:
        return None
    covered = participants(state)
    return RetentionOutcome(
        rule=rule,
        completed_at=state.completed_at,
        due_at=due_at,
        forget=tuple(p for p in covered if p not in forgotten and p not in stayed),
        forgotten_before=tuple(p for p in covered if p in forgotten),
        stayed=tuple(p for p in covered if p in stayed and p not in forgotten),
    )
