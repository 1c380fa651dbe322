"""``EngagementWorkflow``: one co-production engagement, for as long as it runs, on Temporal.

The workflow's state is the fold of the engagement's domain events; nothing else decides. Every human
input is an update: its validator reads the input into its message strictly (``messages.read_input``),
builds the events the input would record and applies them to a copy of the state, so bad input, from a
missing field to a vote that could not count, is refused with one sentence (a non-retryable
``ApplicationError`` of type ``InputRefused``) and leaves nothing in the history or the log. An
accepted update appends its events (and whatever follows from them: a gate passing, the next phase
starting) through one activity, with event ids made deterministically here, and returns only once
they are durable in PostgreSQL. Between inputs the workflow sleeps on a durable timer until the
next thing falls due (a check-in round, a milestone, an escalation, an authorisation expiring).

Update ids are idempotency keys: Temporal returns the first result for a repeated id within a run, and
the workflow remembers recent results across continue-as-new. Continue-as-new happens from ``run`` only,
after handlers finish, when Temporal suggests it.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from domain.engagement import EMPTY_STATE, EngagementState
    from domain.errors import DomainError, ImpossibleEvent
    from domain.events import EngagementStarted, Event, event_from_record, event_to_record
    from domain.plan import plan_pseudonymised, plan_sha256
    from domain.sentences import shown
    from domain.state import apply
    from workflows.contracts import (
        APPEND_EVENTS,
        FOREIGN_EVENT_ERROR,
        AdoptedEvent,
        AppendEvents,
        AppendReply,
        EventToAppend,
        ForeignEvent,
    )

    from . import commands, search
    from . import messages as m
    from .conductor import due_events, next_step, next_wake
    from .retention import RetentionInput, RetentionWorkflow, retention_workflow_id
    from .status import build_status

SYSTEM_ACTOR = "coproduce"
# The append is a (normal) activity: the workflow task that asks for it completes at once, and the
# server records the append's result in the history when it commits. It used to be a local activity,
# which runs inside the workflow task: a slow append (PostgreSQL busy) kept the task open, and when the
# worker could not heartbeat it in time (starved under load) the server timed the task out after the
# append had committed, so the retried task ran the input again against a log that already held its
# events (issue 14; tests/load/test_slow_append.py). A recorded result is never run again by a lost
# task. It is idempotent (event ids come from workflow.uuid4()): an activity retried after its worker
# died finds its events stored. Appends retry until the database is back: an engagement must lose
# nothing to an outage.
APPEND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
APPEND_TIMEOUT = timedelta(seconds=30)
MAX_FOLLOW_UPS = 100  # events that may follow one input by themselves; more would be a bug looping
SEEN_UPDATES_KEPT = 1000
# Changes to running code (workflow.patched ids): runs started before a change replay the old way.
PATCH_TIMERS_NEVER_CANCELLED = "timers-never-cancelled"
PATCH_APPEND_AS_ACTIVITY = "append-as-activity"  # runs started before it append by local activity

MessageT = TypeVar("MessageT", bound=m.Message)


Builder = Callable[[EngagementState, Any, datetime], list[Event]]
INPUT_REFUSED = "InputRefused"  # the error type of a validator's refusal


class UpdateRefused(ApplicationError):
    """An update's input was refused after it was accepted (the state moved on in between)."""


def _refusal(sentence: str) -> ApplicationError:
    """A validator's refusal: one sentence, never retried (sending the same input again cannot help)."""
    return ApplicationError(sentence, type=INPUT_REFUSED, non_retryable=True)


def _reason(exc: DomainError) -> str:
    """What a person is told: an impossible event's reason, without the event type and time that
    its message starts with for replays (``pace_overridden at 2026-...Z: ...``)."""
    return exc.reason if isinstance(exc, ImpossibleEvent) else str(exc)


class ForeignEventFound(Exception):
    """The append found events in the stream that this engagement did not write (see ``_record``)."""


