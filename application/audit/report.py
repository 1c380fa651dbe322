"""The auditor's report: one self-contained HTML page that tells an engagement's story from its log.

``render_report`` takes a decoded history (``application.audit.history.decode``) and returns a page with
the house stylesheet inlined and SVG charts drawn on the server: no script, no external file, font or
network, so it can be mailed, archived and printed as it is. Its sections: the engagement at a glance,
phases and gates on a time line, every gate round with its votes, comfort check-ins against the plan's
threshold, each indicator against its baseline and target, movement on the ladder of co-production,
recognition of people's time, and the full decision timeline. Every figure comes from the history
through the same fold and rules the workflow uses, and every chart's numbers are also given as text.

This module does the data work only: it reads the history into a story (gate rounds, pace holds,
check-ins), lays the charts out (scales, coordinates) and gathers each section's rows as plain values.
The templates of ``application.html`` (``report.html`` and its parts in ``report/``) write the page,
and escape every value: reasons and notes are what people wrote.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

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

from ..html import render
from .history import DecodedEvent, TimelineEntry, state_as_of, timeline

CHOICES = ("approve", "object", "abstain")

View = dict[str, Any]
"""What one section's template reads: plain text, numbers, dates and coordinates, never HTML."""


def _day(moment: datetime | date | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def _gbp(pence: int) -> str:
    return f"£{pence / 100:,.2f}"


def _words(word: str | None) -> str:
    return (word or "").replace("_", " ")


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


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

    def ticks(self, most: int = 14) -> list[View]:
        """Where the first of each month falls (every other month, etc., when crowded), and its label."""
        months, month = [], datetime(self.start.year, self.start.month, 1, tzinfo=UTC)
        while month <= self.end:
            months += [month] if month >= self.start else []
            month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        step = max(1, math.ceil(len(months) / most))
        return [{"x": self.x(m), "label": f"{m:%b %y}"} for m in months[::step]]


def _summary(
    state: EngagementState, story: _Story, engagement_id: str, verification: str | None, generated: datetime
) -> View:
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
    return {
        "title": plan.title,
        "organisation": plan.organisation.name,
        "sector": _words(plan.organisation.sector),
        "context": plan.organisation.context,
        "engagement_id": engagement_id,
        "status": state.status,
        "planned": f"{_day(plan.starts_on)} to {_day(plan.ends_on)}",
        "ran": f"{_day(state.started_at)} to {_day(state.completed_at) or 'now (still running)'}",
        "generated": f"{generated:%Y-%m-%d %H:%M} UTC",
        "verification": verification,
        "verified": verification is not None and verification.startswith("OK"),
        "stats": [{"value": value, "label": label} for label, value in stats.items()],
    }


def _gantt_row(y: float, phase_id: str, state: EngagementState, story: _Story, scale: _Scale) -> View:
    """One phase's bar, its pace holds and its gate decisions."""
    known = state.phases.get(phase_id)
    bar = None
    if known and known.started_at:
        x, width = scale.span(known.started_at, known.completed_at, state.last_event_at)
        tip = f"{phase_id}: {_day(known.started_at)} to {_day(known.completed_at) or 'running'}"
        bar = {"status": known.status, "x": x, "y": y + 7, "width": width, "height": 20, "tip": tip}
    holds = []
    for hold in (h for h in story.holds if h.phase_id == phase_id):
        x, width = scale.span(hold.since, hold.until, state.last_event_at)
        holds.append(
            {"x": x, "y": y + 4, "width": width, "height": 26, "tip": f"pace hold: {hold.waiting_for}"}
        )
    marks = []
    for rnd in story.rounds.values():
        if rnd.phase_id != phase_id or rnd.decided_at is None or rnd.decision is None:
            continue
        tip = f"gate round {rnd.round} {rnd.outcome} on {_day(rnd.decided_at)}: {rnd.decision.reason or ''}"
        marks.append(
            {"outcome": rnd.outcome, "x": scale.x(rnd.decided_at), "y": y + 17, "tip": tip.rstrip(": ")}
        )
    return {"bar": bar, "holds": holds, "marks": marks}


def _phases(state: EngagementState, story: _Story, scale: _Scale) -> View:
    plan = state.require_plan()
    top, row_h = 40, 34
    height = top + row_h * len(plan.phases) + 24
    end = scale.x(_midnight(plan.ends_on))
    chart: View = {
        "height": height,
        "ticks": scale.ticks(),
        "top": top - 6,
        "bottom": height - 24,
        "planned_end": {"x": end, "top": top - 10, "label": f"planned end {_day(plan.ends_on)}"},
        "rows": [],
    }
    rows = []
    for i, phase in enumerate(plan.phases):
        y = top + i * row_h
        row = _gantt_row(y, phase.id, state, story, scale)
        chart["rows"].append(
            {"label": f"{i + 1}. {_short(phase.title, 34)}", "title": phase.title, "y": y + 21, **row}
        )
        known = state.phases.get(phase.id)
        started, completed = (known.started_at, known.completed_at) if known else (None, None)
        rows.append(
            {
                "number": i + 1,
                "title": phase.title,
                "id": phase.id,
                "started": started,
                "completed": completed,
                "days": (completed - started).days if started and completed else "",
                "sessions": known.sessions_held if known else 0,
                "rounds": [
                    {"round": r.round, "outcome": r.outcome}
                    for r in story.rounds.values()
                    if r.phase_id == phase.id
                ],
                "holds": [
                    {"since": h.since, "waiting_for": h.waiting_for, "ended": h.ended}
                    for h in story.holds
                    if h.phase_id == phase.id
                ],
            }
        )
    return {"chart": chart, "rows": rows}


def _gate_round(rnd: _Round, title: str) -> View:
    """A round's votes by constituency (each voter a chip), then every reason given or vote not counted."""
    by_constituency: dict[str, list[TimelineEntry]] = {c: [] for c in rnd.quorum}
    for vote in rnd.votes:
        by_constituency.setdefault(vote.constituency or "unknown", []).append(vote)
    tallies = []
    for constituency, votes in sorted(by_constituency.items()):
        counted = [v.choice for v in votes if v.authorised is not False]
        counts = [counted.count(c) or "" for c in CHOICES] + [len(votes) - len(counted) or ""]
        tallies.append(
            {
                "constituency": _words(constituency),
                "needed": rnd.quorum.get(constituency, ""),
                "counts": counts,
                "votes": [
                    {"person": v.person_id, "choice": v.choice, "counted": v.authorised is not False}
                    for v in votes
                ],
            }
        )
    reasons = [
        {
            "person": vote.person_id,
            "constituency": _words(vote.constituency),
            "choice": vote.choice,
            "not_counted": vote.not_counted_reason if vote.authorised is False else None,
            "reason": vote.reason or None,
        }
        for vote in rnd.votes
        if vote.reason or vote.authorised is False
    ]
    decision = rnd.decision and {
        "on": _day(rnd.decided_at),
        "by": rnd.decision.person_id or None,
        "reason": rnd.decision.reason or None,
    }
    return {
        "id": f"gate-{rnd.phase_id}-{rnd.round}",
        "title": title,
        "round": rnd.round,
        "outcome": rnd.outcome,
        "opened": _day(rnd.opened_at),
        "method": rnd.method,
        "approvals_required": rnd.approvals_required,
        "decision": decision,
        "tallies": tallies,
        "reasons": reasons,
    }


def _votes(state: EngagementState, story: _Story) -> list[View]:
    titles = {p.id: p.title for p in state.require_plan().phases}
    return [_gate_round(r, titles.get(r.phase_id, r.phase_id)) for r in story.rounds.values()]


def _comfort(state: EngagementState, story: _Story, scale: _Scale) -> View:
    pace = state.require_plan().pace
    low, high, threshold = pace.comfort_scale.low, pace.comfort_scale.high, pace.comfort_threshold
    top, bottom = 20.0, 260.0

    def y(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / ((high - low) or 1)

    holds = []
    for hold in story.holds:
        x, width = scale.span(hold.since, hold.until, state.last_event_at)
        tip = f"pace hold on {hold.phase_id} from {_day(hold.since)}: {hold.waiting_for}"
        holds.append({"x": x, "width": width, "tip": tip})
    by_day: dict[date, list[int]] = defaultdict(list)
    for at, comfort in story.check_ins:
        by_day[at.date()].append(comfort)
    points, drawn = [], defaultdict(int)
    for at, comfort in story.check_ins:  # people who answered alike on one day sit side by side
        same, k = by_day[at.date()].count(comfort), drawn[at.date(), comfort]
        drawn[at.date(), comfort] += 1
        points.append(
            {
                "low": comfort < threshold,
                "x": scale.x(at) + (k - (same - 1) / 2) * 3.2,
                "y": y(comfort),
                "tip": f"{_day(at)}: comfort {comfort}",
            }
        )
    averages = [(d, sum(v) / len(v)) for d, v in sorted(by_day.items())]
    noon = [(datetime(d.year, d.month, d.day, 12, tzinfo=UTC), a) for d, a in averages]
    everyone = [c for _, c in story.check_ins]
    lowest = min(averages, key=lambda day_average: day_average[1]) if averages else None
    rows = [
        {
            "day": d,
            "check_ins": len(by_day[d]),
            "average": f"{a:.2f}",
            "lowest": min(by_day[d]),
            "highest": max(by_day[d]),
            "below": a < threshold,
        }
        for d, a in averages
    ]
    third = math.ceil(len(rows) / 3) or 1
    return {
        "chart": {
            "ticks": scale.ticks(),
            "top": top,
            "bottom": bottom,
            "left": scale.left,
            "right": scale.right,
            "levels": [{"y": y(level), "label": level} for level in range(low, high + 1)],
            "holds": holds,
            "points": points,
            "average": " ".join(f"{scale.x(t):.1f},{y(a):.1f}" for t, a in noon),
            "threshold": {"y": y(threshold), "value": _num(threshold)},
        },
        "check_ins": len(everyone),
        "days": len(averages),
        "average": f"{sum(everyone) / max(len(everyone), 1):.2f}",
        "low": low,
        "high": high,
        "threshold": _num(threshold),
        "min_check_ins": pace.min_check_ins,
        "window_days": pace.comfort_window_days,
        "every_days": pace.check_in_every_days,
        "lowest": lowest and {"day": _day(lowest[0]), "average": f"{lowest[1]:.2f}"},
        "holds": len(story.holds),
        "tables": [rows[i : i + third] for i in range(0, len(rows), third)],
    }


def _ticks(lo: float, hi: float) -> list[float]:
    """About four round numbers between ``lo`` and ``hi``."""
    raw = (hi - lo) / 4 or 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _indicator(state: EngagementState, item: IndicatorProgress, description: str, scale: _Scale) -> View:
    known = state.indicators[item.key]
    values = [m.value for m in known.measurements] + [item.target]
    values += [item.baseline] if item.baseline is not None else []
    pad = (max(values) - min(values)) * 0.15 or 1.0
    lo, hi, top, bottom = min(values) - pad, max(values) + pad, 14.0, 190.0
    small = _Scale(scale.start, scale.end, 46, 370)

    def y(value: float) -> float:
        return bottom - (bottom - top) * (value - lo) / (hi - lo)

    zone = (top, y(item.target)) if item.direction == "up" else (y(item.target), bottom)
    lines = [
        {
            "cls": cls,
            "y": y(value),
            "label": f"{cls} {_num(value)}",
            "tip": f"{cls} {_num(value)} {item.unit}",
        }
        for cls, value in (("target", item.target), ("baseline", item.baseline))
        if value is not None
    ]
    path = [(m.at, m.value) for m in known.measurements]
    if known.baseline_recorded_at and item.baseline is not None:
        path.insert(0, (known.baseline_recorded_at, item.baseline))
    measurements = [
        {
            "x": small.x(m.at),
            "y": y(m.value),
            "tip": f"{_day(m.at)}: {_num(m.value)} {item.unit}"
            + (f" (milestone {m.milestone_id})" if m.milestone_id else ""),
        }
        for m in known.measurements
    ]
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
    return {
        "key": item.key,
        "description": description,
        "status": item.status,
        "chart": {
            "label": f"{item.key}: baseline, target and measurements",
            "ticks": small.ticks(most=6),
            "top": top,
            "bottom": bottom,
            "left": small.left,
            "right": small.right,
            "values": [{"y": y(t), "label": _num(t)} for t in _ticks(lo, hi)],
            "zone": {"y": zone[0], "height": zone[1] - zone[0]},
            "lines": lines,
            "path": " ".join(f"{small.x(t):.1f},{y(v):.1f}" for t, v in path) if len(path) > 1 else None,
            "measurements": measurements,
        },
        "progress": f"{max(0.0, min(item.progress or 0.0, 1.0)):.0%}",
        "facts": list(facts.items()),
    }


def _indicators(state: EngagementState, scale: _Scale) -> list[View]:
    described = {i.key: i.description for i in state.require_plan().evaluation.indicators}
    return [_indicator(state, i, described[i.key], scale) for i in indicator_progress(state)]


def _ladder(state: EngagementState) -> View:
    positions = ladder_positions(state)
    left, step, top, row_h = 330, 96, 58, 40
    height = top + row_h * len(positions) + 10
    bands = []
    for group, first, last in (("doing to", 0, 1), ("doing for", 2, 4), ("doing with", 5, 6)):
        x = left + (first - 0.5) * step
        bands.append({"cls": f"band-{group[6:]}", "label": group, "x": x, "width": (last - first + 1) * step})
    rows = []
    for n, pos in enumerate(positions):
        xs, xc, xt = (left + rung_index(r) * step for r in (pos.started_on, pos.current, pos.target))
        rows.append(
            {
                "label": _short(pos.title, 36),
                "title": pos.title,
                "cy": top + n * row_h + 14,
                "steps": [left + i * step for i in range(len(RUNGS))],
                "gap": (xc, xt) if xt > xc else None,
                "move": (xs, xc) if xc != xs else None,
                "start": {"x": xs, "tip": f"started on {pos.started_on}"},
                "current": {"x": xc, "tip": f"now: {pos.current}"},
                "target": {"x": xt, "tip": f"target: {pos.target}"},
            }
        )
    return {
        "chart": {
            "height": height,
            "bands": bands,
            "rungs": [{"x": left + i * step, "label": rung} for i, rung in enumerate(RUNGS)],
            "rows": rows,
        },
        "areas": [
            {
                "title": p.title,
                "area_id": p.area_id,
                "cells": [
                    p.started_on,
                    p.current,
                    p.target,
                    p.group,
                    p.steps_climbed,
                    p.decisions,
                    p.practised or "no decisions recorded",
                    "" if p.share_with_service_users is None else f"{p.share_with_service_users:.0%}",
                ],
                "reached": "yes" if p.reached else f"{p.steps_to_target} to go",
            }
            for p in positions
        ],
        "moves": [
            {
                "area_id": a.area_id,
                "from": c.from_rung,
                "to": c.to_rung,
                "at": c.at,
                "agreed_by": ", ".join(c.agreed_by),
            }
            for a in state.decision_areas.values()
            for c in a.changes
        ],
    }


def _recognition(state: EngagementState, labels: Mapping[str, str]) -> View:
    policy = state.require_plan().recognition
    lines = recognition_owed(state)
    rows = []
    for r in lines:
        person = state.people.get(r.person_id)
        money = (r.fee_earned_pence, r.fee_paid_pence, r.expenses_claimed_pence, r.expenses_paid_pence)
        rows.append(
            {
                "person": labels.get(r.person_id, r.person_id),
                "constituency": _words(person and person.constituency),
                "minutes": f"{r.minutes:,}",
                "hours": f"{r.minutes / 60:,.1f}",
                "money": [*map(_gbp, money), _gbp(r.total_owed_pence)],
            }
        )
    minutes = sum(r.minutes for r in lines)
    totals = [
        sum(r.fee_earned_pence for r in lines),
        sum(r.fee_paid_pence for r in lines),
        sum(r.expenses_claimed_pence for r in lines),
        sum(r.expenses_paid_pence for r in lines),
        sum(r.total_owed_pence for r in lines),
    ]
    return {
        "method": _words(policy.method),
        "rate": f"{_gbp(policy.pence_per_hour)} an hour" if policy.method != "none" else "no fee",
        "eligible": ", ".join(_words(c) for c in policy.eligible_constituencies),
        "expenses": policy.expenses,
        "rows": rows,
        "totals": {
            "minutes": f"{minutes:,}",
            "hours": f"{minutes / 60:,.1f}",
            "money": list(map(_gbp, totals)),
        },
    }


def _timeline(story: _Story) -> list[View]:
    return [
        {
            "cls": f"event ev-{e.event} choice-{e.choice}",
            "position": e.position,
            "at": e.occurred_at,
            "what": e.what,
            "person": e.person_id or "",
            "constituency": _words(e.constituency),
            "reason": e.reason or "",
            "how": e.how or "",
        }
        for e in story.entries
    ]


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
    last = max(state.last_event_at or first, _midnight(plan.ends_on))
    scale = _Scale(first - timedelta(days=3), last + timedelta(days=3), 300, 985)
    return render(
        "report.html",
        title=f"Audit report: {plan.title} ({engagement_id})",
        summary=_summary(state, story, engagement_id, verification, generated_at or datetime.now(UTC)),
        phases=_phases(state, story, scale),
        rounds=_votes(state, story),
        comfort=_comfort(state, story, _Scale(scale.start, scale.end, 40, 985)),
        indicators=_indicators(state, scale),
        ladder=_ladder(state),
        recognition=_recognition(state, labels or {}),
        timeline=_timeline(story),
    )
