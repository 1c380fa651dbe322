"""``coproduce plan ...``, ``simulate`` and ``demo``: checking plans, and rehearsing them faster than time."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from application.audit.consistency import described, fold_differences
from application.simulation import (
    Responses,
    demo_responses,
    milestones_due,
    projected_phases,
    responses_from_yaml,
    retention_projected,
)
from domain.errors import PlanError
from domain.fidelity import fidelity_warnings
from domain.plan import plan_json_schema
from eventlog import Signer, checkpoint_database, verify_database
from workers.rehearsal import EXAMPLES, Rehearsal, rehearse

from .common import Commands, JsonOption, attempt, fail, load_plan, out, print_json, run, settings
from .render import indicators_table, timeline_table

plan_app = typer.Typer(
    cls=Commands, help="Check engagement plans and export their format.", no_args_is_help=True
)
DEMO_PLAN = EXAMPLES / "housing-tenant-governance.yaml"


@plan_app.command("check")
def check(
    plan_file: Path = typer.Argument(..., help="The plan (YAML)."),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse the plan for signs of token co-production too, not only warn."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Validate a plan, and list every problem at once (with field paths); then warn where the plan
    risks token co-production (people with lived experience never deciding, existing decision makers
    untrained, no assessment first, milestones that never fall due)."""
    try:
        plan = load_plan(plan_file)
    except PlanError as exc:
        count = len(exc.problems)
        if as_json:
            print_json(
                {"valid": False, "problems": [{"path": p.path, "message": p.message} for p in exc.problems]}
            )
            fail(f"{plan_file} has {count} problem{'s' if count != 1 else ''} (listed in the JSON)")
        fail(f"{plan_file} has {count} problem{'s' if count != 1 else ''}:\n{exc}")
    except Exception as exc:
        fail(str(exc))
    warnings = fidelity_warnings(plan)
    refused = strict and bool(warnings)
    many = f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
    if as_json:
        print_json(
            {
                "valid": not refused, "title": plan.title, "phases": len(plan.phases), "people": len(plan.people),
                "retention": plan.retention.model_dump() if plan.retention else None,
                "warnings": [{"path": w.path, "message": w.message} for w in warnings],
            }
        )  # fmt: skip
        if refused:
            fail(
                f"{plan_file} has {many} of token co-production, which --strict refuses (listed in the JSON)"
            )
        return
    if refused:
        listed = "\n".join(f"  {w.path}: {w.message}" for w in warnings)
        fail(f"{plan_file} has {many} of token co-production, which --strict refuses:\n{listed}")
    out.print(
        f"{plan_file}: a valid plan: [bold]{plan.title}[/] ({plan.organisation.name}), {len(plan.phases)} phases, "
        f"{len(plan.people)} people, {plan.starts_on} to {plan.ends_on}"
    )
    out.print(
        f"Retention: {plan.retention.described()}."
        if plan.retention
        else "Retention: none; people are forgotten only on request (`coproduce people forget`).",
        highlight=False,
    )
    if warnings:
        out.print(f"{many} of token co-production (`--strict` refuses them):", highlight=False)
        for warning in warnings:
            out.print(f"  {warning.path}: {warning.message}", highlight=False, markup=False)


@plan_app.command("schema")
def schema(
    as_json: bool = typer.Option(False, "--json", help="Accepted for scripts: the schema is JSON anyway."),
) -> None:
    """Print the JSON Schema of the plan format (for editors)."""
    print(json.dumps(plan_json_schema(), indent=2))


def _progress(shown: bool) -> Progress:
    """The weeks simulated so far, on a terminal; nothing when ``shown`` is False (``--json``)."""
    return Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("weeks  {task.fields[phase]}"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=not shown,
    )


