"""The engagement use cases: start one, list them, see where one stands, send it an input, amend its plan.

Each is a plain async function taking the ``Services`` it runs against, the ``Actor`` who asks where
something is recorded, and a typed request; each returns a typed result or raises a ``UserError``
(or an error ``errors.sentence`` explains). Inputs go to the workflow as updates through the typed
references of ``workflows.engagement.UPDATES``, and a call returns only once what the input records
is durable in the log (or it was refused, with the domain's sentence).
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import structlog
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.plan import Plan, plan_rescheduled
from eventlog.writers import key_name
from workflows import messages as m
from workflows.commands import actor_of
from workflows.engagement import UPDATES, EngagementWorkflow

from .audit.disclosure import Disclosure, forgotten_people
from .errors import UserError
from .identity import Actor
from .organisations import scope_engagement
from .requests import request as checked
from .services import Services

T = TypeVar("T")

log = structlog.get_logger(__name__)


# -- starting ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartRequest:
    """Start an engagement from ``plan``. ``engagement_id`` defaults to one made from the organisation;
    ``starts_on`` is a date, ``"today"``, ``"plan"`` (keep its dates) or None (today if they passed)."""

    plan: Plan
    engagement_id: str | None = None
    starts_on: date | str | None = None


@dataclass(frozen=True)
class Started:
    engagement_id: str
    lead: str
    note: str = ""  # e.g. that the plan's dates were moved


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "engagement"


def scheduled(plan: Plan, starts_on: date | str | None) -> tuple[Plan, str]:
    """The plan, moved to start today (or on ``starts_on``) when its own start date has passed; and a
    note saying so (empty when it was not moved)."""
    if starts_on == "plan":
        return plan, ""
    if isinstance(starts_on, date):
        day = starts_on
    elif starts_on is not None:
        try:
            day = date.today() if starts_on == "today" else date.fromisoformat(starts_on)
        except ValueError:
            raise UserError(
                f"--starts-on '{starts_on}' is not a date (YYYY-MM-DD), 'today' or 'plan'"
            ) from None
    elif plan.starts_on < date.today():
        day = date.today()
    else:
        return plan, ""
    moved = plan_rescheduled(plan, day)
    return moved, (
        f"the plan's dates were moved to run {moved.starts_on} to {moved.ends_on} "
        f"(it said {plan.starts_on} to {plan.ends_on})"
    )


def default_lead(plan: Plan) -> str:
    """Who leads an engagement unless someone else starts it: the plan's first facilitator."""
    return next((p.id for p in plan.people if p.constituency == "facilitator"), plan.people[0].id)


async def start(services: Services, actor: Actor, start_request: StartRequest) -> Started:
    """Start an engagement, led by ``actor``: names go to the people register, the workflow gets the
    plan with ids only."""
    plan, note = scheduled(start_request.plan, start_request.starts_on)
    lead = actor.person_id
    if lead not in plan.people_by_id:
        raise UserError(f"--as {lead}: there is no person '{lead}' in the plan")
    ident = start_request.engagement_id or f"{_slug(plan.organisation.name)}-{plan.starts_on:%Y-%m}"
    checked(m.StartEngagement, engagement_id=ident, plan=plan, started_by=lead)  # before registering
    temporal = await services.temporal()
    try:  # never let a second start overwrite the register of an existing engagement
        await temporal.get_workflow_handle(ident).describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    else:
        raise UserError(f"an engagement with id '{ident}' exists already; choose another id with --id")
    async with services.writer_log() as events:
        async with events.pool.connection() as conn:  # its organisation's readers see it from the start
            await scope_engagement(conn, ident, plan.organisation.key)
        plan = await services.register_on(events).register(ident, plan)  # names to the register, ids on
    keys = services.load_writer_verifiers() or [services.load_writer_key().verifier]
    begin = checked(
        m.StartEngagement,
        engagement_id=ident,
        plan=plan,
        started_by=lead,
        input_keys=tuple(k.key_string() for k in keys),
    )
    await temporal.start_workflow(
        EngagementWorkflow.run,
        m.EngagementInput(start=begin),  # type: ignore[arg-type]
        id=ident,
        task_queue=services.task_queue,
    )
    log.info("engagement started", engagement_id=ident, actor=str(actor))
    return Started(engagement_id=ident, lead=lead, note=note)


