"""Retention: how long an engagement keeps its participants once it has completed.

A plan may say ``retention: {forget_participants_after_days: 730}``: that many days after the
engagement completes, each participant is forgotten (their name, contact details and data key destroyed,
as ``coproduce people forget`` does), unless they opted to stay. Participants are everyone in the
engagement but its facilitators (the consultancy's own staff, whose records follow its own policy).
A plan without ``retention`` keeps everyone until someone asks for them to be forgotten, as plans always
did.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from domain.vocabulary import DomainModel

MAX_RETENTION_DAYS = 3650  # ten years: beyond it a retention rule is a typo, or no rule at all

# Who a retention rule never forgets: the consultancy's staff.
NOT_PARTICIPANTS = frozenset({"facilitator"})


class RetentionPolicy(DomainModel):
    """When participants are forgotten after the engagement completes."""

    forget_participants_after_days: int

    @field_validator("forget_participants_after_days", mode="before")
    @classmethod
    def _whole_days(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RETENTION_DAYS:
            raise ValueError(
                f"must be a whole number of days from 1 to {MAX_RETENTION_DAYS} after the engagement "
                f"completes (730 is two years), got {value!r}"
            )
        return value

    def described(self) -> str:
        """The rule in words, for ``plan check``, ``simulate`` and the record."""
        days = self.forget_participants_after_days
        return (
            f"participants are forgotten {days} day{'s' if days != 1 else ''} after the engagement "
            "completes, unless they opted to stay"
        )
