"""The auditor's report: one self-contained HTML page that tells an engagement's story from its log.

``render_report`` takes a decoded history (``application.audit.history.decode``) and returns a page with
inline CSS and inline SVG charts: no script, no external file, font or network, so it can be mailed,
archived and printed as it is. Its sections: the engagement at a glance, phases and gates on a time
line, every gate round with its votes, comfort check-ins against the plan's threshold, each indicator
against its baseline and target, movement on the ladder of co-production, recognition of people's time,
and the full decision timeline. Every figure comes from the history through the same fold and rules
the workflow uses, and every chart's numbers are also given as text. All text is escaped: reasons and
notes are what people wrote.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from domain.engagement import EngagementState
from domain.events import (
    CheckInRecorded,
    GateDecided,
    GateOpened,
    PaceHoldRecorded,
    PaceHoldReleased,
    PaceOverridden,
    VoteCast,
)
from domain.rules.indicators import IndicatorProgress, indicator_progress
from domain.rules.ladder import ladder_positions
from domain.rules.recognition import recognition_owed
from domain.vocabulary import RUNGS, rung_index

from .history import DecodedEvent, TimelineEntry, state_as_of, timeline

CHOICES = ("approve", "object", "abstain")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _el(tag: str, content: str = "", /, **attrs: object) -> str:
    """An element around ``content`` (already HTML). ``cls`` is the class, ``text_anchor`` becomes
    ``text-anchor``; floats are written to one decimal; attributes that are None are left out."""
    written = ""
    for key, value in attrs.items():
        if value is not None:
            name = "class" if key == "cls" else key.replace("_", "-")
            written += f' {name}="{_e(f"{value:.1f}" if isinstance(value, float) else value)}"'
    return f"<{tag}{written}>{content}</{tag}>"


def _tip(text: str) -> str:
    """An SVG ``<title>``: the tooltip a reader sees on hovering."""
    return _el("title", _e(text))


def _text(content: str, x: float, y: float, cls: str | None = None, anchor: str | None = None) -> str:
    return _el("text", content, cls=cls, x=x, y=y, text_anchor=anchor)


def _line(cls: str | None, x1: float, y1: float, x2: float, y2: float) -> str:
    return _el("line", cls=cls, x1=x1, y1=y1, x2=x2, y2=y2)


def _rect(cls: str | None, x: float, y: float, width: float, height: float, tip: str = "") -> str:
    return _el("rect", _tip(tip) if tip else "", cls=cls, x=x, y=y, width=width, height=height)


def _circle(cls: str, cx: float, cy: float, r: float, tip: str = "") -> str:
    return _el("circle", _tip(tip) if tip else "", cls=cls, cx=cx, cy=cy, r=r)


def _day(moment: datetime | date | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def _when(moment: datetime | date | None, with_time: bool = False) -> str:
    """A date for a table cell, kept on one line; with the time (UTC) when asked."""
    if not moment:
        return ""
    shown = f"{moment:%Y-%m-%d}<br><small>{moment:%H:%M:%S}</small>" if with_time else _day(moment)
    return _el("time", shown, datetime=moment.isoformat())


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def _gbp(pence: int) -> str:
    return f"£{pence / 100:,.2f}"


def _words(word: str | None) -> str:
    return (word or "").replace("_", " ")


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _chip(word: str, cls: str | None = None) -> str:
    return _el("span", _e(word), cls=f"chip {cls or word.replace(' ', '-')}")


def _table(head: str, rows: Iterable[str], cls: str, foot: str = "") -> str:
    """A table; ``head`` names the columns, separated by ``|``."""
    cells = "".join(f"<th>{_e(h)}</th>" for h in head.split("|"))
    return f'<table class="{cls}"><thead><tr>{cells}</tr></thead><tbody>{"".join(rows)}</tbody>{foot}</table>'


def _row(*cells: str, cls: str | None = None) -> str:
    """A table row of cells that are already HTML."""
    return _el("tr", "".join(f"<td>{c}</td>" for c in cells), cls=cls)


def _legend(**keys: str) -> str:
    return (
        '<p class="legend">' + "".join(f'<span class="key {k}"></span>{v} ' for k, v in keys.items()) + "</p>"
    )


def _section(section_id: str, title: str, intro: str, *body: str) -> str:
    heading = f'<section id="{section_id}"><h2>{_e(title)}</h2><p class="intro">{intro}</p>'
    return heading + "".join(body) + "</section>"


def _svg(width: int, height: float, cls: str, label: str, parts: Iterable[str]) -> str:
    return (
        f'<svg class="{cls}" viewBox="0 0 {width} {height:.0f}" role="img" aria-label="{_e(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{_tip(label)}{"".join(parts)}</svg>'
    )


@dataclass
class _Round:
    """One round of a phase's gate, gathered from the history (the state keeps only the latest)."""

    phase_id: str
    round: int
    opened_at: datetime
    method: str
    quorum: dict[str, int]
    approvals_required: int | None
    votes: list[TimelineEntry] = field(default_factory=list)
    decided_at: datetime | None = None
    decision: TimelineEntry | None = None

    @property
    def outcome(self) -> str:
        return (self.decision.choice or "") if self.decision else "open"


