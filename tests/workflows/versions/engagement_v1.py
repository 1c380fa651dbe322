"""The engagement workflow as it was before ``timers-never-cancelled`` (version N in the upgrade test).

Same name, same messages; the one difference is how it arms its timer: it cancels the pending timer
and starts a new one whenever the next wake-up moves. Runs started by this version must finish on
today's code without a non-determinism error; ``workflow.patched`` in ``_arm_timer`` is what makes
that so.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import messages as m
    from workflows.engagement import EngagementWorkflow


@workflow.defn(name="EngagementWorkflow")
class EngagementWorkflowV1(EngagementWorkflow):
    @workflow.run
    async def run(self, inp: m.EngagementInput) -> m.EngagementStatus:  # as spelt in the base class
        return await super().run(inp)

    def _arm_timer(self, wake: datetime | None) -> None:
        if wake == self.timer_at and self.timer is not None and not self.timer.done():
            return
        if self.timer is not None and not self.timer.done():
            self.timer.cancel()
        self.timer_at = wake
        self.timer = None
        if wake is not None:
            delay = max(wake - workflow.now(), timedelta(seconds=1))
            self.timer = asyncio.create_task(workflow.sleep(delay, summary="next thing due"))
