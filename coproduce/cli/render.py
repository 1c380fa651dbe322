"""How engagements look on a terminal: rich tables for people (``--json`` gives scripts the data)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from application.audit.disclosure import relabel
from domain.rules.indicators import IndicatorProgress
from domain.rules.ladder import LadderPosition
from eventlog import RecordedEvent
from workflows.messages import EngagementStatus

PHASE_MARK = {
    "completed": "[green]done[/]",
    "running": "[bold yellow]running[/]",
    "pending": "[dim]pending[/]",
}


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def indicators_table(indicators: Sequence[IndicatorProgress]) -> Table:
    table = Table(title="Indicators against their targets", title_justify="left")
    for column in ("indicator", "baseline", "latest", "target", "progress", "status"):
        table.add_column(
            column, justify="right" if column in ("baseline", "latest", "target", "progress") else "left"
        )
    for item in indicators:
        arrow = "up" if item.direction == "up" else "down"
        progress = f"{item.progress:.0%}" if item.progress is not None else ""
        table.add_row(
            f"{item.key} ({item.unit}, {arrow})",
            "" if item.baseline is None else f"{item.baseline:g}",
            "" if item.latest is None else f"{item.latest:g}",
            f"{item.target:g}",
            progress,
            item.status,
        )
    return table


def status_view(status: EngagementStatus, labels: Mapping[str, str] | None = None) -> RenderableType:
    """Where an engagement stands, for people; the forgotten in ``labels`` are shown by their label."""
    shown = labels or {}

    def who(text: str) -> str:
        return relabel(text, shown)

    state = status.state
    plan = state.plan
    title = plan.title if plan else status.engagement_id or ""
    header = Text.assemble(
        (f"{status.engagement_id}", "bold"), f"  {title}\n",
        f"{plan.organisation.name if plan else ''}  |  status: ", (status.status.replace("_", " "), "bold"),
        f"  |  events recorded: {status.stream_version}  |  as of {status.as_of:%Y-%m-%d %H:%M} UTC",
    )  # fmt: skip
    parts: list[RenderableType] = [header]
    if state.follow_up_until is not None and status.status == "following_up":
        parts.append(Text(f"Every phase is complete; following up until {day(state.follow_up_until)}."))
    for review in state.follow_up_reviews:
        new = len(review.new_decision_makers)
        parts.append(
            Text(
                f"Follow-up {review.milestone_id} ({day(review.at)}): of {new} new decision makers, "
                f"{len(review.still_authorised)} still authorised, {len(review.still_active)} still taking part."
            )
        )

    phases = Table(title="Phases", title_justify="left")
    for column in ("phase", "status", "started", "waiting for"):
        phases.add_column(column)
    for phase in status.phases:
        waiting = who("; ".join(phase.pace.waiting_for)) if phase.pace and phase.status == "running" else ""
        if phase.held_since:
            waiting = f"[red]held since {day(phase.held_since)}[/]: {escape(waiting)}"
        phases.add_row(
            phase.phase_id, PHASE_MARK.get(phase.status, phase.status), day(phase.started_at), waiting
        )
    parts.append(phases)

    gate = status.gate
    if gate is not None:
        table = Table(
            title=f"Gate '{gate.phase_id}', round {gate.round}: {gate.status} ({gate.method}), "
            f"opened {day(gate.opened_at)} at the request of {who(gate.requested_by)}",
            title_justify="left",
        )
        for column in ("constituency", "approvals needed", "approve", "object", "abstain"):
            table.add_column(column, justify="left" if column == "constituency" else "right")
        for row in gate.by_constituency:
            table.add_row(
                row.constituency,
                str(row.required_approvals or ""),
                str(row.approve),
                str(row.object),
                str(row.abstain),
            )
        parts.append(table)
        uncounted = [f"{who(v.person_id)} ({v.not_counted_reason})" for v in gate.votes if not v.counted]
        if uncounted:
            parts.append(Text("Votes that do not count: " + "; ".join(uncounted), style="red"))
        parts.append(Text("May still vote: " + (", ".join(map(who, gate.may_still_vote)) or "nobody")))
    if status.waiting_for:
        parts.append(Text("Waiting for: " + who("; ".join(status.waiting_for)), style="yellow"))
    if status.changes_waiting:
        changes = Table(title="Changes waiting for co-signers", title_justify="left")
        for column in ("change", "what", "proposed", "co-signed by", "still needs"):
            changes.add_column(column)
        for change in status.changes_waiting:
            what = (
                "override the pace hold on " + (change.phase_id or "")
                if change.kind == "pace_override"
                else ("amend the plan: " + "; ".join(change.weakens))
            )
            changes.add_row(
                change.change_id,
                escape(what),
                f"{day(change.proposed_at)} by {who(change.proposed_by)}",
                ", ".join(map(who, change.cosigned_by)) or "nobody yet",
                "; ".join(change.waiting_for),
            )
        parts.append(changes)
        parts.append(Text("Co-sign with `coproduce engagement cosign ENGAGEMENT CHANGE --as PERSON`."))
    if any(position.decisions for position in status.ladder):
        parts.append(ladder_table(status.ladder))
    if status.indicators:
        parts.append(indicators_table(status.indicators))
    if status.next_due:
        due = Table(title="Falls due next", title_justify="left")
        due.add_column("when")
        due.add_column("what")
        for item in status.next_due:
            due.add_row(day(item.due_at), f"{item.kind.replace('_', ' ')} {item.reference or ''}".strip())
        parts.append(due)
    return Group(*parts)


def ladder_table(positions: Iterable[LadderPosition]) -> Table:
    """Each decision area: the rung agreed, the rung its recorded decisions were made at, and the share
    of them made with service users, against the plan's target."""
    table = Table(title="Decision areas: agreed and practised", title_justify="left")
    for column in ("area", "agreed", "practised", "made with service users", "target"):
        table.add_column(column)
    for p in positions:
        share = (
            "" if p.share_with_service_users is None else f"{p.share_with_service_users:.0%} of {p.decisions}"
        )
        table.add_row(escape(p.title), p.current, p.practised or "no decisions yet", share, p.target)
    return table


