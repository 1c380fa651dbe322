"""The activity behind ``RetentionWorkflow``: apply an engagement's retention rule as of a moment.

Thin: ``application.retention.apply_retention`` does the work (forgetting through the people register,
recording ``retention_applied``), with the worker's services (its database, master keys and writer key).
Idempotent, so Temporal may retry it freely.
"""

from __future__ import annotations

from temporalio import activity

from application.retention import apply_retention
from application.services import Services
from workflows.contracts import APPLY_RETENTION, ApplyRetention, RetentionStep


class RetentionActivities:
    def __init__(self, services: Services) -> None:
        self.services = services

    @activity.defn(name=APPLY_RETENTION)
    async def apply_retention(self, request: ApplyRetention) -> RetentionStep:
        report = await apply_retention(self.services, request.engagement_id, request.as_of)
        activity.logger.info(
            "retention of %s: due %s, %s",
            request.engagement_id,
            report.due_at.isoformat() if report.due_at else "never",
            f"applied, {len(report.newly_forgotten)} forgotten now" if report.applied else "not yet due",
        )
        return RetentionStep(
            due_at=report.due_at,
            applied=report.applied is not None,
            newly_forgotten=list(report.newly_forgotten),
            recorded=report.recorded,
        )
