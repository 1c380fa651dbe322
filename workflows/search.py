"""Search attributes: how engagements are listed and counted in Temporal (never personal data).

Temporal stores search attribute values unencrypted in its visibility store, so only these go there:
the engagement's status, its current phase id and the organisation's name. Everything else is read
from the workflow's ``status`` query or from the event log.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from domain.engagement import EngagementState

STATUS = SearchAttributeKey.for_keyword("EngagementStatus")
PHASE = SearchAttributeKey.for_keyword("EngagementPhase")
ORGANISATION = SearchAttributeKey.for_keyword("Organisation")
ALL_KEYS = (STATUS, PHASE, ORGANISATION)


def values_for(state: EngagementState) -> dict[str, str]:
    """The search attribute values that describe ``state`` (empty strings where there is nothing)."""
    return {
        STATUS.name: state.status,
        PHASE.name: state.current_phase() or "",
        ORGANISATION.name: state.plan.organisation.name if state.plan else "",
    }


def typed(values: dict[str, str]) -> TypedSearchAttributes:
    keys = {key.name: key for key in ALL_KEYS}
    return TypedSearchAttributes([SearchAttributePair(keys[name], value) for name, value in values.items()])
