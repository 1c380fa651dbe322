"""``coproduce engagement ...``, ``record ...`` and ``gate ...``: what operators and approvers do."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError
from temporalio.service import RPCError, RPCStatusCode

from domain.plan import Plan, plan_rescheduled
from domain.vocabulary import ACTIVITY_TYPES
from workers.database import database_url
from workflows import messages as m
from workflows.engagement import EngagementWorkflow
from workflows.messages import EngagementInput, StartEngagement

from .audit.disclosure import Disclosure, forgotten_people
from .audit.history import open_log
from .common import (
    CommandError,
    JsonOption,
    UpdateIdOption,
    client,
    engagement,
    engagement_status,
    fail,
    load_plan,
    out,
    people_register,
    print_json,
    run,
    settings,
    update_command,
)
from .render import engagements_table, status_view

engagement_app = typer.Typer(
    help="Start, list, inspect, pause, resume and amend engagements.", no_args_is_help=True
)
record_app = typer.Typer(help="Record what happened in an engagement.", no_args_is_help=True)
gate_app = typer.Typer(
    help="Decide phase gates (approvers) and override pace holds (facilitators).", no_args_is_help=True
)

As = typer.Option(..., "--as", help="Who is acting: their person id in the plan.")
Reason = typer.Option(..., "--reason", help="Why (recorded with the decision).")


def _message(cls: type[m.Message], **values: Any) -> m.Message:
    """Build an update's input, turning a bad value into one sentence."""
    try:
        return cls(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CommandError(f"{where}: {first['msg']}") from None


def build(cls: type[m.Message], **values: Any) -> m.Message:
    """``_message`` for command bodies: a bad value ends the command with its sentence."""
    try:
        return _message(cls, **values)
    except CommandError as exc:
        fail(str(exc))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "engagement"


def _scheduled(plan: Plan, starts_on: str | None) -> tuple[Plan, str | None]:
    """The plan, moved to start today (or on ``starts_on``) when its own start date has passed."""
    if starts_on == "plan":
        return plan, None
    if starts_on is not None:
        try:
            day = date.today() if starts_on == "today" else date.fromisoformat(starts_on)
        except ValueError:
            raise CommandError(
                f"--starts-on '{starts_on}' is not a date (YYYY-MM-DD), 'today' or 'plan'"
            ) from None
    elif plan.starts_on < date.today():
        day = date.today()
    else:
        return plan, None
    moved = plan_rescheduled(plan, day)
    return (
        moved,
        f"the plan's dates were moved to run {moved.starts_on} to {moved.ends_on} (it said {plan.starts_on} to {plan.ends_on})",
    )


@engagement_app.command("start")
def start(
    plan_file: Path = typer.Argument(..., help="The engagement plan (YAML)."),
    engagement_id: str = typer.Option(
        None, "--id", help="The engagement's id (default: from the organisation)."
    ),
    by: str = typer.Option(
        None, "--as", help="Who starts it, the lead (default: the plan's first facilitator)."
    ),
    starts_on: str = typer.Option(
        None,
        "--starts-on",
        help="YYYY-MM-DD, 'today', or 'plan' to keep its dates (default: today if they passed).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Start an engagement from a plan: it runs until its last gate passes."""

    async def body() -> dict[str, str]:
        plan, note = _scheduled(load_plan(plan_file), starts_on)
        lead = by or next((p.id for p in plan.people if p.constituency == "facilitator"), plan.people[0].id)
        if lead not in plan.people_by_id:
            raise CommandError(f"--as {lead}: there is no person '{lead}' in the plan")
        ident = engagement_id or f"{_slug(plan.organisation.name)}-{plan.starts_on:%Y-%m}"
        _message(StartEngagement, engagement_id=ident, plan=plan, started_by=lead)  # check before registering
        temporal = await client()
        try:  # never let a second start overwrite the register of an existing engagement
            await temporal.get_workflow_handle(ident).describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        else:
            raise CommandError(f"an engagement with id '{ident}' exists already; choose another id with --id")
        async with people_register() as register:  # names to the register; the workflow gets ids
            plan = await register.register(ident, plan)
        start = _message(StartEngagement, engagement_id=ident, plan=plan, started_by=lead)
        await temporal.start_workflow(
            EngagementWorkflow.run,
            EngagementInput(start=start),  # type: ignore[arg-type]
            id=ident,
            task_queue=settings().task_queue,
        )
        return {"id": ident, "lead": lead, "note": note or ""}

    started = run(body, engagement_id)
    if as_json:
        print_json(started)
        return
    if started["note"]:
        out.print(f"note: {started['note']}")
    out.print(f"started engagement [bold]{started['id']}[/] (lead: {started['lead']})")
    out.print(f"see it with `coproduce engagement status {started['id']}`")


@engagement_app.command("list")
def list_engagements(as_json: bool = JsonOption) -> None:
    """Engagements with their organisation, phase, status and what each is waiting for."""

    async def body() -> list[dict[str, str]]:
        temporal = await client()
        latest: dict[str, Any] = {}
        async for execution in temporal.list_workflows('WorkflowType = "EngagementWorkflow"'):
            known = latest.get(execution.id)
            if known is None or execution.start_time > known.start_time:
                latest[execution.id] = execution
        rows = []
        for ident, execution in sorted(latest.items()):
            attributes = {key.name: value for key, value in execution.typed_search_attributes}
            waiting = ""
            if attributes.get("EngagementStatus") in ("active", "paused"):
                status = await temporal.get_workflow_handle(ident).query(EngagementWorkflow.status)
                waiting = "; ".join(status.waiting_for)
            rows.append(
                {
                    "id": ident,
                    "organisation": str(attributes.get("Organisation", "")),
                    "phase": str(attributes.get("EngagementPhase", "")),
                    "status": str(
                        attributes.get(
                            "EngagementStatus", execution.status.name.lower() if execution.status else ""
                        )
                    ),
                    "waiting_for": waiting,
                }
            )
        return rows

    rows = run(body)
    if as_json:
        print_json(rows)
    elif not rows:
        out.print("no engagements yet: start one with `coproduce engagement start PLAN.yaml`")
    else:
        out.print(engagements_table(rows))


@engagement_app.command("status")
def status(
    engagement_id: str = typer.Argument(..., help="The engagement's id."), as_json: bool = JsonOption
) -> None:
    """Where an engagement stands: phases, the open gate and its votes, what it waits for, indicators."""

    async def body() -> tuple[m.EngagementStatus, dict[str, str]]:
        current = await engagement_status(await engagement(engagement_id))
        return current, await forgotten_labels(engagement_id)

    current, labels = run(body, engagement_id)
    if as_json:
        print_json(current)
    else:
        out.print(status_view(current, labels))


async def forgotten_labels(engagement_id: str) -> dict[str, str]:
    """How the engagement's forgotten people are shown ("forgotten person #n"), from the log; none
    when the log cannot be read from here (the status still shows)."""
    try:
        log = await open_log(database_url(settings(), start_embedded=False))
    except Exception:
        return {}
    try:
        return Disclosure(forgotten=await forgotten_people(log, engagement_id)).labels
    finally:
        await log.close()


@engagement_app.command("pause")
def pause(
    engagement_id: str,
    by: str = As,
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Pause an engagement: no gate opens and no reminder goes out until it is resumed."""
    update_command(engagement_id, "pause", build(m.Pause, by=by, reason=reason), update_id, as_json)


@engagement_app.command("resume")
def resume(
    engagement_id: str,
    by: str = As,
    reason: str = typer.Option(None, "--reason", help="Why (optional)."),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Resume a paused engagement."""
    update_command(engagement_id, "resume", build(m.Resume, by=by, reason=reason), update_id, as_json)


@engagement_app.command("amend")
def amend(
    engagement_id: str,
    plan_file: Path = typer.Argument(..., help="The amended plan (YAML)."),
    by: str = As,
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Amend a running engagement's plan (what already happened cannot be rewritten)."""

    async def body() -> m.Message:
        current = await (await engagement(engagement_id)).query(EngagementWorkflow.status)
        plan = load_plan(plan_file)
        running = current.state.plan
        if running is not None and plan.starts_on != running.starts_on:  # keep the engagement's own dates
            plan = plan_rescheduled(plan, running.starts_on)
        _message(m.AmendPlan, by=by, plan=plan, reason=reason)  # check before registering
        async with people_register() as register:
            plan = await register.register(engagement_id, plan)
        return _message(m.AmendPlan, by=by, plan=plan, reason=reason)

    update_command(engagement_id, "amend_plan", run(body, engagement_id), update_id, as_json)


# -- record ------------------------------------------------------------------------------------------
@record_app.command("assessment")
def record_assessment(
    engagement_id: str,
    by: str = As,
    from_file: Path = typer.Option(
        ...,
        "--from-file",
        help="YAML with past_co_production, what_worked, what_did_not_work, "
        "approach_to_change, commitment_items (5 scores 1-5), efficacy_items (7), respondents.",
    ),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record the organisational assessment (findings and ORIC readiness scores)."""
    try:
        fields = yaml.safe_load(from_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"there is no file {from_file}")
    except yaml.YAMLError as exc:
        fail(f"{from_file} is not valid YAML ({str(exc).splitlines()[0]})")
    if not isinstance(fields, dict):
        fail(f"{from_file} must hold the assessment's fields (past_co_production, what_worked, ...)")
    msg = build(m.RecordAssessment, by=by, **fields)
    update_command(engagement_id, "record_assessment", msg, update_id, as_json)


@record_app.command("evaluation-strategy")
def record_evaluation_strategy(
    engagement_id: str,
    agreed_by: str = typer.Option(..., "--agreed-by", help="Who agreed it: person ids, comma separated."),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record that the evaluation strategy (outcomes, indicators, milestones) was agreed; measuring starts."""
    people = tuple(p.strip() for p in agreed_by.split(",") if p.strip())
    msg = build(m.AgreeEvaluationStrategy, agreed_by=people)
    update_command(engagement_id, "agree_evaluation_strategy", msg, update_id, as_json)


@record_app.command("session")
def record_session(
    engagement_id: str,
    by: str = As,
    activity_type: str = typer.Option(..., "--type", help="One of: " + ", ".join(ACTIVITY_TYPES)),
    attendees: str = typer.Option(..., "--attendees", help="Person ids, comma separated."),
    minutes: int = typer.Option(..., "--minutes", help="How long it lasted."),
    phase: str = typer.Option(None, "--phase", help="The phase (default: the current one)."),
    activity: str = typer.Option(None, "--activity", help="The planned activity's id, if any."),
    notes: str = typer.Option(None, "--notes"),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a session held: training, group work, a focus group, policy work, research, a review."""
    people = tuple(p.strip() for p in attendees.split(",") if p.strip())
    msg = build(
        m.RecordSession, by=by, activity_type=activity_type, attendee_ids=people, duration_minutes=minutes,
        phase_id=phase, activity_id=activity, notes=notes,
    )  # fmt: skip
    update_command(engagement_id, "record_session", msg, update_id, as_json)


@record_app.command("training")
def record_training(
    engagement_id: str,
    by: str = As,
    person: str = typer.Option(..., "--person", help="Who completed the module."),
    module: str = typer.Option(..., "--module", help="The training module's id."),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a training module completed (it authorises the person for the module's validity)."""
    msg = build(m.RecordTraining, by=by, person_id=person, module_id=module)
    update_command(engagement_id, "record_training", msg, update_id, as_json)


@record_app.command("measurement")
def record_measurement(
    engagement_id: str,
    by: str = As,
    indicator: str = typer.Option(..., "--indicator"),
    value: float = typer.Option(..., "--value"),
    baseline: bool = typer.Option(False, "--baseline", help="This is the indicator's baseline."),
    milestone: str = typer.Option(None, "--milestone", help="The milestone this measurement is for."),
    note: str = typer.Option(None, "--note"),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a measurement of an indicator (or its baseline)."""
    msg = build(
        m.RecordMeasurement, by=by, indicator=indicator, value=value, baseline=baseline, milestone_id=milestone, note=note
    )  # fmt: skip
    update_command(engagement_id, "record_measurement", msg, update_id, as_json)


@record_app.command("checkin")
def record_checkin(
    engagement_id: str,
    person: str = typer.Option(..., "--person", help="Who checks in."),
    comfort: int = typer.Option(
        ..., "--comfort", help="How comfortable they are with the pace (the plan's scale)."
    ),
    note: str = typer.Option(None, "--note"),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a check-in: how comfortable someone is with the pace of change."""
    msg = build(m.RecordCheckIn, person_id=person, comfort=comfort, note=note)
    update_command(engagement_id, "record_check_in", msg, update_id, as_json)


@record_app.command("contribution")
def record_contribution(
    engagement_id: str,
    by: str = As,
    person: str = typer.Option(..., "--person", help="Whose time it was."),
    minutes: int = typer.Option(..., "--minutes"),
    expenses_pence: int = typer.Option(0, "--expenses-pence"),
    session: str = typer.Option(None, "--session"),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record time someone gave (it earns recognition under the plan's policy)."""
    msg = build(
        m.RecordContribution, by=by, person_id=person, minutes=minutes, expenses_pence=expenses_pence, session_id=session
    )  # fmt: skip
    update_command(engagement_id, "record_contribution", msg, update_id, as_json)


# -- gates -------------------------------------------------------------------------------------------
@gate_app.command("decide")
def decide(
    engagement_id: str,
    phase: str = typer.Option(..., "--phase", help="The phase whose gate is decided."),
    by: str = typer.Option(..., "--as", help="The approver: their person id."),
    approve: bool = typer.Option(False, "--approve"),
    object_: bool = typer.Option(False, "--object"),
    abstain: bool = typer.Option(False, "--abstain"),
    reason: str = typer.Option(None, "--reason", help="Why (needed to object where the plan says so)."),
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Vote on a phase's open gate: approve, object (with a reason) or abstain."""
    choices = [
        name for name, chosen in (("approve", approve), ("object", object_), ("abstain", abstain)) if chosen
    ]
    if len(choices) != 1:
        fail("give exactly one of --approve, --object or --abstain")
    msg = build(m.DecideGate, person_id=by, phase_id=phase, choice=choices[0], reason=reason)
    update_command(engagement_id, "decide_gate", msg, update_id, as_json)


@gate_app.command("override")
def override(
    engagement_id: str,
    phase: str = typer.Option(..., "--phase"),
    by: str = typer.Option(..., "--as", help="The facilitator overriding the hold."),
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Override a pace hold on a phase (a facilitator, with a reason); the gate may then open."""
    msg = build(m.OverrideHold, by=by, phase_id=phase, reason=reason)
    update_command(engagement_id, "override_hold", msg, update_id, as_json)