@dataclass
class _Hold:
    phase_id: str
    since: datetime
    waiting_for: str
    until: datetime | None = None
    ended: str = "still held"


@dataclass
class _Story:
    """What the sections need from the history beyond the final state, gathered in one pass."""

    entries: list[TimelineEntry]
    rounds: dict[tuple[str, int], _Round] = field(default_factory=dict)
    holds: list[_Hold] = field(default_factory=list)
    check_ins: list[tuple[datetime, int]] = field(default_factory=list)


def _read(history: Sequence[DecodedEvent], labels: Mapping[str, str]) -> _Story:
    story = _Story(entries=list(timeline(history, labels=labels)))
    rounds = story.rounds
    for item, entry in zip(history, story.entries, strict=True):
        event = item.event
        if isinstance(event, GateOpened):
            policy = event.policy
            rounds[event.phase_id, event.round] = _Round(
                event.phase_id, event.round, event.occurred_at, policy.method, dict(policy.quorum),
                policy.approvals_required,
            )  # fmt: skip
        elif isinstance(event, VoteCast) and (event.phase_id, event.round) in rounds:
            rounds[event.phase_id, event.round].votes.append(entry)
        elif isinstance(event, GateDecided) and (event.phase_id, event.round) in rounds:
            decided = rounds[event.phase_id, event.round]
            decided.decided_at, decided.decision = event.occurred_at, entry
        elif isinstance(event, PaceHoldRecorded):
            story.holds.append(_Hold(event.phase_id, event.occurred_at, "; ".join(event.waiting_for)))
        elif isinstance(event, PaceHoldReleased | PaceOverridden):
            for hold in story.holds:
                if hold.phase_id == event.phase_id and hold.until is None:
                    reason = f": {entry.reason}" if entry.reason else ""
                    hold.until, hold.ended = event.occurred_at, entry.what + reason
        elif isinstance(event, CheckInRecorded):
            story.check_ins.append((event.occurred_at, event.comfort))
    return story


@dataclass(frozen=True)
class _Scale:
    """Maps time onto an SVG's x axis, between ``left`` and ``right``."""

    start: datetime
    end: datetime
    left: float
    right: float

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        return self.left + (self.right - self.left) * (moment - self.start).total_seconds() / span

    def span(self, since: datetime, until: datetime | None, fallback: datetime | None) -> tuple[float, float]:
        """x and width of a period (at least 3 units wide, so a short one still shows)."""
        x = self.x(since)
        return x, max(self.x(until or fallback or since) - x, 3.0)

    def axis(self, top: float, bottom: float, most: int = 14) -> str:
        """A gridline and a label on the first of each month (every other month, etc., when crowded)."""
        months, month = [], datetime(self.start.year, self.start.month, 1, tzinfo=UTC)
        while month <= self.end:
            months += [month] if month >= self.start else []
            month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        return "".join(
            _line("grid", self.x(m), top, self.x(m), bottom)
            + _text(f"{m:%b %y}", self.x(m), bottom + 14, "tick", "middle")
            for m in months[:: max(1, math.ceil(len(months) / most))]
        )


def _summary(
    state: EngagementState, story: _Story, engagement_id: str, verification: str | None, generated: datetime
) -> str:
    plan = state.require_plan()
    outcomes = [r.outcome for r in story.rounds.values()]
    done = sum(p.status == "completed" for p in state.phases.values())
    reached = sum(i.reached for i in indicator_progress(state))
    moved = sum(bool(a.changes) for a in state.decision_areas.values())
    stats = {
        "events recorded": len(story.entries),
        "phases completed": f"{done}/{len(state.phases)}",
        f"gate rounds ({outcomes.count('held')} held, {outcomes.count('rejected')} rejected)": len(outcomes),
        "comfort check-ins": state.check_in_count,
        "indicators at target": f"{reached}/{len(state.indicators)}",
        "decision areas moved on the ladder": f"{moved}/{len(state.decision_areas)}",
    }
    facts = {
        "Engagement": f"<code>{_e(engagement_id)}</code>",
        "Organisation": f"{_e(plan.organisation.name)} ({_e(_words(plan.organisation.sector))})",
        "Status": _el("span", _e(_words(state.status)), cls=f"status status-{state.status}"),
        "Planned period": f"{_day(plan.starts_on)} to {_day(plan.ends_on)}",
        "Ran": f"{_day(state.started_at)} to {_day(state.completed_at) or 'now (still running)'}",
        "Report generated": f"{generated:%Y-%m-%d %H:%M} UTC",
    }
    if verification is not None:
        ok = "ok" if verification.startswith("OK") else "failed"
        facts["Log verification"] = _el("span", _e(verification), cls=f"verify verify-{ok}")
    cards = "".join(f'<div class="stat"><b>{v}</b><span>{_e(k)}</span></div>' for k, v in stats.items())
    return (
        f'<section id="summary"><p class="kicker">Audit report</p><h1>{_e(plan.title)}</h1>'
        f'<h2 class="sub">{_e(plan.organisation.name)}</h2>'
        f'<p class="context">{_e(plan.organisation.context)}</p>'
        f'<dl class="facts">{"".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts.items())}</dl>'
        f'<div class="stats">{cards}</div></section>'
    )