# -- reading -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EngagementRow:
    """One engagement in the list: what Temporal's search attributes say, and what it waits for."""

    id: str
    organisation: str
    phase: str
    status: str
    waiting_for: str


async def list_engagements(services: Services) -> list[EngagementRow]:
    """Every engagement (its latest run), with its organisation, phase, status and what it waits for."""
    temporal = await services.temporal()
    latest: dict[str, Any] = {}
    async for execution in temporal.list_workflows('WorkflowType = "EngagementWorkflow"'):
        known = latest.get(execution.id)
        if known is None or execution.start_time > known.start_time:
            latest[execution.id] = execution
    rows = []
    for ident, execution in sorted(latest.items()):
        attributes = {key.name: value for key, value in execution.typed_search_attributes}
        waiting = ""
        if attributes.get("EngagementStatus") in ("active", "paused", "following_up"):
            current = await temporal.get_workflow_handle(ident).query(EngagementWorkflow.status)
            waiting = "; ".join(current.waiting_for)
        fallback = execution.status.name.lower() if execution.status else ""
        rows.append(
            EngagementRow(
                id=ident,
                organisation=str(attributes.get("Organisation", "")),
                phase=str(attributes.get("EngagementPhase", "")),
                status=str(attributes.get("EngagementStatus", fallback)),
                waiting_for=waiting,
            )
        )
    return rows


async def engagement_status(handle: WorkflowHandle[Any, Any]) -> m.EngagementStatus:
    """An engagement's status: the ``status`` query while it runs, its result once it has completed (a
    query on a closed workflow makes a worker replay its whole history, months of it)."""
    described = await handle.describe()
    if described.status == WorkflowExecutionStatus.COMPLETED:
        result = await handle.result()  # a typed handle decodes it; an untyped one gives its JSON
        return result if isinstance(result, m.EngagementStatus) else m.EngagementStatus.model_validate(result)
    return await patiently(lambda: handle.query(EngagementWorkflow.status))


@dataclass(frozen=True)
class StatusView:
    """Where an engagement stands, and how to show its forgotten people ("forgotten person #n")."""

    status: m.EngagementStatus
    labels: dict[str, str] = field(default_factory=dict)


async def status(services: Services, engagement_id: str) -> StatusView:
    """Where an engagement stands now; forgotten people are labelled when the log can be read."""
    current = await engagement_status((await services.temporal()).get_workflow_handle(engagement_id))
    return StatusView(current, await _forgotten_labels(services, engagement_id))


async def _forgotten_labels(services: Services, engagement_id: str) -> dict[str, str]:
    """The forgotten people's labels, from the log; none when the log cannot be read from here (the
    status still shows)."""
    try:
        async with services.reader_log() as log:
            return Disclosure(forgotten=await forgotten_people(log, engagement_id)).labels
    except Exception:
        return {}


# -- inputs ------------------------------------------------------------------------------------------
async def submit(
    services: Services,
    actor: Actor,
    engagement_id: str,
    update: m.Message,
    *,
    update_id: str | None = None,
) -> m.UpdateResult:
    """Send one input to an engagement and wait until what it records is durable (or it is refused).

    ``update_id`` is the idempotency key: sending the same id again records nothing new and returns
    the first result."""
    handler = UPDATES.get(type(update))
    if handler is None or not isinstance(update, m.Input):
        raise TypeError(f"{type(update).__name__} is not an input an engagement takes")
    handle = (await services.temporal()).get_workflow_handle(engagement_id)
    key = update_id or f"{actor.channel}-{uuid.uuid4()}"
    signed = vouched(services, actor, engagement_id, update, key)
    result: m.UpdateResult = await patiently(lambda: handle.execute_update(handler, signed, id=key))
    log.info(
        "input recorded", engagement_id=engagement_id, actor=str(actor), update_id=key, events=result.events
    )
    return result


