"""Events in an engagement's life: started (with its plan), amended, paused, resumed, followed up, completed."""

from typing import Annotated, Literal, Self

from pydantic import Field, ValidationInfo, model_validator

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.plan import STRUCTURE_ONLY_KEY, Plan, PlanChange, plan_sha256
from domain.vocabulary import EngagementId, Identifier, LongText, Sha256Hex, UtcDatetime


def _check_plan_hash(event: "EngagementStarted | PlanAmended", info: ValidationInfo) -> None:
    """A new event's `plan_sha256` must be `plan_sha256(plan)`. Not re-checked when reading the log back
    (`STRUCTURE_ONLY`): the hash chain protects stored events, and replay must not depend on this code."""
    if info.context and info.context.get(STRUCTURE_ONLY_KEY):
        return
    if plan_sha256(event.plan) != event.plan_sha256:
        raise ValueError("plan_sha256 is not the SHA-256 of the plan; compute it with plan_sha256(plan)")


class EngagementStarted(Event):
    """The first event of every engagement, with the plan and its SHA-256 (see `domain.plan.plan_sha256`)."""

    type: Literal["engagement_started"] = "engagement_started"
    engagement_id: EngagementId
    plan: Plan
    plan_sha256: Sha256Hex
    started_by: PersonId

    @model_validator(mode="after")
    def _plan_hash_matches(self, info: ValidationInfo) -> Self:
        _check_plan_hash(self, info)
        return self


class PlanAmended(Event):
    """The plan changed while running; `changes` must be `plan_diff(previous plan, plan)`. An amendment
    that needed co-signers names the proposed change (`change_id`, whose proposal holds the reason) and
    who co-signed it; any other amendment gives its reason here."""

    type: Literal["plan_amended"] = "plan_amended"
    plan: Plan
    plan_sha256: Sha256Hex
    changes: tuple[PlanChange, ...] = Field(min_length=1)
    amended_by: PersonId
    reason: Annotated[LongText | None, PersonalData(owner="amended_by")] = None
    change_id: Identifier | None = None
    cosigned_by: tuple[PersonId, ...] = ()

    @model_validator(mode="after")
    def _plan_hash_matches(self, info: ValidationInfo) -> Self:
        _check_plan_hash(self, info)
        return self


class EngagementPaused(Event):
    """A facilitator paused the engagement: facts are still recorded, but nothing moves on until it resumes."""

    type: Literal["engagement_paused"] = "engagement_paused"
    paused_by: PersonId
    reason: Annotated[LongText, PersonalData(owner="paused_by")]


class EngagementResumed(Event):
    """A facilitator resumed a paused engagement; phases, gates and timers carry on from where they were."""

    type: Literal["engagement_resumed"] = "engagement_resumed"
    resumed_by: PersonId
    reason: Annotated[LongText | None, PersonalData(owner="resumed_by")] = None


class FollowUpStarted(Event):
    """Every phase is complete and the plan keeps a follow-up period: until `until`, milestones fall due
    and are measured, new decision makers are looked at again, and facts are still recorded."""

    type: Literal["follow_up_started"] = "follow_up_started"
    until: UtcDatetime


class FollowUpReviewed(Event):
    """At a follow-up milestone: the new decision makers (service users and carers trained during the
    engagement), which of them are still authorised, and which took part recently."""

    type: Literal["follow_up_reviewed"] = "follow_up_reviewed"
    milestone_id: Identifier
    new_decision_makers: tuple[PersonId, ...]
    still_authorised: tuple[PersonId, ...]
    still_active: tuple[PersonId, ...]


class EngagementCompleted(Event):
    """Every phase is complete (and the follow-up period, if the plan keeps one, is over); nothing more is
    recorded after this."""

    type: Literal["engagement_completed"] = "engagement_completed"
    completed_by: PersonId


class PauseRequested(Event):
    """Someone asked the facilitators to pause the engagement, and why (the plan's `changes.request_pause`
    says who may ask)."""

    type: Literal["pause_requested"] = "pause_requested"
    requested_by: PersonId
    reason: Annotated[LongText, PersonalData(owner="requested_by")]
