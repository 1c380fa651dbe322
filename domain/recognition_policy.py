"""The recognition policy: how people's time is recognised, agreed before anyone is involved.

Good practice (NIHR, SCIE's reciprocity principle) is to pay people who use services and carers for
their time, at an hourly rate or in vouchers, and to reimburse expenses so nobody is worse off. Money is
kept in whole pence. Staff are paid by their employer, so only `eligible_constituencies` earn fees.
"""

from typing import Literal

from pydantic import NonNegativeInt

from domain.vocabulary import Constituency, DomainModel

RecognitionMethod = Literal["hourly_rate", "vouchers", "none"]


class RecognitionPolicy(DomainModel):
    method: RecognitionMethod = "hourly_rate"
    pence_per_hour: NonNegativeInt = 0
    currency: Literal["GBP", "EUR"] = "GBP"
    expenses: bool = True
    eligible_constituencies: tuple[Constituency, ...] = ("service_user", "carer")
    benefits_advice_offered: bool = True


def fee_pence(policy: RecognitionPolicy, minutes: int) -> int:
    """The fee for `minutes` of someone's time under `policy`, rounded half up to a penny."""
    if policy.method == "none":
        return 0
    return (policy.pence_per_hour * minutes + 30) // 60
