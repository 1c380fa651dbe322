"""The recognition owed to each person: fees earned for time given, expenses claimed, less what was paid.

Fees are worked out when a contribution is logged, under the policy in force then, so a later change of
rate does not rewrite what people already earned.
"""

from __future__ import annotations

from domain.engagement import EngagementState
from domain.vocabulary import DomainModel


class RecognitionOwed(DomainModel):
    person_id: str
    minutes: int
    fee_earned_pence: int
    fee_paid_pence: int
    fee_owed_pence: int
    expenses_claimed_pence: int
    expenses_paid_pence: int
    expenses_owed_pence: int

    @property
    def total_owed_pence(self) -> int:
        return self.fee_owed_pence + self.expenses_owed_pence


def recognition_owed(state: EngagementState) -> tuple[RecognitionOwed, ...]:
    """One line per person who has logged time, sorted by person id."""
    return tuple(
        RecognitionOwed(
            person_id=person_id,
            minutes=account.minutes,
            fee_earned_pence=account.fee_earned_pence,
            fee_paid_pence=account.fee_paid_pence,
            fee_owed_pence=account.fee_earned_pence - account.fee_paid_pence,
            expenses_claimed_pence=account.expenses_claimed_pence,
            expenses_paid_pence=account.expenses_paid_pence,
            expenses_owed_pence=account.expenses_claimed_pence - account.expenses_paid_pence,
        )
        for person_id, account in sorted(state.recognition.items())
    )
