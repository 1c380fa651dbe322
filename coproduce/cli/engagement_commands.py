"""``coproduce engagement ...``, ``record ...``, ``ladder ...`` and ``gate ...``: what operators and
approvers do.

Each command parses its options into a typed request, calls one use case (``application.engagements``)
and prints what it returns.
"""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from application import engagements
from application.engagements import StartRequest
from application.errors import UserError
from domain.vocabulary import ACTIVITY_TYPES
from workflows import messages as m

from .common import (
    Commands,
    JsonOption,
    UpdateIdOption,
    acting,
    build,
    fail,
    load_plan,
    operator,
    out,
    print_json,
    report_update,
    run,
    services,
)
from .render import engagements_table, status_view

engagement_app = typer.Typer(
    cls=Commands,
    help="Start, list, inspect, pause, resume and amend engagements; co-sign or decline changes.",
    no_args_is_help=True,
)
record_app = typer.Typer(cls=Commands, help="Record what happened in an engagement.", no_args_is_help=True)
ladder_app = typer.Typer(
    cls=Commands,
    help="Where each decision area stands on the ladder of participation.",
    no_args_is_help=True,
)
gate_app = typer.Typer(
    cls=Commands,
    help="Decide phase gates (approvers) and override pace holds (facilitators).",
    no_args_is_help=True,
)

As = typer.Option(..., "--as", help="Who is acting: their person id in the plan.")
Reason = typer.Option(..., "--reason", help="Why (recorded with the decision).")
ForReason = typer.Option(
    None,
    "--for-reason",
    help="When you enter this for someone else (they are present, or on the phone): why. Recorded.",
)


def send(
    engagement_id: str, update: m.Input, update_id: str | None, as_json: bool, for_reason: str | None
) -> None:
    """The body of every record/gate command: one input, sent by this command line's operator (for the
    person it names, with ``--for-reason`` when that is someone else), and what it recorded."""
    result = run(
        lambda: engagements.submit(
            services(), operator(for_reason), engagement_id, update, update_id=update_id
        ),
        engagement_id,
    )
    report_update(result, as_json)


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

    async def body() -> engagements.Started:
        plan = load_plan(plan_file)
        request = StartRequest(plan=plan, engagement_id=engagement_id, starts_on=starts_on)
        return await engagements.start(services(), acting(by or engagements.default_lead(plan)), request)

    started = run(body, engagement_id)
    if as_json:
        print_json({"id": started.engagement_id, "lead": started.lead, "note": started.note})
        return
    if started.note:
        out.print(f"note: {started.note}")
    out.print(f"started engagement [bold]{started.engagement_id}[/] (lead: {started.lead})")
    out.print(f"see it with `coproduce engagement status {started.engagement_id}`")


@engagement_app.command("list")
def list_engagements(as_json: bool = JsonOption) -> None:
    """Engagements with their organisation, phase, status and what each is waiting for."""
    rows = [vars(row) for row in run(lambda: engagements.list_engagements(services()))]
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
    view = run(lambda: engagements.status(services(), engagement_id), engagement_id)
    if as_json:
        print_json(view.status)
    else:
        out.print(status_view(view.status, view.labels))