def _gantt_row(y: float, phase_id: str, state: EngagementState, story: _Story, scale: _Scale) -> str:
    """One phase's bar, its pace holds and its gate decisions."""
    known = state.phases.get(phase_id)
    parts = []
    if known and known.started_at:
        x, width = scale.span(known.started_at, known.completed_at, state.last_event_at)
        tip = f"{phase_id}: {_day(known.started_at)} to {_day(known.completed_at) or 'running'}"
        parts.append(_rect(f"phase-bar phase-{known.status}", x, y + 7, width, 20, tip))
    for hold in (h for h in story.holds if h.phase_id == phase_id):
        x, width = scale.span(hold.since, hold.until, state.last_event_at)
        parts.append(_rect("pace-hold-band", x, y + 4, width, 26, f"pace hold: {hold.waiting_for}"))
    for rnd in story.rounds.values():
        if rnd.phase_id != phase_id or rnd.decided_at is None or rnd.decision is None:
            continue
        x, cy = scale.x(rnd.decided_at), y + 17
        tip = f"gate round {rnd.round} {rnd.outcome} on {_day(rnd.decided_at)}: {rnd.decision.reason or ''}"
        shape = (
            _el("circle", cx=x, cy=cy, r=6)
            if rnd.outcome == "passed"
            else _el("rect", x=x - 6, y=cy - 6, width=12, height=12, transform=f"rotate(45 {x:.1f} {cy})")
        )
        parts.append(_el("g", _tip(tip.rstrip(": ")) + shape, cls=f"gate-mark gate-{rnd.outcome}"))
    return "".join(parts)


def _phases(state: EngagementState, story: _Story, scale: _Scale) -> str:
    plan = state.require_plan()
    top, row_h = 40, 34
    height = top + row_h * len(plan.phases) + 24
    end = scale.x(datetime.combine(plan.ends_on, datetime.min.time(), UTC))
    parts = [scale.axis(top - 6, height - 24), _line("planned-end", end, top - 10, end, height - 24)]
    parts.append(_text(f"planned end {_day(plan.ends_on)}", end - 4, top - 14, "tick", "end"))
    rows = []
    for i, phase in enumerate(plan.phases):
        y = top + i * row_h
        label = _tip(phase.title) + _e(f"{i + 1}. {_short(phase.title, 34)}")
        parts += [_text(label, 8, y + 21, "row-label"), _gantt_row(y, phase.id, state, story, scale)]
        known = state.phases.get(phase.id)
        started, completed = (known.started_at, known.completed_at) if known else (None, None)
        rounds = [r for r in story.rounds.values() if r.phase_id == phase.id]
        holds = [h for h in story.holds if h.phase_id == phase.id]
        rows.append(
            _row(
                str(i + 1),
                f"<b>{_e(phase.title)}</b><br><small>{_e(phase.id)}</small>",
                f"{_when(started)}<br>{_when(completed) or 'running'}" if started else "pending",
                str((completed - started).days) if started and completed else "",
                str(known.sessions_held if known else 0),
                " ".join(_chip(f"{r.round}: {r.outcome}", r.outcome) for r in rounds),
                "<br>".join(f"held {_when(h.since)}: {_e(h.waiting_for)} ({_e(h.ended)})" for h in holds),
            )
        )
    return _section(
        "phases",
        "Phases and gates",
        "Each bar runs from the day a phase started to the day its gate let it close; the marks are the "
        "gate's decisions (hover over them for the reasons).",
        _svg(1000, height, "phase-chart", "Phases and gate decisions over time", parts),
        _legend(
            bar="phase", passed="gate passed", held="gate held", rejected="gate rejected", hold="pace hold"
        ),
        _table("#|phase|started, completed|days|sessions|gate rounds|pace holds", rows, "phases-table"),
    )