def _rehearse(
    plan_file: Path, responses: Responses | None, database: str, engagement_id: str, *, progress: bool = True
) -> Rehearsal:
    plan = load_plan(plan_file) if plan_file.exists() else None
    if plan is None:
        fail(f"there is no file {plan_file}")
    responses = responses or demo_responses(plan)
    weeks = max(1, (plan.ends_on - plan.starts_on).days // 7)
    with _progress(progress) as bar:
        task = bar.add_task("weeks", total=weeks, phase="")

        def on_week(week: int, status) -> None:  # type: ignore[no-untyped-def]
            bar.update(task, completed=min(week, weeks), phase=status.current_phase or status.status)

        return run(lambda: rehearse(plan, responses, database=database, settings=settings(),
                                    engagement_id=engagement_id, on_week=on_week))  # fmt: skip


def demo(
    plan_file: Path = typer.Option(
        DEMO_PLAN, "--plan", help="The plan to rehearse (default: the housing example)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Run the example engagement through a whole year, then show its decisions and verify its log.

    Real workflow code, scripted people (some uneasy about the pace, some objecting at two gates), the
    time-skipping server standing in for twelve months, and a database of its own (coproduce_demo).
    """
    result = _rehearse(plan_file, None, "coproduce_demo", "demo-engagement", progress=not as_json)
    status = result.status
    if not as_json:
        out.print(timeline_table(result.events))
        out.print(indicators_table(status.indicators))

    async def verify() -> tuple[str, bool]:
        signer = Signer.generate("coproduce-demo")
        _, note = await checkpoint_database(result.database_url, signer, "coproduce/demo")
        again = await verify_database(
            result.database_url, notes=[note] if note else [], verifiers=[signer.verifier]
        )
        return again.summary(), again.ok

    try:
        summary, ok = run(verify)
    finally:
        result.finish()
    differ = fold_differences(result.events, status)
    finished = ok and not differ and status.status == "completed"
    if as_json:
        print_json({
            "weeks": result.weeks,
            "seconds": round(result.seconds, 1),
            "inputs": result.updates,
            "events": len(result.events),
            "status": status.status,
            "verification": summary,
            "verified": ok,
            "fold_matches_status": not differ,
            "fold_differences": differ,
            "database": "coproduce_demo",
            "timeline": [
                {"position": e.position, "type": e.type, "occurred_at": e.occurred_at.isoformat()}
                for e in result.events
            ],
            "indicators": [item.model_dump(mode="json") for item in status.indicators],
        })  # fmt: skip
    else:
        _demo_summary(result, summary, differ)
    if not finished:
        fail(
            "the demo did not finish as it should; see "
            + ("status, verified and fold_differences in the output" if as_json else "above")
        )


def _demo_summary(result: Rehearsal, summary: str, differ: list[str]) -> None:
    status = result.status
    out.print(
        f"Simulated {result.weeks} weeks in {result.seconds:.0f} s: {result.updates} inputs, "
        f"{len(result.events)} events, engagement [bold]{status.status}[/]."
    )
    out.print(f"Verification: {summary}")
    out.print(
        "The log folds to the workflow's state: "
        + ("yes" if not differ else f"NO, they differ at {described(differ)}")
    )
    out.print("The demo's events are in the database coproduce_demo, apart from real engagements.")


def simulate(
    plan_file: Path = typer.Argument(..., help="The plan (YAML)."),
    responses_file: Path = typer.Option(
        None,
        "--responses",
        help="YAML: comfort, check_in_every_weeks, uneasy_phases, uneasy_weeks, objections (phase: reason).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Project the timeline a plan's pace policy produces under assumed responses, before it starts."""
    responses = Responses()
    if responses_file is not None:
        try:
            text = responses_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            fail(f"there is no file {responses_file}")
        except (IsADirectoryError, UnicodeDecodeError):
            fail(f"{responses_file} is not a responses file (a YAML text file)")
        plan = attempt(lambda: load_plan(plan_file))
        responses = attempt(lambda: responses_from_yaml(text, str(responses_file), plan))
    result = _rehearse(plan_file, responses, "coproduce_simulation", "simulation", progress=not as_json)
    result.finish()
    rows = projected_phases(result.events)
    forgetting = retention_projected(result.status.state)
    if as_json:
        print_json(
            {
                "weeks": result.weeks,
                "status": result.status.status,
                "phases": rows,
                "milestones": milestones_due(result.events),
                "retention": forgetting,
            }
        )
        return
    table = Table(
        title=f"Projected timeline ({result.status.status} after {result.weeks} weeks)", title_justify="left"
    )
    table.add_column("phase", overflow="fold")
    for column in ("starts", "gate passes", "rounds", "pace hold", "ends"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(row["phase"], row["started"], row["gate_passed"], str(row["rounds"]),
                      "yes" if row["held"] else "", row["completed"])  # fmt: skip
    out.print(table)
    milestones = milestones_due(result.events)
    if milestones:
        table = Table(title="Milestones fall due", title_justify="left")
        table.add_column("milestone")
        table.add_column("due")
        for milestone, due in milestones.items():
            table.add_row(milestone, due)
        out.print(table)
    plan = result.status.state.plan
    if plan is not None and result.status.state.completed_at is not None:
        late = result.status.state.completed_at.date() > plan.ends_on
        out.print(
            f"Ends {result.status.state.completed_at:%Y-%m-%d}: {'[red]after[/]' if late else 'within'} the plan's end date ({plan.ends_on})."
        )
    if forgetting is not None:
        when = f"on {forgetting['due_on']}" if forgetting["due_on"] else "once the engagement completes"
        out.print(
            f"Retention: {len(forgetting['participants'])} participants forgotten {when} "
            f"({forgetting['forget_participants_after_days']} days after it completes), unless they opt to "
            "stay (`coproduce people stay`).",
            highlight=False,
        )