@workflow.defn(name="EngagementWorkflow")
class EngagementWorkflow:
    @workflow.init
    def __init__(self, inp: m.EngagementInput) -> None:
        carried = inp.carried
        self.state: EngagementState = carried.state if carried else EMPTY_STATE
        self.version = carried.stream_version if carried else 0
        self.lead = carried.lead if carried else (inp.start.started_by if inp.start else "")
        self.seen: dict[str, m.UpdateResult] = dict(carried.seen_updates) if carried else {}
        self.runs = carried.runs if carried else 1
        # The writer keys whose signatures vouch for how an input reached the engagement (provenance).
        self.input_keys: tuple[str, ...] = (
            tuple(carried.input_keys) if carried else tuple(inp.start.input_keys) if inp.start else ()
        )
        # Events in the stream this engagement did not write, by position, until an operator disowns
        # them: while any is here, inputs are refused and nothing falls due (see ``_record``).
        self.foreign: dict[int, ForeignEvent] = {f.position: f for f in carried.foreign} if carried else {}
        self.continue_as_new_after = inp.continue_as_new_after
        self.index = inp.search_attributes
        self.indexed: dict[str, str] = {}
        self.lock = asyncio.Lock()
        self.changed = False
        # Ids of events adopted from a lost task: that task drew them from this run's random sequence,
        # which this run goes on drawing from, so they are skipped rather than used twice.
        self.adopted_ids: set[UUID] = set()
        self.appending = 0  # appends in flight (the status query says so: it does not wait for them)
        self.timer: asyncio.Task[None] | None = None
        self.timer_at: datetime | None = None
        # Updates may arrive before `run` has recorded the start: they are validated against the started
        # state, and their handlers wait for the start to be durable.
        self.starting: EngagementStarted | None = None
        if inp.start is not None and not carried:
            plan = plan_pseudonymised(inp.start.plan)  # names stay in the people register, never in the log
            self.starting = EngagementStarted(
                occurred_at=workflow.now(),
                engagement_id=inp.start.engagement_id,
                plan=plan,
                plan_sha256=plan_sha256(plan),
                started_by=inp.start.started_by,
            )

    # -- the main loop -------------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: m.EngagementInput) -> m.EngagementStatus:
        engagement_id = workflow.info().workflow_id
        if self.starting is not None:
            if self.starting.engagement_id != engagement_id:
                raise ApplicationError(
                    f"the engagement id '{self.starting.engagement_id}' must be the workflow id '{engagement_id}'",
                    type="BadStart",
                    non_retryable=True,
                )
            try:
                commands.dry_run(self.state, [self.starting])
            except DomainError as exc:  # refuse a bad start clearly; never retry it for ever
                raise ApplicationError(_reason(exc), type="BadStart", non_retryable=True) from None
            async with self.lock:
                try:
                    await self._record(
                        [(self.starting, self.starting.started_by)], causation=f"start:{engagement_id}"
                    )
                except ForeignEventFound as exc:  # someone wrote the stream before it started
                    raise ApplicationError(str(exc), type="BadStart", non_retryable=True) from None
            self.starting = None
        while True:
            await self._settle("timer")
            if self.state.status == "completed":
                break
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    m.EngagementInput(
                        carried=self._carried(),
                        continue_as_new_after=self.continue_as_new_after,
                        search_attributes=self.index,
                    )
                )
            self._arm_timer(next_wake(self.state, workflow.now()))
            self.changed = False
            await workflow.wait_condition(lambda: self.changed or self._timer_fired())
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._start_retention()
        return self._status()

    async def _start_retention(self) -> None:
        """Under a plan with a retention rule, start the workflow that applies it when it falls due: it
        outlives this one (abandoned, not cancelled, when this completes). Plans without a rule start
        nothing, so engagements recorded before rules existed replay as they ran."""
        plan = self.state.plan
        if plan is None or plan.retention is None:
            return
        engagement_id = workflow.info().workflow_id
        # Started already (by an earlier attempt): that one applies the rule.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                RetentionWorkflow.run,
                RetentionInput(engagement_id=engagement_id),
                id=retention_workflow_id(engagement_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )

    def _arm_timer(self, wake: datetime | None) -> None:
        """One durable timer for the next thing due.

        A timer is never cancelled: a timer that is due later than needed is replaced by an earlier
        one and left to fire harmlessly (the loop then finds nothing due and sleeps again). Cancelling
        races the timer firing while the workflow task is with the worker, and the time-skipping test
        server strands a run whose task cancels a timer that has just fired ("invalid history builder
        state for action", temporalio/sdk-java#3088). Runs started before this change replay the old
        cancel-and-restart behaviour (``workflow.patched``).
        """
        pending = self.timer is not None and not self.timer.done()
        if not workflow.patched(PATCH_TIMERS_NEVER_CANCELLED):
            if wake == self.timer_at and pending:
                return
            if pending:
                self.timer.cancel()
        elif pending and (wake is None or (self.timer_at is not None and self.timer_at <= wake)):
            return  # the pending timer wakes us in time; on waking, we re-arm for what is due then
        self.timer_at = wake
        self.timer = None
        if wake is not None:
            delay = max(wake - workflow.now(), timedelta(seconds=1))
            self.timer = asyncio.create_task(workflow.sleep(delay, summary="next thing due"))

    def _timer_fired(self) -> bool:
        return self.timer is not None and self.timer.done()

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        return bool(
            self.continue_as_new_after and info.get_current_history_length() >= self.continue_as_new_after
        )

    def _carried(self) -> m.Carried:
        recent = dict(list(self.seen.items())[-SEEN_UPDATES_KEPT:])
        return m.Carried(
            state=self.state,
            stream_version=self.version,
            lead=self.lead,
            seen_updates=recent,
            runs=self.runs + 1,
            input_keys=self.input_keys,
            foreign=list(self.foreign.values()),
        )

    async def _settle(self, causation: str) -> None:
        """Record what has fallen due and what follows by itself, until nothing does."""
        async with self.lock:
            for _ in range(MAX_FOLLOW_UPS):
                if self.foreign:
                    return  # nothing moves on while the record holds an event nobody has explained
                now = workflow.now()  # fresh each time: recording takes time, and time may have moved on
                events = due_events(self.state, now)
                try:
                    after = commands.dry_run(self.state, events)
                except DomainError as exc:  # a bug in the timers: log it, never wedge the workflow
                    workflow.logger.error("a timer proposed an impossible event: %s", exc)
                    events, after = [], self.state
                after, chain = self._follow_ups(after, now)
                events += chain
                if not events:
                    return
                try:
                    await self._record(
                        [(e, SYSTEM_ACTOR) for e in events],
                        causation=f"{causation}:{now.isoformat()}",
                        after=after,
                    )
                except ForeignEventFound as exc:
                    workflow.logger.error("%s", exc)
                    return

    def _follow_ups(self, state: EngagementState, now: datetime) -> tuple[EngagementState, list[Event]]:
        """The chain of events that follows by itself from ``state``, and the state after it."""
        chain: list[Event] = []
        for _ in range(MAX_FOLLOW_UPS):
            event = next_step(state, now, self.lead)
            if event is None:
                break
            try:
                state = apply(state, event)
            except DomainError as exc:  # a bug in the conductor: log it, never wedge the workflow
                workflow.logger.error("conductor proposed an impossible event: %s", exc)
                break
            chain.append(event)
        return state, chain

    async def _record(
        self,
        events: list[tuple[Event, str | None]],
        *,
        causation: str,
        after: EngagementState | None = None,
        entered: dict[str, Any] | None = None,
        own: int = 0,
    ) -> AppendReply | None:
        """Append the events (with their actors) to the log, then make them the state. Call under
        ``self.lock``. ``after`` is the state after the events when the caller has computed it already.

        Returns None, having written nothing, when the log already held events this workflow had not
        seen: an earlier attempt committed them but the history lost it (the server died and forgot
        the input after its append committed; or, in runs still appending by local activity, the
        workflow task that ran the append was lost). The re-run has a new time, so its events differ.
        They are adopted into the state, as the record says, and the caller works out its events
        again from there.

        ``entered`` (how the input reached the engagement, see ``_entered``) goes with the first ``own``
        events: those the input itself records, not what follows from them by itself."""
        records = []
        for index, (event, actor) in enumerate(events):
            event_type, schema_version, payload = event_to_record(event)
            records.append(
                EventToAppend(
                    event_id=self._new_event_id(),
                    type=event_type,
                    schema_version=schema_version,
                    payload=payload,
                    occurred_at=event.occurred_at,
                    actor=actor,
                    causation_id=causation,
                    correlation_id=workflow.info().workflow_id,
                    entered=entered if index < own else None,
                )
            )
        # Past foreign events (being disowned), the stream's head is the last of them.
        expected = max([self.version, *(f.stream_version for f in self.foreign.values())])
        request = AppendEvents(
            stream_id=workflow.info().workflow_id, expected_version=expected, events=records
        )
        self.appending += 1
        try:
            reply = await self._append(request)
        except (ActivityError, ApplicationError) as exc:  # (a local activity's failure may come as either)
            found = _foreign_events(exc)
            if not found:
                raise
            for foreign in found:
                if foreign.position not in self.state.disowned:
                    self.foreign[foreign.position] = foreign
            self.changed = True
            raise ForeignEventFound(found[0].sentence()) from None
        finally:
            self.appending -= 1
        if reply.adopted:
            self._adopt(reply)
            return None
        if after is None:
            after = self.state
            for event, _ in events:
                after = apply(after, event)
        self.state = after
        self.version = reply.stream_version
        for position in after.disowned:
            self.foreign.pop(position, None)
        recorded = workflow.metric_meter().create_counter(  # not counted again when replaying
            "coproduce_events_recorded", "events recorded by engagements"
        )
        for event, _ in events:
            recorded.add(1, {"event_type": event.type})
        self._index()
        return reply

    async def _append(self, request: AppendEvents) -> AppendReply:
        """Run the append activity; runs started before ``append-as-activity`` run it as a local
        activity, as they did (their histories hold its markers, and must replay)."""
        if workflow.patched(PATCH_APPEND_AS_ACTIVITY):
            return await workflow.execute_activity(
                APPEND_EVENTS,
                request,
                result_type=AppendReply,
                start_to_close_timeout=APPEND_TIMEOUT,
                retry_policy=APPEND_RETRY,
            )
        return await workflow.execute_local_activity(
            APPEND_EVENTS,
            request,
            result_type=AppendReply,
            start_to_close_timeout=APPEND_TIMEOUT,
            retry_policy=APPEND_RETRY,
        )

    def _new_event_id(self) -> UUID:
        """The next event id: deterministic (``workflow.uuid4``), never one a lost task already used."""
        while True:
            candidate = workflow.uuid4()
            if candidate not in self.adopted_ids:
                return candidate

    def _adopt(self, reply: AppendReply) -> None:
        """Take events the log holds after our version into the state, and remember the inputs they
        answered, so a re-sent input gets its first result."""
        state = self.state
        answered: dict[str, list[AdoptedEvent]] = {}
        for stored in reply.adopted:
            self.adopted_ids.add(stored.event_id)
            state = apply(state, event_from_record(stored.type, stored.schema_version, stored.payload))
            if stored.causation_id and not stored.causation_id.startswith(("start:", "timer:")):
                answered.setdefault(stored.causation_id, []).append(stored)
        workflow.logger.warning(
            "adopted %d event(s) a lost workflow task had recorded (versions %d..%d)",
            len(reply.adopted), reply.adopted[0].stream_version, reply.stream_version,
        )  # fmt: skip
        self.state, self.version = state, reply.stream_version
        for update_id, stored_events in answered.items():
            self.seen[update_id] = m.UpdateResult(
                update_id=update_id,
                events=[e.type for e in stored_events],
                positions=[e.position for e in stored_events],
                stream_version=stored_events[-1].stream_version,
                summary=", ".join(e.type for e in stored_events),
            )
        self.changed = True
        self._index()

    def _index(self) -> None:
        """Bring the search attributes up to date with the state (only what changed)."""
        if not self.index:
            return
        values = search.values_for(self.state)
        changed = [
            key.value_set(values[key.name])
            for key in search.ALL_KEYS
            if self.indexed.get(key.name) != values[key.name]
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self.indexed = values

    # -- updates: one generic path ---------------------------------------------------------------------
    # Each update takes its inputs as the payload converter reads them with no type (``*inputs``), and
    # reads its one message from them itself (``m.read_input``): so a missing, extra, malformed or
    # wrongly typed input is refused by the validator with one sentence, like any other bad input,
    # rather than by the SDK's argument decoding with a report meant for programmers. Callers still
    # send the typed message through the typed references (``UPDATES``).
    def _validate(self, build: Builder, cls: type[MessageT], inputs: tuple[Any, ...]) -> None:
        """Refuse bad input with a non-retryable ``ApplicationError`` whose message is one sentence."""
        update = workflow.current_update_info()
        if update is not None and update.id in self.seen:
            return  # a retry of an update this engagement already recorded: it gets the first result
        try:
            msg = m.read_input(cls, _update_name(cls), inputs)
        except m.InputRefused as exc:
            raise _refusal(str(exc)) from None
        if self.foreign and not isinstance(msg, m.DisownEvent):
            raise _refusal(self._foreign_sentence())
        state = self.state if self.starting is None else apply(self.state, self.starting)
        problem = self._provenance_problem(state, msg, update.id if update else "")
        if problem is not None:
            raise _refusal(problem)
        try:
            commands.dry_run(state, build(state, msg, workflow.now()))
        except DomainError as exc:
            raise _refusal(_reason(exc)) from None

    # -- how an input reached the engagement -----------------------------------------------------------
    def _vouched(self, msg: m.Input, update_id: str) -> m.Provenance | None:
        """The input's provenance when the installation's writer key vouches for it (its signature checks
        against the engagement's input keys); None for an input without one, or when the engagement
        knows no keys (started before inputs were signed): then it was sent unauthenticated."""
        provenance = getattr(msg, "provenance", None)
        if provenance is None or not self.input_keys:
            return None
        signed = m.input_signing_bytes(workflow.info().workflow_id, _update_name(type(msg)), update_id, msg)
        return provenance if m.verify_input(self.input_keys, provenance, signed) else _FORGED

    def _provenance_problem(self, state: EngagementState, msg: m.Input, update_id: str) -> str | None:
        """Why the input's claim about who sent it cannot be accepted, in one sentence; None if it can."""
        vouched = self._vouched(msg, update_id)
        if vouched is _FORGED:
            return (
                "the input says how it was sent, but this installation did not sign that; send it through "
                "coproduce (the web app or the command line), or without provenance"
            )
        acting = commands.actor_of(msg)
        if vouched is not None and acting is not None and vouched.entered_by != acting:
            if not (vouched.assisted_reason or "").strip():
                return (
                    f"{vouched.entered_by} is entering this for {acting}: say why (for example "
                    "'by phone, with them', --for-reason on the command line)"
                )
            helper = state.people.get(vouched.entered_by)
            if helper is not None and helper.constituency != "facilitator":
                return f"only a facilitator may enter an input for someone else, and {vouched.entered_by} is not one"
        if isinstance(msg, m.DecideGate):
            gate = state.gates.get(msg.phase_id)
            if gate is not None and gate.policy.assurance == "passkey_or_assisted":
                assisted = vouched is not None and vouched.entered_by != msg.person_id
                if vouched is None or (vouched.authentication != "passkey" and not assisted):
                    return (
                        f"gate '{msg.phase_id}' asks for each vote to be signed in with a passkey, or entered "
                        "by a facilitator with the voter present; sign in with your passkey, or ask your facilitator"
                    )
        return None

    def _entered(self, msg: m.Input, update_id: str) -> dict[str, Any]:
        """How the input reached the engagement, for the log's metadata (no personal text but the reason,
        which the append seals)."""
        vouched = self._vouched(msg, update_id)
        if vouched is None or vouched is _FORGED:
            return {"channel": "client", "authentication": "none"}
        entered: dict[str, Any] = {
            "channel": vouched.channel,
            "authentication": vouched.authentication,
            "entered_by": vouched.entered_by,
        }
        if vouched.assisted_reason and vouched.entered_by != commands.actor_of(msg):
            entered["reason"] = vouched.assisted_reason
        return entered

    async def _handle(self, build: Builder, cls: type[MessageT], inputs: tuple[Any, ...]) -> m.UpdateResult:
        info = workflow.current_update_info()
        update_id = info.id if info else str(workflow.uuid4())
        if update_id in self.seen:
            return self.seen[update_id]
        try:  # laxly: the validator checked new input strictly; history may hold what older code took
            msg = m.read_input(cls, _update_name(cls), inputs, strict=False)
        except m.InputRefused as exc:
            raise UpdateRefused(str(exc), type=INPUT_REFUSED, non_retryable=True) from None
        await workflow.wait_condition(lambda: self.starting is None)
        async with self.lock:
            while True:  # again only when the log held events this workflow had not seen (adopted)
                if update_id in self.seen:  # ... among them this very input, from a lost attempt
                    self.changed = True
                    return self.seen[update_id]
                now = workflow.now()
                try:
                    events = build(self.state, msg, now)
                    after = commands.dry_run(self.state, events)
                except DomainError as exc:  # the state moved on since the validator ran
                    raise UpdateRefused(_reason(exc), type="UpdateRefused", non_retryable=True) from None
                actor = commands.actor_of(msg)
                after, follow_ups = self._follow_ups(after, now)
                chain = [(e, actor) for e in events] + [(e, SYSTEM_ACTOR) for e in follow_ups]
                try:
                    reply = await self._record(
                        chain,
                        causation=update_id,
                        after=after,
                        entered=self._entered(msg, update_id),
                        own=len(events),
                    )
                except ForeignEventFound:
                    raise UpdateRefused(
                        self._foreign_sentence(), type="ForeignEvent", non_retryable=True
                    ) from None
                if reply is not None:
                    break
            result = m.UpdateResult(
                update_id=update_id,
                events=[event.type for event, _ in chain],
                positions=reply.positions,
                stream_version=reply.stream_version,
                summary=", ".join(event.type for event, _ in chain),
            )
            self.seen[update_id] = result
        self.changed = True
        return result

    # -- the updates ----------------------------------------------------------------------------------
    @workflow.update(name="record_assessment")
    async def record_assessment(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordAssessment``."""
        return await self._handle(commands.record_assessment, m.RecordAssessment, inputs)

    @record_assessment.validator
    def _v_record_assessment(self, *inputs: Any) -> None:
        self._validate(commands.record_assessment, m.RecordAssessment, inputs)

    @workflow.update(name="agree_evaluation_strategy")
    async def agree_evaluation_strategy(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``AgreeEvaluationStrategy``."""
        return await self._handle(commands.agree_evaluation_strategy, m.AgreeEvaluationStrategy, inputs)

    @agree_evaluation_strategy.validator
    def _v_agree_evaluation_strategy(self, *inputs: Any) -> None:
        self._validate(commands.agree_evaluation_strategy, m.AgreeEvaluationStrategy, inputs)

    @workflow.update(name="record_session")
    async def record_session(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordSession``."""
        return await self._handle(commands.record_session, m.RecordSession, inputs)

    @record_session.validator
    def _v_record_session(self, *inputs: Any) -> None:
        self._validate(commands.record_session, m.RecordSession, inputs)

    @workflow.update(name="record_training")
    async def record_training(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordTraining``."""
        return await self._handle(commands.record_training, m.RecordTraining, inputs)

    @record_training.validator
    def _v_record_training(self, *inputs: Any) -> None:
        self._validate(commands.record_training, m.RecordTraining, inputs)

    @workflow.update(name="record_measurement")
    async def record_measurement(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordMeasurement``."""
        return await self._handle(commands.record_measurement, m.RecordMeasurement, inputs)

    @record_measurement.validator
    def _v_record_measurement(self, *inputs: Any) -> None:
        self._validate(commands.record_measurement, m.RecordMeasurement, inputs)

    @workflow.update(name="record_check_in")
    async def record_check_in(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordCheckIn``."""
        return await self._handle(commands.record_check_in, m.RecordCheckIn, inputs)

    @record_check_in.validator
    def _v_record_check_in(self, *inputs: Any) -> None:
        self._validate(commands.record_check_in, m.RecordCheckIn, inputs)

    @workflow.update(name="add_participant")
    async def add_participant(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``AddParticipant``."""
        return await self._handle(commands.add_participant, m.AddParticipant, inputs)

    @add_participant.validator
    def _v_add_participant(self, *inputs: Any) -> None:
        self._validate(commands.add_participant, m.AddParticipant, inputs)

    @workflow.update(name="widen_cohort")
    async def widen_cohort(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``WidenCohort``."""
        return await self._handle(commands.widen_cohort, m.WidenCohort, inputs)

    @widen_cohort.validator
    def _v_widen_cohort(self, *inputs: Any) -> None:
        self._validate(commands.widen_cohort, m.WidenCohort, inputs)

    @workflow.update(name="amend_plan")
    async def amend_plan(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``AmendPlan``."""
        return await self._handle(commands.amend_plan, m.AmendPlan, inputs)

    @amend_plan.validator
    def _v_amend_plan(self, *inputs: Any) -> None:
        self._validate(commands.amend_plan, m.AmendPlan, inputs)

    @workflow.update(name="decide_gate")
    async def decide_gate(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``DecideGate``."""
        return await self._handle(commands.decide_gate, m.DecideGate, inputs)

    @decide_gate.validator
    def _v_decide_gate(self, *inputs: Any) -> None:
        self._validate(commands.decide_gate, m.DecideGate, inputs)

    @workflow.update(name="override_hold")
    async def override_hold(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``OverrideHold``."""
        return await self._handle(commands.override_hold, m.OverrideHold, inputs)

    @override_hold.validator
    def _v_override_hold(self, *inputs: Any) -> None:
        self._validate(commands.override_hold, m.OverrideHold, inputs)

    @workflow.update(name="cosign_change")
    async def cosign_change(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``CosignChange``."""
        return await self._handle(commands.cosign_change, m.CosignChange, inputs)

    @cosign_change.validator
    def _v_cosign_change(self, *inputs: Any) -> None:
        self._validate(commands.cosign_change, m.CosignChange, inputs)

    @workflow.update(name="decline_change")
    async def decline_change(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``DeclineChange``."""
        return await self._handle(commands.decline_change, m.DeclineChange, inputs)

    @decline_change.validator
    def _v_decline_change(self, *inputs: Any) -> None:
        self._validate(commands.decline_change, m.DeclineChange, inputs)

    @workflow.update(name="request_pause")
    async def request_pause(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RequestPause``."""
        return await self._handle(commands.request_pause, m.RequestPause, inputs)

    @request_pause.validator
    def _v_request_pause(self, *inputs: Any) -> None:
        self._validate(commands.request_pause, m.RequestPause, inputs)

    @workflow.update(name="record_lawful_basis")
    async def record_lawful_basis(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordLawfulBasis``."""
        return await self._handle(commands.record_lawful_basis, m.RecordLawfulBasis, inputs)

    @record_lawful_basis.validator
    def _v_record_lawful_basis(self, *inputs: Any) -> None:
        self._validate(commands.record_lawful_basis, m.RecordLawfulBasis, inputs)

    @workflow.update(name="withdraw_consent")
    async def withdraw_consent(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``WithdrawConsent``."""
        return await self._handle(commands.withdraw_consent, m.WithdrawConsent, inputs)

    @withdraw_consent.validator
    def _v_withdraw_consent(self, *inputs: Any) -> None:
        self._validate(commands.withdraw_consent, m.WithdrawConsent, inputs)

    @workflow.update(name="record_output")
    async def record_output(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordOutput``."""
        return await self._handle(commands.record_output, m.RecordOutput, inputs)

    @record_output.validator
    def _v_record_output(self, *inputs: Any) -> None:
        self._validate(commands.record_output, m.RecordOutput, inputs)

    @workflow.update(name="record_decision")
    async def record_decision(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordDecision``."""
        return await self._handle(commands.record_decision, m.RecordDecision, inputs)

    @record_decision.validator
    def _v_record_decision(self, *inputs: Any) -> None:
        self._validate(commands.record_decision, m.RecordDecision, inputs)

    @workflow.update(name="record_contribution")
    async def record_contribution(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordContribution``."""
        return await self._handle(commands.record_contribution, m.RecordContribution, inputs)

    @record_contribution.validator
    def _v_record_contribution(self, *inputs: Any) -> None:
        self._validate(commands.record_contribution, m.RecordContribution, inputs)

    @workflow.update(name="record_recognition")
    async def record_recognition(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``RecordRecognition``."""
        return await self._handle(commands.record_recognition, m.RecordRecognition, inputs)

    @record_recognition.validator
    def _v_record_recognition(self, *inputs: Any) -> None:
        self._validate(commands.record_recognition, m.RecordRecognition, inputs)

    @workflow.update(name="change_rung")
    async def change_rung(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``ChangeRung``."""
        return await self._handle(commands.change_rung, m.ChangeRung, inputs)

    @change_rung.validator
    def _v_change_rung(self, *inputs: Any) -> None:
        self._validate(commands.change_rung, m.ChangeRung, inputs)

    @workflow.update(name="pause")
    async def pause(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``Pause``."""
        return await self._handle(commands.pause, m.Pause, inputs)

    @pause.validator
    def _v_pause(self, *inputs: Any) -> None:
        self._validate(commands.pause, m.Pause, inputs)

    @workflow.update(name="resume")
    async def resume(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``Resume``."""
        return await self._handle(commands.resume, m.Resume, inputs)

    @resume.validator
    def _v_resume(self, *inputs: Any) -> None:
        self._validate(commands.resume, m.Resume, inputs)

    @workflow.update(name="disown_event")
    async def disown_event(self, *inputs: Any) -> m.UpdateResult:
        """Takes one ``DisownEvent``."""
        return await self._handle(self._disowning, m.DisownEvent, inputs)

    @disown_event.validator
    def _v_disown_event(self, *inputs: Any) -> None:
        self._validate(self._disowning, m.DisownEvent, inputs)

    @workflow.update(dynamic=True)
    async def unknown_update(self, name: str, inputs: Sequence[RawValue]) -> None:
        """Any other update name: refused by its validator, so this never runs."""
        raise _refusal(_no_such_update(name))

    @unknown_update.validator
    def _v_unknown_update(self, name: str, inputs: Sequence[RawValue]) -> None:
        raise _refusal(_no_such_update(name))

    def _disowning(self, state: EngagementState, msg: m.DisownEvent, now: datetime) -> list[Event]:
        return commands.disown_event(state, msg, now, self.foreign.get(msg.position))

    def _foreign_sentence(self) -> str:
        return self.foreign[min(self.foreign)].sentence()

    # -- status ---------------------------------------------------------------------------------------
    @workflow.query(name="status")
    def status(self) -> m.EngagementStatus:
        return self._status()

    def _status(self) -> m.EngagementStatus:
        status = build_status(self.state, workflow.now(), stream_version=self.version, lead=self.lead)
        status.recording = self.appending > 0
        if self.foreign:
            status.waiting_for.insert(0, self._foreign_sentence())
        return status


# The update each input goes to. Callers send inputs through these typed references (the update's
# name is written once, in its decorator above), so "go to definition" leads from a command to its
# handler, and a renamed update cannot leave a caller behind.
UPDATES: dict[type[m.Message], Callable[..., Any]] = {
    m.RecordAssessment: EngagementWorkflow.record_assessment,
    m.AgreeEvaluationStrategy: EngagementWorkflow.agree_evaluation_strategy,
    m.RecordSession: EngagementWorkflow.record_session,
    m.RecordTraining: EngagementWorkflow.record_training,
    m.RecordMeasurement: EngagementWorkflow.record_measurement,
    m.RecordCheckIn: EngagementWorkflow.record_check_in,
    m.AddParticipant: EngagementWorkflow.add_participant,
    m.WidenCohort: EngagementWorkflow.widen_cohort,
    m.AmendPlan: EngagementWorkflow.amend_plan,
    m.DecideGate: EngagementWorkflow.decide_gate,
    m.OverrideHold: EngagementWorkflow.override_hold,
    m.CosignChange: EngagementWorkflow.cosign_change,
    m.DeclineChange: EngagementWorkflow.decline_change,
    m.RequestPause: EngagementWorkflow.request_pause,
    m.RecordLawfulBasis: EngagementWorkflow.record_lawful_basis,
    m.WithdrawConsent: EngagementWorkflow.withdraw_consent,
    m.RecordOutput: EngagementWorkflow.record_output,
    m.RecordDecision: EngagementWorkflow.record_decision,
    m.RecordContribution: EngagementWorkflow.record_contribution,
    m.RecordRecognition: EngagementWorkflow.record_recognition,
    m.ChangeRung: EngagementWorkflow.change_rung,
    m.Pause: EngagementWorkflow.pause,
    m.Resume: EngagementWorkflow.resume,
    m.DisownEvent: EngagementWorkflow.disown_event,
}


def _foreign_events(error: ActivityError | ApplicationError) -> list[ForeignEvent]:
    """The foreign events an append failed on (empty for any other failure)."""
    cause = error.cause if isinstance(error, ActivityError) else error
    if not isinstance(cause, ApplicationError) or cause.type != FOREIGN_EVENT_ERROR:
        return []
    return [ForeignEvent.model_validate(detail) for detail in cause.details]


def _no_such_update(name: str) -> str:
    """The sentence for an update name the workflow does not have, with the nearest it does have."""
    names = sorted(update._defn.name or "" for update in UPDATES.values())
    nearest = difflib.get_close_matches(name, names, n=1)
    if nearest:
        return f"there is no update {shown(name)}; did you mean '{nearest[0]}'?"
    return f"there is no update {shown(name)}; the updates are {', '.join(names)}"


# What ``_vouched`` answers for provenance whose signature does not check (never recorded: refused).
_FORGED = m.Provenance(channel="cli", authentication="operator", entered_by="forged", key="", signature="")


def _update_name(cls: type[m.Message]) -> str:
    """The name of the update being validated or handled, for its refusals."""
    info = workflow.current_update_info()
    return info.name if info is not None else cls.__name__
