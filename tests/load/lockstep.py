"""Many engagements on one time-skipping test server, driven week by week on one shared clock.

``ScriptedPeople.run`` moves time on by itself (``env.sleep``), but the time-skipping server has one
clock for every workflow: one engagement's driver skipping a week would skip it for all the others in
the middle of their week. ``Lockstep`` owns the clock instead. Each week it sends every unfinished
engagement's inputs for that week at the same time, and only when all of them have been answered does it
skip the week, for everyone at once. ``acting_at_once`` caps how many engagements are sending their
week's inputs at the same moment (the others wait their turn within the same week), so that one worker
process is not handed several hundred inputs in the same second.

Within an engagement several people act at once, as they would: the facilitator's script
(``ScriptedPeople.week``: assessment, trainings, session, check-ins, evidence, votes, in the order the
rules need) runs while participants log the time they gave that week (``record_contribution``, each
their own update, concurrently). Each week also brings one input the workflow must refuse (a check-in
by someone not in the plan) and one input sent again with the id it was accepted under (which must
return the first result and record nothing more), so the end-of-run check that the log holds exactly
the accepted inputs has something to catch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.testing import WorkflowEnvironment

from application.simulation import UPDATE_ATTEMPTS, UPDATE_PATIENCE, Responses, ScriptedPeople
from domain.plan import Plan
from workflows import messages as m
from workflows.engagement import EngagementWorkflow as W

CONTRIBUTORS = 2  # participants logging their time each week, each with an update of their own
WEEK = timedelta(days=7)
# Right after a skip every engagement records what fell due at once, and a query waits for the
# workflow task in progress (not for the append it asked for: see ``People.status``): give it longer
# than the default deadline.
STATUS_DEADLINE = timedelta(minutes=2)


class People(ScriptedPeople):
    """``ScriptedPeople`` that ask a completed engagement for its status once: a query on a closed
    workflow makes the worker replay its whole history (closed runs leave the worker's cache), and the
    time-skipping server does not take many concurrent ``result()`` calls, which would avoid that."""

    final: m.EngagementStatus | None = None

    async def status(self) -> m.EngagementStatus:
        if self.final is not None:
            return self.final
        status = await self.handle.query(W.status, rpc_timeout=STATUS_DEADLINE)
        while status.recording:  # what fell due as the week skipped is being appended: not in it yet
            await asyncio.sleep(0.05)
            status = await self.handle.query(W.status, rpc_timeout=STATUS_DEADLINE)
        if status.status == "completed":
            self.final = status
        return status


@dataclass
class Driven:
    """One engagement under load: its scripted people and what was refused and repeated."""

    handle: WorkflowHandle
    people: People
    refused: list[str] = field(default_factory=list)  # update ids the workflow refused
    repeated: int = 0  # accepted update ids sent again
    weeks_acted: int = 0

    @property
    def accepted(self) -> list[m.UpdateResult]:
        return self.people.sent


class Lockstep:
    """Drives engagements of ``plan`` together, one simulated week at a time, until all complete."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        handles: list[WorkflowHandle],
        plan: Plan,
        responses: Responses,
        acting_at_once: int | None = None,
    ) -> None:
        self.env = env
        self.engagements = [Driven(h, People(h, env.sleep, plan, responses)) for h in handles]
        self.weeks = 0
        self.acting = asyncio.Semaphore(acting_at_once or len(handles))

    async def run(self, max_weeks: int) -> list[m.EngagementStatus]:
        """Week by week until every engagement completed (or ``max_weeks`` passed); the last statuses."""
        statuses = await self._statuses()
        while self.weeks < max_weeks and any(s.status != "completed" for s in statuses):
            async with asyncio.TaskGroup() as week:  # one failure cancels the week and fails the run
                for driven, status in zip(self.engagements, statuses, strict=True):
                    if status.status != "completed":
                        week.create_task(self._week(driven, status))
            await self.env.sleep(WEEK)
            self.weeks += 1
            for driven in self.engagements:
                driven.people.weeks = self.weeks  # the script's check-in cadence counts weeks
            statuses = await self._statuses()
        return statuses

    async def _statuses(self) -> list[m.EngagementStatus]:
        return list(await asyncio.gather(*(d.people.status() for d in self.engagements)))

    async def _week(self, driven: Driven, status: m.EngagementStatus) -> None:
        async with self.acting:
            await self._act(driven, status)

    async def _act(self, driven: Driven, status: m.EngagementStatus) -> None:
        driven.weeks_acted += 1
        people = driven.people
        state = status.state
        contributors = [
            p
            for p, person in sorted(state.people.items())
            if state.takes_part(person) and person.constituency != "facilitator"
        ][:CONTRIBUTORS]
        script = people.week(status)
        logged = (
            people.send(
                W.record_contribution,
                m.RecordContribution(by=people.facilitator, person_id=p, minutes=90),
            )
            for p in contributors
        )
        results = await asyncio.gather(script, *logged, self._refused(driven))
        if len(results) > 2:  # an accepted contribution, sent again under its id, changes nothing
            first: m.UpdateResult = results[1]
            again = await _patiently(
                driven.handle,
                W.record_contribution,
                m.RecordContribution(by=people.facilitator, person_id=contributors[0], minutes=90),
                first.update_id,
            )
            assert again == first, (again, first)
            driven.repeated += 1

    async def _refused(self, driven: Driven) -> None:
        update_id = f"{driven.handle.id}-refused-{self.weeks}"
        try:
            await _patiently(
                driven.handle, W.record_check_in, m.RecordCheckIn(person_id="nobody", comfort=3), update_id
            )
        except WorkflowUpdateFailedError:
            driven.refused.append(update_id)
            return
        raise AssertionError(f"{driven.handle.id}: a check-in by someone not in the plan was accepted")


async def _patiently(handle: WorkflowHandle, update: Any, msg: m.Message, update_id: str) -> Any:
    """Send an update, again under the same id when no answer comes in time (as ``ScriptedPeople`` does:
    the time-skipping server now and then loses an update that arrives while a workflow task runs)."""
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        try:
            async with asyncio.timeout(UPDATE_PATIENCE):
                return await handle.execute_update(update, msg, id=update_id)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            if attempt == UPDATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