def engagements_table(rows: Iterable[dict[str, str]]) -> Table:
    table = Table(title="Engagements", title_justify="left")
    for column in ("id", "organisation", "phase", "status", "waiting for"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text(row[k]) for k in ("id", "organisation", "phase", "status", "waiting_for")))
    return table


def _decision_line(event: RecordedEvent) -> str | None:
    p = event.payload
    kind = event.type
    if kind == "phase_started":
        return f"phase [bold]{p['phase_id']}[/] started"
    if kind == "phase_completed":
        return f"phase [bold]{p['phase_id']}[/] completed"
    if kind == "gate_opened":
        quorum = ", ".join(f"{k} {v}" for k, v in p["policy"].get("quorum", {}).items())
        return f"gate {p['phase_id']} opened, round {p['round']} ({p['policy']['method']}{'; quorum ' + quorum if quorum else ''}; {len(p['roster'])} on the roster)"
    if kind == "vote_cast" and p["choice"] != "approve":
        return f'  {p["person_id"]} voted {p["choice"]}: "{escape(p.get("reason") or "")}"'
    if kind == "gate_decided":
        colour = {"passed": "green", "held": "yellow", "rejected": "red"}[p["outcome"]]
        reason = f": {escape(p['reason'])}" if p.get("reason") else ""
        return f"gate {p['phase_id']} round {p['round']} [{colour}]{p['outcome']}[/]{reason}"
    if kind == "pace_hold_recorded":
        return f"[yellow]pace hold[/] on {p['phase_id']}: waiting for {escape('; '.join(p['waiting_for']))}"
    if kind == "pace_hold_released":
        return f"pace hold on {p['phase_id']} released"
    if kind == "pace_overridden":
        return f'pace hold on {p["phase_id"]} overridden by {p["overridden_by"]}: "{escape(p["reason"])}"'
    if kind in ("engagement_started", "engagement_completed", "cohort_widened", "evaluation_strategy_agreed"):
        return kind.replace("_", " ")
    if kind == "gate_escalated":
        return f"[red]gate {p['phase_id']} escalated[/] (pending longer than planned)"
    if kind == "rung_changed":
        return f"decision area {p['area_id']}: {p['from_rung']} -> {p['to_rung']}"
    return None


def timeline_table(events: Iterable[RecordedEvent]) -> Table:
    """The decisions of an engagement, in order: phases, gates, votes against, holds."""
    table = Table(title="Decision timeline", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("date")
    table.add_column("what happened")
    for event in events:
        line = _decision_line(event)
        if line is not None:
            table.add_row(str(event.position), day(event.occurred_at), line)
    return table
