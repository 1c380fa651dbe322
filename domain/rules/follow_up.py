"""The follow-up period: whether the change lasted once every phase is complete.

At each follow-up milestone (``after_completion_days``) the indicators are measured again and the new
decision makers are looked at: the service users and carers who were trained during the engagement
(they hold an authorisation), whether each is still authorised for everything they were trained in, and
whether each still takes part (a check-in, or a recorded decision or output stage, within the plan's
``follow_up.active_within_days``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.engagement import EngagementState
from domain.events import FollowUpReviewed
from domain.rules.eligibility import authorisation_problems

LIVED_EXPERIENCE = ("service_user", "carer")


def follow_up_review(state: EngagementState, milestone_id: str, now: datetime) -> FollowUpReviewed:
    """The review recorded when follow-up milestone ``milestone_id`` falls due at ``now``."""
    follow_up = state.require_plan().follow_up
    window = timedelta(days=follow_up.active_within_days if follow_up else 90)
    since = now - window
    new = tuple(
        sorted(
            person_id
            for person_id, person in state.people.items()
            if person.constituency in LIVED_EXPERIENCE and person.authorisations
        )
    )
    authorised = tuple(
        p
        for p in new
        if not authorisation_problems(state.people[p], tuple(state.people[p].authorisations), now)
    )
    seen: set[str] = {p for p, check_in in state.check_ins.items() if check_in.at >= since}
    for area in state.decision_areas.values():
        for decision in area.decisions:
            if decision.decided_on >= since.date():
                seen.update(decision.took_part)
    for output in state.outputs.values():
        for stage in output.stages:
            if stage.at >= since:
                seen.update(stage.took_part)
    return FollowUpReviewed(
        occurred_at=now,
        milestone_id=milestone_id,
        new_decision_makers=new,
        still_authorised=authorised,
        still_active=tuple(p for p in new if p in seen),
    )