def _gate_round(rnd: _Round, title: str) -> str:
    """A round's votes by constituency (each voter a chip), then every reason given or vote not counted."""
    by_constituency: dict[str, list[TimelineEntry]] = {c: [] for c in rnd.quorum}
    for vote in rnd.votes:
        by_constituency.setdefault(vote.constituency or "unknown", []).append(vote)
    tallies, reasons = [], []
    for constituency, votes in sorted(by_constituency.items()):
        counted = [v.choice for v in votes if v.authorised is not False]
        counts = [counted.count(c) or "" for c in CHOICES] + [len(votes) - len(counted) or ""]
        chips = " ".join(
            _el(
                "span",
                _e(v.person_id),
                cls=f"vote chip {v.choice}{'' if v.authorised is not False else ' void'}",
                title=f"{v.person_id}: {v.choice}",
            )
            for v in votes
        )
        needed = rnd.quorum.get(constituency, "")
        tallies.append(_row(_e(_words(constituency)), str(needed), *(str(n) for n in counts), chips))
    for vote in rnd.votes:
        void = f" <b>(not counted: {_e(vote.not_counted_reason)})</b>" if vote.authorised is False else ""
        why = f': <q class="reason">{_e(vote.reason)}</q>' if vote.reason else ""
        if why or void:
            who = f"<b>{_e(vote.person_id)}</b> ({_e(_words(vote.constituency))})"
            reasons.append(
                f'<li class="vote-reason vote-{vote.choice}">{who} voted {_e(vote.choice)}{void}{why}</li>'
            )
    said = ""
    if rnd.decision is not None:
        who = f" by {_e(rnd.decision.person_id)}" if rnd.decision.person_id else ""
        why = f': <q class="reason">{_e(rnd.decision.reason)}</q>' if rnd.decision.reason else ""
        said = f'<p class="decision">Decided {_day(rnd.decided_at)}{who}: <b>{_e(rnd.outcome)}</b>{why}</p>'
    needed = f", {rnd.approvals_required} approvals required" if rnd.approvals_required else ""
    return (
        f'<article class="gate-round outcome-{rnd.outcome}" id="gate-{_e(rnd.phase_id)}-{rnd.round}">'
        f"<h3>{_e(title)}, round {rnd.round} {_chip(rnd.outcome)}</h3>"
        f'<p class="meta">Opened {_day(rnd.opened_at)}; decided by {_e(rnd.method)}{needed}.</p>{said}'
        + _table("constituency|needed|approve|object|abstain|not counted|votes", tallies, "tally")
        + (f'<ul class="reasons">{"".join(reasons)}</ul>' if reasons else "")
        + "</article>"
    )


def _votes(state: EngagementState, story: _Story) -> str:
    titles = {p.id: p.title for p in state.require_plan().phases}
    rounds = "".join(_gate_round(r, titles.get(r.phase_id, r.phase_id)) for r in story.rounds.values())
    return _section(
        "votes",
        "Gate rounds and votes",
        "Every round of every gate, with each vote by constituency. Only the votes of people authorised "
        "(trained, unexpired) at the time count; objections carry the reasons people gave.",
        rounds or '<p class="empty">No gate has opened yet.</p>',
    )