# Temporal's answers that mean "busy, send it again": the same update id sent again records the input
# once, whether or not the first attempt was recorded. Too many updates in flight on one workflow (ten by
# default); unavailable, as when an update is aborted because the workflow's update registry was
# cleared (its context reloaded under load: retryable, temporalio/temporal#6630), but not a server
# that refuses connections; the server's wait for the outcome ran out; the HTTP/2 connection broke
# under load ("h2 protocol error"); and an update a workflow task completed without taking, having
# started before the update arrived.
NOT_PROCESSED = "Workflow Update is rejected because it wasn't processed by worker"
BUSY_PATIENCE = 120.0  # seconds an input waits for a busy engagement before it is refused


async def patiently(send: Callable[[], Awaitable[T]]) -> T:
    """``send()``, again after a short, growing, random pause while Temporal says the engagement is busy
    (see above), for up to ``BUSY_PATIENCE`` seconds: a tenants' meeting voting at once gets every vote
    recorded, in turn, once. The SDK's client retries these a few times itself; a hundred inputs at once
    on one engagement outlast its retries. A server that cannot be reached at all is reported at once."""
    deadline = time.monotonic() + BUSY_PATIENCE
    pause = 0.05
    while True:
        try:
            return await send()
        except RPCError as exc:
            busy = (
                exc.status in (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.DEADLINE_EXCEEDED)
                or (exc.status == RPCStatusCode.UNAVAILABLE and "connect error" not in exc.message)
                or any(said in exc.message for said in ("Timeout expired", "h2 protocol error"))
            )
            if not busy or time.monotonic() > deadline:
                raise
        except WorkflowUpdateFailedError as exc:
            if NOT_PROCESSED not in str(getattr(exc.cause, "message", "")) or time.monotonic() > deadline:
                raise
        log.info("engagement busy: sending again", pause=round(pause, 2))
        await asyncio.sleep(pause * (0.5 + random.random()))
        pause = min(pause * 2, 2.0)


def vouched(services: Services, actor: Actor, engagement_id: str, update: m.Input, update_id: str) -> m.Input:
    """``update`` with its provenance: who sent it (``actor``), how they were authenticated, through
    which entrance, and why when they enter it for someone else; signed with the installation's writer
    key, which the engagement checks (``workflows.messages.input_signing_bytes``). Entering an input for
    someone else needs a reason, said here before anything is sent."""
    acting = actor_of(update)
    assisted = acting is not None and acting != actor.person_id
    if assisted and not (actor.assisted_reason or "").strip():
        raise UserError(
            f"you are {actor.person_id}, entering this for {acting}: say why with --for-reason "
            "(for example 'by phone, with them')"
        )
    writer = services.load_writer_key()
    provenance = m.Provenance(
        channel=actor.channel,
        authentication=actor.authentication,
        entered_by=actor.person_id,
        assisted_reason=actor.assisted_reason if assisted else None,
        key=key_name(writer.verifier),
        signature="",
    )
    unsigned = update.model_copy(update={"provenance": provenance})
    name = getattr(UPDATES[type(update)], "__name__", "")
    signature = writer.sign_bytes(m.input_signing_bytes(engagement_id, name, update_id, unsigned))
    return update.model_copy(
        update={
            "provenance": provenance.model_copy(update={"signature": base64.b64encode(signature).decode()})
        }
    )


async def amend(
    services: Services,
    actor: Actor,
    engagement_id: str,
    plan: Plan,
    reason: str,
    *,
    by: str | None = None,
    update_id: str | None = None,
) -> m.UpdateResult:
    """Amend a running engagement's plan, as ``by`` (default: the actor): it keeps the engagement's own
    dates, new names go to the register, and what already happened cannot be rewritten."""
    handle = (await services.temporal()).get_workflow_handle(engagement_id)
    current = await handle.query(EngagementWorkflow.status)
    running = current.state.plan
    if running is not None and plan.starts_on != running.starts_on:
        plan = plan_rescheduled(plan, running.starts_on)
    author = by or actor.person_id
    checked(m.AmendPlan, by=author, plan=plan, reason=reason)  # check before registering
    async with services.register() as register:
        plan = await register.register(engagement_id, plan)
    amendment = checked(m.AmendPlan, by=author, plan=plan, reason=reason)
    return await submit(services, actor, engagement_id, amendment, update_id=update_id)
