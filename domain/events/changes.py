"""Events of the small gate that weakening changes pass through: proposed, co-signed, declined.

Under a plan's ``changes`` policy (``domain.change_policy``), an amendment that weakens a gate or the
pace policy, and an override of a pace hold, are first *proposed*; once the people the policy names have
co-signed, the change itself is recorded (``plan_amended`` or ``pace_overridden``, naming the change and
its co-signers). Anyone asked to co-sign may decline it instead, with a reason, which ends it.
"""

from typing import Annotated, Literal, Self

from pydantic import Field, ValidationInfo, model_validator

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.plan import STRUCTURE_ONLY_KEY, Plan, PlanChange, plan_sha256
from domain.vocabulary import Constituency, Identifier, LongText, Sha256Hex, ShortText

ChangeKind = Literal["amendment", "pace_override"]


class ChangeProposed(Event):
    """Someone proposed a change that needs co-signers: an amendment (with the amended plan and what it
    weakens) or an override of the pace hold on ``phase_id``. ``needs`` is the co-signers it waits for,
    per constituency, as the policy said when it was proposed."""

    type: Literal["change_proposed"] = "change_proposed"
    change_id: Identifier
    kind: ChangeKind
    proposed_by: PersonId
    reason: Annotated[LongText, PersonalData(owner="proposed_by")]
    needs: dict[Constituency, int] = Field(min_length=1)
    weakens: tuple[ShortText, ...] = ()
    phase_id: Identifier | None = None
    plan: Plan | None = None
    plan_sha256: Sha256Hex | None = None
    base_plan_sha256: Sha256Hex | None = None
    changes: tuple[PlanChange, ...] = ()

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> Self:
        if info.context and info.context.get(STRUCTURE_ONLY_KEY):
            return self
        if self.kind == "amendment":
            if self.plan is None or self.plan_sha256 != plan_sha256(self.plan) or not self.changes:
                raise ValueError("an amendment carries the amended plan, its SHA-256 and its changes")
        elif self.phase_id is None:
            raise ValueError("an override names the phase whose hold it lifts")
        return self


class ChangeCosigned(Event):
    """``person_id`` co-signed the proposed change ``change_id``."""

    type: Literal["change_cosigned"] = "change_cosigned"
    change_id: Identifier
    person_id: PersonId


class ChangeDeclined(Event):
    """``person_id`` declined to co-sign ``change_id`` (or its proposer withdrew it): it will not happen."""

    type: Literal["change_declined"] = "change_declined"
    change_id: Identifier
    person_id: PersonId
    reason: Annotated[LongText, PersonalData(owner="person_id")]