def _comfort(state: EngagementState, story: _Story, scale: _Scale) -> str:
    pace = state.require_plan().pace
    low, high, threshold = pace.comfort_scale.low, pace.comfort_scale.high, pace.comfort_threshold
    top, bottom = 20.0, 260.0

    def y(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / ((high - low) or 1)

    parts = [scale.axis(top, bottom)]
    for level in range(low, high + 1):
        parts.append(_line("grid", scale.left, y(level), scale.right, y(level)))
        parts.append(_text(str(level), scale.left - 8, y(level) + 4, "tick", "end"))
    for hold in story.holds:
        x, width = scale.span(hold.since, hold.until, state.last_event_at)
        tip = _tip(f"pace hold on {hold.phase_id} from {_day(hold.since)}: {hold.waiting_for}")
        band = _rect(None, x, top, width, bottom - top) + _text("pace hold", x + 4, top + 14)
        parts.append(_el("g", tip + band, cls="pace-hold"))
    by_day: dict[date, list[int]] = defaultdict(list)
    for at, comfort in story.check_ins:
        by_day[at.date()].append(comfort)
    drawn: dict[tuple[date, int], int] = defaultdict(int)
    for at, comfort in story.check_ins:  # people who answered alike on one day sit side by side
        same, k = by_day[at.date()].count(comfort), drawn[at.date(), comfort]
        drawn[at.date(), comfort] += 1
        x = scale.x(at) + (k - (same - 1) / 2) * 3.2
        cls = f"comfort-point comfort-{'low' if comfort < threshold else 'ok'}"
        parts.append(_circle(cls, x, y(comfort), 3.6, f"{_day(at)}: comfort {comfort}"))
    averages = [(d, sum(v) / len(v)) for d, v in sorted(by_day.items())]
    if averages:
        noon = [(datetime(d.year, d.month, d.day, 12, tzinfo=UTC), a) for d, a in averages]
        points = " ".join(f"{scale.x(t):.1f},{y(a):.1f}" for t, a in noon)
        parts.append(_el("polyline", _tip("average per day"), cls="comfort-average", points=points))
    line = _line(None, scale.left, y(threshold), scale.right, y(threshold))
    label = _text(f"threshold {_num(threshold)}", scale.right - 4, y(threshold) - 6, None, "end")
    parts.append(_el("g", _tip(f"comfort threshold {_num(threshold)}") + line + label, cls="threshold"))
    everyone = [c for _, c in story.check_ins]
    lowest = min(averages, key=lambda day_average: day_average[1]) if averages else None
    facts = (
        f"<b>{len(everyone)}</b> check-ins on {len(averages)} days; average comfort "
        f"<b>{sum(everyone) / max(len(everyone), 1):.2f}</b> on a scale of {low} to {high}. The plan's "
        f"threshold is <b>{_num(threshold)}</b> (at least {pace.min_check_ins} check-ins within "
        f"{pace.comfort_window_days} days; check-ins every {pace.check_in_every_days} days). "
        + (f"Lowest day: {_day(lowest[0])}, average {lowest[1]:.2f}. " if lowest else "")
        + f"Pace holds: {len(story.holds)}."
    )
    rows = [
        _row(
            _when(d),
            str(len(by_day[d])),
            f"{a:.2f}",
            str(min(by_day[d])),
            str(max(by_day[d])),
            cls="below" if a < threshold else None,
        )
        for d, a in averages
    ]
    third = math.ceil(len(rows) / 3) or 1
    tables = "".join(
        _table("day|check-ins|average|lowest|highest", rows[i : i + third], "comfort-table compact")
        for i in range(0, len(rows), third)
    )
    return _section(
        "comfort",
        "Comfort with the pace",
        "Each dot is one person's check-in; the line is each day's average; the dashed line is the comfort "
        "the plan asks for before a gate may open; shaded periods are pace holds.",
        _svg(1000, 290, "comfort-chart", "Comfort with the pace, per check-in", parts),
        f'<p>{facts}</p><div class="side-by-side">{tables}</div>',
    )


def _ticks(lo: float, hi: float) -> list[float]:
    """About four round numbers between ``lo`` and ``hi``."""
    raw = (hi - lo) / 4 or 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _indicator(state: EngagementState, item: IndicatorProgress, description: str, scale: _Scale) -> str:
    known = state.indicators[item.key]
    values = [m.value for m in known.measurements] + [item.target]
    values += [item.baseline] if item.baseline is not None else []
    pad = (max(values) - min(values)) * 0.15 or 1.0
    lo, hi, top, bottom = min(values) - pad, max(values) + pad, 14.0, 190.0
    small = _Scale(scale.start, scale.end, 46, 370)

    def y(value: float) -> float:
        return bottom - (bottom - top) * (value - lo) / (hi - lo)

    parts = [small.axis(top, bottom, most=6)]
    parts += [_text(_num(t), 40, y(t) + 4, "tick", "end") for t in _ticks(lo, hi)]
    zone = (top, y(item.target)) if item.direction == "up" else (y(item.target), bottom)
    parts.append(_rect("goal-zone", small.left, zone[0], small.right - small.left, zone[1] - zone[0]))
    for cls, value in (("target", item.target), ("baseline", item.baseline)):
        if value is not None:
            line = _line(None, small.left, y(value), small.right, y(value))
            label = _text(f"{cls} {_num(value)}", small.right + 6, y(value) + 4)
            parts.append(_el("g", _tip(f"{cls} {_num(value)} {item.unit}") + line + label, cls=cls))
    path = [(m.at, m.value) for m in known.measurements]
    if known.baseline_recorded_at and item.baseline is not None:
        path.insert(0, (known.baseline_recorded_at, item.baseline))
    if len(path) > 1:
        points = " ".join(f"{small.x(t):.1f},{y(v):.1f}" for t, v in path)
        parts.append(_el("polyline", cls="measurement-line", points=points))
    for m in known.measurements:
        milestone = f" (milestone {m.milestone_id})" if m.milestone_id else ""
        tip = f"{_day(m.at)}: {_num(m.value)} {item.unit}{milestone}"
        parts.append(_circle("measurement", small.x(m.at), y(m.value), 4.5, tip))
    facts = {
        "baseline": _num(item.baseline) or "not recorded",
        "latest": _num(item.latest) or "not measured",
        "target": _num(item.target),
        "unit": item.unit,
        "direction": "up (more is better)" if item.direction == "up" else "down (less is better)",
        "measured": f"{item.measurements} times",
        "progress": f"{item.progress:.0%}" if item.progress is not None else "n/a",
        "latest on": _day(item.latest_at) or "n/a",
    }
    bar = max(0.0, min(item.progress or 0.0, 1.0))
    status = _chip(item.status, "status-" + item.status.replace(" ", "-"))
    return (
        f'<article class="indicator" id="indicator-{_e(item.key)}"><h3>{_e(description)}</h3>'
        f'<p class="meta"><code>{_e(item.key)}</code> {status}</p>'
        + _svg(480, 214, "indicator-chart", f"{item.key}: baseline, target and measurements", parts)
        + f'<div class="progress" title="{bar:.0%} of the way"><span style="width:{bar:.0%}"></span></div>'
        + f'<dl class="numbers">{"".join(f"<dt>{k}</dt><dd>{_e(v)}</dd>" for k, v in facts.items())}</dl>'
        + "</article>"
    )


def _indicators(state: EngagementState, scale: _Scale) -> str:
    described = {i.key: i.description for i in state.require_plan().evaluation.indicators}
    cards = "".join(_indicator(state, i, described[i.key], scale) for i in indicator_progress(state))
    return _section(
        "indicators",
        "Indicators against their targets",
        "For each indicator of the evaluation strategy: its baseline (dashed), its target (green; the shaded "
        "side is where the target is met) and every measurement recorded.",
        f'<div class="cards">{cards}</div>',
    )


def _ladder(state: EngagementState) -> str:
    positions = ladder_positions(state)
    left, step, top, row_h = 330, 96, 58, 40
    height = top + row_h * len(positions) + 10
    parts = []
    for group, first, last in (("doing to", 0, 1), ("doing for", 2, 4), ("doing with", 5, 6)):
        x = left + (first - 0.5) * step
        parts.append(_rect(f"ladder-band band-{group[6:]}", x, 4, (last - first + 1) * step, height - 4))
        parts.append(_text(group, x + 6, 18, "band-label"))
    parts += [_text(rung, left + i * step, 42, "tick", "middle") for i, rung in enumerate(RUNGS)]
    for n, pos in enumerate(positions):
        cy = top + n * row_h + 14
        parts.append(_text(_tip(pos.title) + _e(_short(pos.title, 36)), 8, cy + 4, "row-label"))
        parts += [_circle("ladder-step", left + i * step, cy, 3) for i in range(len(RUNGS))]
        xs, xc, xt = (left + rung_index(r) * step for r in (pos.started_on, pos.current, pos.target))
        parts += [_line("ladder-gap", xc, cy, xt, cy)] if xt > xc else []
        parts += [_line("ladder-move", xs, cy, xc, cy)] if xc != xs else []
        parts.append(_circle("ladder-target", xt, cy, 11, f"target: {pos.target}"))
        parts.append(_circle("ladder-start", xs, cy, 6, f"started on {pos.started_on}"))
        parts.append(_circle("ladder-current", xc, cy, 7, f"now: {pos.current}"))
    rows = [
        _row(
            f"<b>{_e(p.title)}</b><br><small>{_e(p.area_id)}</small>",
            *(_e(word) for word in (p.started_on, p.current, p.target, p.group, p.steps_climbed)),
            "yes" if p.reached else f"{p.steps_to_target} to go",
        )
        for p in positions
    ]
    moves = [
        _row(
            _e(a.area_id),
            f"{_e(c.from_rung)} → <b>{_e(c.to_rung)}</b>",
            _when(c.at),
            _e(", ".join(c.agreed_by)),
        )
        for a in state.decision_areas.values()
        for c in a.changes
    ]
    return _section(
        "ladder",
        "The ladder of co-production",
        "Who shares each class of decision, from coercion to co-production, and every move agreed.",
        _svg(1000, height, "ladder-chart", "Decision areas on the ladder of co-production", parts),
        _legend(start="where it started", current="where it is now", target="where the plan aims"),
        _table("decision area|started on|now|target|group|steps up|target reached", rows, "ladder-table"),
        "<h3>Moves on the ladder</h3>",
        _table("decision area|from → to|date|agreed by", moves, "ladder-changes")
        if moves
        else '<p class="empty">No decision area moved on the ladder in this history.</p>',
    )


def _recognition(state: EngagementState, labels: Mapping[str, str]) -> str:
    policy = state.require_plan().recognition
    lines = recognition_owed(state)
    rows = []
    for r in lines:
        person = state.people.get(r.person_id)
        money = (r.fee_earned_pence, r.fee_paid_pence, r.expenses_claimed_pence, r.expenses_paid_pence)
        cells = (
            _e(labels.get(r.person_id, r.person_id)),
            _e(_words(person and person.constituency)),
            f"{r.minutes:,}",
        )
        rows.append(_row(*cells, f"{r.minutes / 60:,.1f}", *map(_gbp, money), _gbp(r.total_owed_pence)))
    empty = '<tr><td colspan="9" class="empty">No time was logged for recognition in this history.</td></tr>'
    minutes = sum(r.minutes for r in lines)
    totals = [
        sum(r.fee_earned_pence for r in lines),
        sum(r.fee_paid_pence for r in lines),
        sum(r.expenses_claimed_pence for r in lines),
        sum(r.expenses_paid_pence for r in lines),
        sum(r.total_owed_pence for r in lines),
    ]
    foot = _row("Total", "", f"{minutes:,}", f"{minutes / 60:,.1f}", *map(_gbp, totals), cls="totals")
    rate = f"{_gbp(policy.pence_per_hour)} an hour" if policy.method != "none" else "no fee"
    head = "person|constituency|minutes|hours|fee earned|fee paid|expenses claimed|expenses paid|still owed"
    return _section(
        "recognition",
        "Recognition of people's time",
        f"Time is recognised by {_e(_words(policy.method))} at {_e(rate)} for "
        f"{_e(', '.join(_words(c) for c in policy.eligible_constituencies))}; expenses are "
        f"{'reimbursed' if policy.expenses else 'not reimbursed'}. Amounts in pounds sterling.",
        _table(head, rows or [empty], "recognition-table", f"<tfoot>{foot}</tfoot>"),
    )


def _timeline(story: _Story) -> str:
    rows = [
        _row(
            str(e.position),
            _when(e.occurred_at, with_time=True),
            _e(e.what),
            _e(e.person_id),
            _e(_words(e.constituency)),
            _e(e.reason),
            cls=f"event ev-{e.event} choice-{e.choice}",
        )
        for e in story.entries
    ]
    return _section(
        "timeline",
        "Decision timeline",
        f"All {len(rows)} events, in the order they were recorded.",
        _table("#|occurred (UTC)|what happened|person|constituency|reason or note", rows, "timeline-table"),
    )


def render_report(
    history: list[DecodedEvent],
    *,
    engagement_id: str,
    verification: str | None = None,
    generated_at: datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """One self-contained HTML page reporting the engagement ``history`` (as ``history.decode`` gives it).

    ``verification`` is the log's verification sentence (e.g. "OK: 438 events, Merkle root ..."), shown
    in the header when given; ``generated_at`` defaults to now. People in ``labels`` (the forgotten)
    are shown by their label ("forgotten person #2") instead of their id.
    """
    state = state_as_of(history)
    plan = state.require_plan()
    story = _read(history, labels or {})
    first = state.started_at or story.entries[0].occurred_at
    last = max(state.last_event_at or first, datetime.combine(plan.ends_on, datetime.min.time(), UTC))
    scale = _Scale(first - timedelta(days=3), last + timedelta(days=3), 300, 985)
    sections = (
        _summary(state, story, engagement_id, verification, generated_at or datetime.now(UTC)),
        _phases(state, story, scale),
        _votes(state, story),
        _comfort(state, story, _Scale(scale.start, scale.end, 40, 985)),
        _indicators(state, scale),
        _ladder(state),
        _recognition(state, labels or {}),
        _timeline(story),
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Audit report: {_e(plan.title)} ({_e(engagement_id)})</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )


CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #0b7285; --soft: #eef6f7;
  --pass: #2b8a3e; --held: #d9480f; --amber: #f59f00; --reject: #c92a2a; --abstain: #868e96; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 22px 28px;
  margin: 0 0 22px; }
h1 { font-size: 30px; margin: 0 0 2px; line-height: 1.2; }
h2 { font-size: 21px; margin: 0 0 6px; color: var(--accent); }
h2.sub { color: var(--muted); font-weight: 500; font-size: 18px; }
h3 { font-size: 16px; margin: 18px 0 4px; }
.kicker { text-transform: uppercase; letter-spacing: .12em; font-size: 12px; color: var(--accent); margin: 0;
  font-weight: 700; }
.intro, .meta, .context, .legend, .empty { color: var(--muted); }
.meta { margin: 0 0 6px; font-size: 14px; }
dl.facts { display: grid; grid-template-columns: 170px 1fr; gap: 4px 16px; margin: 14px 0; }
dt { color: var(--muted); } dd { margin: 0; }
.stats { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; }
.stat { background: var(--soft); border-radius: 8px; padding: 10px 12px; }
.stat b { display: block; font-size: 24px; color: var(--accent); }
.stat span { font-size: 12.5px; color: var(--muted); }
.status, .chip { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12.5px;
  border: 1px solid currentColor; white-space: nowrap; font-weight: 600; }
.verify { display: inline-block; padding: 2px 8px; border: 1px solid currentColor; border-radius: 6px;
  font: 12.5px ui-monospace, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.status-completed, .verify-ok, .chip.passed, .chip.approve,
.chip.status-target-reached { color: var(--pass); }
.status-paused, .chip.held, .chip.status-not-measured, .chip.status-no-baseline { color: var(--held); }
.verify-failed, .chip.rejected, .chip.object, .chip.status-worse-than-baseline { color: var(--reject); }
.chip.abstain, .chip.open { color: var(--abstain); }
.status-active, .chip.status-improving { color: var(--accent); }
.chip.void { text-decoration: line-through; }
table { border-collapse: collapse; width: 100%; margin: 10px 0; font-size: 13.5px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; border-bottom: 2px solid var(--line); }
table.compact { width: auto; } table.compact td { padding: 2px 10px; }
tr.below td { color: var(--held); }
tfoot td { font-weight: 700; border-top: 2px solid var(--ink); border-bottom: none; }
.recognition-table td:nth-child(n+3), .recognition-table th:nth-child(n+3) { text-align: right; }
time, .ladder-table td:nth-child(n+2), .tally td:first-child { white-space: nowrap; }
.side-by-side { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; }
svg { width: 100%; height: auto; display: block; margin: 8px 0; font-size: 12px; }
svg text { fill: var(--ink); } svg .tick { fill: var(--muted); font-size: 11px; }
svg .grid { stroke: #e4e9ee; stroke-width: 1; } svg .row-label { font-size: 14.5px; }
.phase-bar { fill: var(--accent); } .phase-running { fill: #66a6b2; }
.planned-end { stroke: var(--muted); stroke-dasharray: 4 3; }
.phases-table td:last-child { font-size: 12.5px; color: var(--muted); }
.pace-hold-band { fill: rgba(245, 159, 0, .35); stroke: var(--amber); stroke-dasharray: 3 2; }
.gate-mark { stroke: #fff; stroke-width: 1.5; }
.gate-passed { fill: var(--pass); } .gate-held { fill: var(--amber); } .gate-rejected { fill: var(--reject); }
.comfort-point { fill-opacity: .45; stroke-width: .8; }
.comfort-ok { fill: var(--accent); stroke: var(--accent); }
.comfort-low { fill: var(--amber); stroke: var(--held); }
.comfort-average { fill: none; stroke: var(--ink); stroke-width: 1.6; }
.threshold line { stroke: var(--reject); stroke-width: 1.6; stroke-dasharray: 7 4; }
.threshold text { fill: var(--reject); font-weight: 600; }
.pace-hold rect { fill: rgba(245, 159, 0, .16); } .pace-hold text { fill: var(--held); font-weight: 600; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.indicator { border: 1px solid var(--line); border-radius: 8px; padding: 4px 14px 10px; }
.indicator h3 { font-size: 14.5px; }
.indicator-chart text { font-size: 13px; } .indicator-chart .tick { font-size: 12px; }
.goal-zone { fill: rgba(43, 138, 62, .08); }
.target line { stroke: var(--pass); stroke-width: 2; } .target text { fill: var(--pass); font-weight: 600; }
.baseline line { stroke: var(--muted); stroke-width: 1.4; stroke-dasharray: 5 4; }
.baseline text { fill: var(--muted); }
.measurement { fill: var(--accent); stroke: #fff; stroke-width: 1.5; }
.measurement-line { fill: none; stroke: var(--accent); stroke-width: 2; }
.progress { height: 6px; background: var(--line); border-radius: 3px; overflow: hidden; }
.progress span { display: block; height: 100%; background: var(--pass); }
dl.numbers { display: grid; grid-template-columns: auto 1fr auto 1fr; gap: 2px 10px; font-size: 13px;
  margin: 8px 0 0; }
dl.numbers dd { font-weight: 600; }
.gate-round { border-left: 4px solid var(--pass); padding: 2px 0 4px 14px; margin: 16px 0; }
.gate-round.outcome-held { border-color: var(--amber); }
.gate-round.outcome-rejected { border-color: var(--reject); }
.gate-round.outcome-open { border-color: var(--abstain); } .gate-round h3 { margin-top: 6px; }
.decision { margin: 4px 0; } q.reason { font-style: italic; }
.outcome-held .decision, .outcome-rejected .decision { padding: 6px 10px; border-radius: 6px; }
.outcome-held .decision { background: #fff6e0; } .outcome-rejected .decision { background: #fff0f0; }
table.tally { width: auto; } table.tally td:nth-child(n+2):not(:last-child) { text-align: center; }
.tally td:last-child { min-width: 260px; }
.reasons { margin: 4px 0 0; padding-left: 20px; font-size: 14px; }
.legend .key { display: inline-block; width: 12px; height: 12px; margin: 0 5px 0 14px; vertical-align: -1px; }
.key.bar { background: var(--accent); border-radius: 2px; }
.key.passed { background: var(--pass); border-radius: 50%; }
.key.held, .key.rejected { background: var(--amber); transform: rotate(45deg) scale(.85); }
.key.rejected { background: var(--reject); }
.key.hold { background: rgba(245, 159, 0, .4); border: 1px dashed var(--amber); }
.key.start { border: 2px solid var(--muted); border-radius: 50%; }
.key.current { background: var(--accent); border-radius: 50%; }
.key.target { border: 2px solid var(--pass); border-radius: 50%; width: 16px; height: 16px;
  vertical-align: -3px; }
.ladder-band { fill: #f8f9fa; } .band-for { fill: #f1f6f9; } .band-with { fill: #ebf7ef; }
.band-label { fill: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .08em; }
.ladder-step { fill: #ced4da; } .ladder-gap { stroke: var(--muted); stroke-dasharray: 3 4; }
.ladder-move { stroke: var(--accent); stroke-width: 4; }
.ladder-target { fill: none; stroke: var(--pass); stroke-width: 2.5; }
.ladder-start { fill: #fff; stroke: var(--muted); stroke-width: 2; } .ladder-current { fill: var(--accent); }
.timeline-table { font-size: 12.5px; table-layout: fixed; } .timeline-table td { padding: 3px 8px; }
.timeline-table th:nth-child(1) { width: 3.6em; } .timeline-table th:nth-child(2) { width: 6.6em; }
.timeline-table th:nth-child(3) { width: 36%; } .timeline-table th:nth-child(4) { width: 4.2em; }
.timeline-table th:nth-child(5) { width: 7.4em; } .timeline-table td:first-child { color: var(--muted); }
.timeline-table td { overflow-wrap: anywhere; }
.ev-gate_decided td, .ev-pace_hold_recorded td, .ev-engagement_completed td { font-weight: 600; }
.ev-pace_hold_recorded td, .choice-object td, .choice-held td { background: #fff6e0; }
.choice-rejected td { background: #fff0f0; }
@media (max-width: 800px) {
  .cards { grid-template-columns: 1fr; } .stats { grid-template-columns: repeat(3, 1fr); }
}
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 10.5pt; } main { max-width: none; padding: 0; }
  section { border: none; border-radius: 0; padding: 0; margin: 0; break-before: page; }
  section#summary { break-before: auto; }
  table { font-size: 9pt; } thead { display: table-header-group; }
  tr, svg, .indicator, .stat, dl { break-inside: avoid; }
  h2, h3, .intro, .meta, .decision { break-after: avoid; }
  .stats { grid-template-columns: repeat(3, 1fr); }
}
"""