@engagement_app.command("pause")
def pause(
    engagement_id: str,
    by: str = As,
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Pause an engagement: no gate opens and no reminder goes out until it is resumed."""
    send(engagement_id, build(m.Pause, by=by, reason=reason), update_id, as_json, for_reason)


@engagement_app.command("resume")
def resume(
    engagement_id: str,
    by: str = As,
    reason: str = typer.Option(None, "--reason", help="Why (optional)."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Resume a paused engagement."""
    send(engagement_id, build(m.Resume, by=by, reason=reason), update_id, as_json, for_reason)


@engagement_app.command("request-pause")
def request_pause(
    engagement_id: str,
    by: str = As,
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Ask the facilitators to pause an engagement (anyone the plan allows, a tenant or a carer too)."""
    send(engagement_id, build(m.RequestPause, by=by, reason=reason), update_id, as_json, for_reason)


@engagement_app.command("cosign")
def cosign(
    engagement_id: str,
    change_id: str = typer.Argument(..., help="The proposed change's id (`engagement status` lists them)."),
    by: str = As,
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Co-sign a change that waits for co-signers (an amendment that weakens a gate, or an override of a
    pace hold); the last co-signature it needs makes it take effect."""
    send(engagement_id, build(m.CosignChange, by=by, change_id=change_id), update_id, as_json, for_reason)


@engagement_app.command("decline")
def decline(
    engagement_id: str,
    change_id: str = typer.Argument(..., help="The proposed change's id (`engagement status` lists them)."),
    by: str = As,
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Decline to co-sign a proposed change (its proposer withdraws it the same way): it never takes effect."""
    msg = build(m.DeclineChange, by=by, change_id=change_id, reason=reason)
    send(engagement_id, msg, update_id, as_json, for_reason)


@engagement_app.command("amend")
def amend(
    engagement_id: str,
    plan_file: Path = typer.Argument(..., help="The amended plan (YAML)."),
    by: str = As,
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Amend a running engagement's plan (what already happened cannot be rewritten)."""
    try:
        plan = load_plan(plan_file)
    except UserError as exc:
        fail(str(exc))
    result = run(
        lambda: engagements.amend(
            services(), operator(for_reason), engagement_id, plan, reason, by=by, update_id=update_id
        ),
        engagement_id,
    )
    report_update(result, as_json)


@engagement_app.command("disown")
def disown(
    engagement_id: str,
    position: int = typer.Option(..., "--position", help="The foreign event's position in the log."),
    by: str = As,
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Disown a foreign event (one this engagement did not write, `coproduce audit verify` lists them), so
    the engagement goes on without it. The event stays in the log, shown as foreign, for good."""
    send(
        engagement_id,
        build(m.DisownEvent, by=by, position=position, reason=reason),
        update_id,
        as_json,
        for_reason,
    )


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
    for_reason: str = ForReason,
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
    send(engagement_id, msg, update_id, as_json, for_reason)


@record_app.command("evaluation-strategy")
def record_evaluation_strategy(
    engagement_id: str,
    agreed_by: str = typer.Option(..., "--agreed-by", help="Who agreed it: person ids, comma separated."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record that the evaluation strategy (outcomes, indicators, milestones) was agreed; measuring starts."""
    people = tuple(p.strip() for p in agreed_by.split(",") if p.strip())
    msg = build(m.AgreeEvaluationStrategy, agreed_by=people)
    send(engagement_id, msg, update_id, as_json, for_reason)


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
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record a session held: training, group work, a focus group, policy work, research, a review."""
    people = tuple(p.strip() for p in attendees.split(",") if p.strip())
    msg = build(
        m.RecordSession, by=by, activity_type=activity_type, attendee_ids=people, duration_minutes=minutes,
        phase_id=phase, activity_id=activity, notes=notes,
    )  # fmt: skip
    send(engagement_id, msg, update_id, as_json, for_reason)


@record_app.command("output")
def record_output(
    engagement_id: str,
    output_id: str = typer.Argument(..., help="A short id for the output, the same at every stage."),
    by: str = As,
    kind: str = typer.Option(
        ..., "--kind", help="policy, procedure, research_findings, focus_group_findings or report."
    ),
    stage: str = typer.Option(..., "--stage", help="drafted, consulted_on, adopted or published (in order)."),
    title: str = typer.Option(..., "--title", help="Its title, e.g. 'Repairs policy 2027'."),
    took_part: str = typer.Option(
        ..., "--took-part", help="Who took part in this stage: person ids, comma separated."
    ),
    phase: str = typer.Option(None, "--phase", help="The phase it belongs to (default: the current one)."),
    summary: str = typer.Option(None, "--summary", help="What it says or found, in a few sentences."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record an output reaching a stage: a policy drafted, consulted on or adopted; findings published."""
    people = tuple(p.strip() for p in took_part.split(",") if p.strip())
    msg = build(
        m.RecordOutput, by=by, output_id=output_id, kind=kind, stage=stage, title=title, took_part=people,
        phase_id=phase, summary=summary,
    )  # fmt: skip
    send(engagement_id, msg, update_id, as_json, for_reason)


@record_app.command("decision")
def record_decision(
    engagement_id: str,
    by: str = As,
    area: str = typer.Option(..., "--area", help="The plan's decision area it was made in."),
    decided_on: str = typer.Option(..., "--on", help="The day it was made, as YYYY-MM-DD."),
    rung: str = typer.Option(
        ...,
        "--rung",
        help="How service users took part, as a rung: informing, consultation, engagement, co-design, "
        "co-production (or coercion, educating).",
    ),
    took_part: str = typer.Option(..., "--took-part", help="Who took part: person ids, comma separated."),
    summary: str = typer.Option(..., "--summary", help="What was decided, in a sentence."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record a decision the organisation made (status shows each area's practised rung from them)."""
    people = tuple(p.strip() for p in took_part.split(",") if p.strip())
    msg = build(
        m.RecordDecision, by=by, area_id=area, decided_on=decided_on, rung=rung, took_part=people,
        summary=summary,
    )  # fmt: skip
    send(engagement_id, msg, update_id, as_json, for_reason)


@record_app.command("training")
def record_training(
    engagement_id: str,
    by: str = As,
    person: str = typer.Option(..., "--person", help="Who completed the module."),
    module: str = typer.Option(..., "--module", help="The training module's id."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record a training module completed (it authorises the person for the module's validity)."""
    msg = build(m.RecordTraining, by=by, person_id=person, module_id=module)
    send(engagement_id, msg, update_id, as_json, for_reason)


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
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record a measurement of an indicator (or its baseline)."""
    msg = build(
        m.RecordMeasurement, by=by, indicator=indicator, value=value, baseline=baseline, milestone_id=milestone, note=note
    )  # fmt: skip
    send(engagement_id, msg, update_id, as_json, for_reason)


@record_app.command("checkin")
def record_checkin(
    engagement_id: str,
    person: str = typer.Option(..., "--person", help="Who checks in."),
    comfort: int = typer.Option(
        ..., "--comfort", help="How comfortable they are with the pace (the plan's scale)."
    ),
    note: str = typer.Option(None, "--note"),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record a check-in: how comfortable someone is with the pace of change."""
    msg = build(m.RecordCheckIn, person_id=person, comfort=comfort, note=note)
    send(engagement_id, msg, update_id, as_json, for_reason)


@record_app.command("contribution")
def record_contribution(
    engagement_id: str,
    by: str = As,
    person: str = typer.Option(..., "--person", help="Whose time it was."),
    minutes: int = typer.Option(..., "--minutes"),
    expenses_pence: int = typer.Option(0, "--expenses-pence"),
    session: str = typer.Option(None, "--session"),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record time someone gave (it earns recognition under the plan's policy)."""
    msg = build(
        m.RecordContribution, by=by, person_id=person, minutes=minutes, expenses_pence=expenses_pence, session_id=session
    )  # fmt: skip
    send(engagement_id, msg, update_id, as_json, for_reason)


@record_app.command("recognition")
def record_recognition(
    engagement_id: str,
    by: str = As,
    person: str = typer.Option(..., "--person", help="Who is paid or given a voucher."),
    fee_pence: int = typer.Option(..., "--fee-pence", help="The fee, in pence."),
    expenses_pence: int = typer.Option(0, "--expenses-pence", help="Expenses repaid, in pence."),
    form: str = typer.Option(..., "--form", help="payment or voucher."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record recognition paid for time someone gave: a payment or a voucher, and expenses repaid."""
    msg = build(
        m.RecordRecognition, by=by, person_id=person, fee_pence=fee_pence, expenses_pence=expenses_pence, form=form
    )  # fmt: skip
    send(engagement_id, msg, update_id, as_json, for_reason)


@engagement_app.command("widen")
def widen(
    engagement_id: str,
    by: str = As,
    phase: str = typer.Option(
        None, "--phase", help="The phase the wider group joins in (default: the current one)."
    ),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Widen the cohort: the wider group (people marked cohort: wider) takes part from now on."""
    send(engagement_id, build(m.WidenCohort, by=by, phase_id=phase), update_id, as_json, for_reason)


@ladder_app.command("set")
def ladder_set(
    engagement_id: str,
    area: str = typer.Option(..., "--area", help="The decision area (its id in the plan)."),
    to: str = typer.Option(..., "--to", help="The rung it is on now (e.g. co-design, co-production)."),
    agreed_by: list[str] = typer.Option(
        ..., "--agreed-by", help="Who agreed the move (a person id; give it once for each person)."
    ),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Record the rung of the ladder of participation a decision area is on now, and who agreed it."""
    msg = build(m.ChangeRung, area_id=area, to_rung=to, agreed_by=tuple(agreed_by))
    send(engagement_id, msg, update_id, as_json, for_reason)


# -- gates -------------------------------------------------------------------------------------------
@gate_app.command("decide")
def decide(
    engagement_id: str,
    phase: str = typer.Option(..., "--phase", help="The phase whose gate is decided."),
    by: str = typer.Option(..., "--as", help="The approver: their person id."),
    approve: bool = typer.Option(False, "--approve", help="Vote to approve."),
    object_: bool = typer.Option(False, "--object", help="Vote to object (give --reason)."),
    abstain: bool = typer.Option(False, "--abstain", help="Abstain."),
    reason: str = typer.Option(None, "--reason", help="Why (needed to object where the plan says so)."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Vote on a phase's open gate: approve, object (with a reason) or abstain."""
    choices = [
        name for name, chosen in (("approve", approve), ("object", object_), ("abstain", abstain)) if chosen
    ]
    if len(choices) != 1:
        fail("give exactly one of --approve, --object or --abstain")
    msg = build(m.DecideGate, person_id=by, phase_id=phase, choice=choices[0], reason=reason)
    send(engagement_id, msg, update_id, as_json, for_reason)


@gate_app.command("override")
def override(
    engagement_id: str,
    phase: str = typer.Option(..., "--phase"),
    by: str = typer.Option(..., "--as", help="The facilitator overriding the hold."),
    reason: str = Reason,
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Override a pace hold on a phase (a facilitator, with a reason); the gate may then open."""
    msg = build(m.OverrideHold, by=by, phase_id=phase, reason=reason)
    send(engagement_id, msg, update_id, as_json, for_reason)
