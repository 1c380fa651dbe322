"""Events in the two ledgers: decision rights on the ladder, and recognition of people's time."""

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from domain.events.base import Event, PersonId
from domain.vocabulary import Identifier, Rung


class RungChanged(Event):
    """A decision area moved on the ladder of co-production, agreed by these people."""

    type: Literal["rung_changed"] = "rung_changed"
    area_id: Identifier
    from_rung: Rung
    to_rung: Rung
    agreed_by: tuple[PersonId, ...] = Field(min_length=1)


class ContributionLogged(Event):
    """Time a person gave (and expenses they had), which the recognition policy may pay for."""

    type: Literal["contribution_logged"] = "contribution_logged"
    person_id: PersonId
    minutes: PositiveInt
    expenses_pence: NonNegativeInt = 0
    session_id: Identifier | None = None


class RecognitionPaid(Event):
    """A person was paid for their time (as money or vouchers) and reimbursed their expenses."""

    type: Literal["recognition_paid"] = "recognition_paid"
    person_id: PersonId
    fee_pence: NonNegativeInt
    expenses_pence: NonNegativeInt = 0
    form: Literal["payment", "voucher"]
