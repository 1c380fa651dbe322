"""Line charts drawn on the server as inline SVG: the geometry is worked out here, in plain numbers, and
``templates/macros/line_chart.html`` writes the SVG (templates take values, never HTML made in Python).

A chart has a time axis, a value axis between ``low`` and ``high``, one line per series and
horizontal reference lines (a baseline, a target, a threshold). Each series is told apart by more than
its colour: a dash pattern and a marker shape of its own, named in the legend in words. Every colour
has at least 3:1 contrast on white (WCAG 2.2, 1.4.11 non-text contrast). The page puts a table of the
same numbers beside each chart for people who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Style:
    colour: str
    dash: str  # an SVG stroke-dasharray; '' is a solid line
    marker: str  # circle, square, triangle or diamond
    pattern: str  # the line and marker in words, for the legend


# Contrast on white: #1d70b8 5.2:1, #b3261e 6.4:1, #00703c 6.0:1, #4c2c92 10.6:1, #6f4e00 7.4:1.
STYLES = (
    Style("#1d70b8", "", "circle", "solid line, round dots"),
    Style("#b3261e", "9 5", "square", "long dashes, square dots"),
    Style("#00703c", "2 4", "triangle", "dotted line, triangles"),
    Style("#4c2c92", "12 4 3 4", "diamond", "dash-dot line, diamonds"),
    Style("#6f4e00", "5 3", "circle", "short dashes, round dots"),
)
RULE_STYLES = {
    "target": Style("#00703c", "", "none", "solid green line"),
    "baseline": Style("#505a5f", "7 4", "none", "dashed grey line"),
    "threshold": Style("#b3261e", "3 3", "none", "dotted red line"),
}


@dataclass(frozen=True)
class Tick:
    at: float  # x for a time tick, y for a value tick
    label: str


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    tip: str  # what hovering over it says


@dataclass(frozen=True)
class Series:
    name: str
    style: Style
    marks: tuple[Mark, ...]
    path: str  # the polyline's points, "x,y x,y"


@dataclass(frozen=True)
class Rule:
    name: str
    value: float
    label: str  # the value as the legend writes it
    y: float
    style: Style


@dataclass(frozen=True)
class LineChart:
    id: str  # unique on the page: the SVG's title and description are named after it
    title: str
    description: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    series: tuple[Series, ...]
    rules: tuple[Rule, ...]


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    series: Sequence[tuple[str, Sequence[tuple[datetime, float]]]],
    *,
    low: float,
    high: float,
    rules: Sequence[tuple[str, str, float]] = (),
    width: int = 420,
    height: int = 240,
) -> LineChart:
    """A chart of ``series`` (name, points of time and value), each drawn in the next of ``STYLES``,
    with ``rules`` (kind: target, baseline or threshold; name; value) across it. The value axis runs
    from ``low`` to ``high``, widened to take in every value and rule."""
    values = [v for _, points in series for _, v in points] + [value for _, _, value in rules]
    low, high = min([low, *values]), max([high, *values])
    if high == low:
        high = low + 1
    times = [at for _, points in series for at, _ in points]
    first = min(times) if times else datetime.now().astimezone()
    last = max(times) if times else first
    if last - first < timedelta(days=1):  # one day or less: a day either side, so the points sit inside
        first, last = first - timedelta(days=1), last + timedelta(days=1)
    left, right, top, bottom = 40.0, width - 24.0, 14.0, height - 30.0
    span = (last - first).total_seconds()

    def x_of(at: datetime) -> float:
        return left + (at - first).total_seconds() / span * (right - left)

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    drawn = []
    for (name, points), style in zip(series, _cycle(len(series)), strict=True):
        marks = tuple(
            Mark(x_of(at), y_of(value), f"{name}: {_number(value)} on {at:%d %b %Y}")
            for at, value in sorted(points)
        )
        drawn.append(Series(name, style, marks, " ".join(f"{m.x:.1f},{m.y:.1f}" for m in marks)))
    return LineChart(
        id=chart_id, title=title, description=description, width=width, height=height,
        left=left, right=right, top=top, bottom=bottom,
        x_ticks=tuple(Tick(x_of(at), f"{at:%d %b}") for at in _days(first, last)),
        y_ticks=tuple(Tick(y_of(value), _number(value)) for value in _steps(low, high)),
        series=tuple(drawn),
        rules=tuple(
            Rule(name, value, _number(value), y_of(value), RULE_STYLES[kind]) for kind, name, value in rules
        ),
    )  # fmt: skip


def _cycle(n: int) -> list[Style]:
    return [STYLES[i % len(STYLES)] for i in range(n)]


def _number(value: float) -> str:
    return f"{value:g}"


def _days(first: datetime, last: datetime, most: int = 6) -> list[datetime]:
    """Midnights from ``first`` to ``last`` for the time axis's labels: every day, or every few days so
    that there are at most ``most`` (each label a different day)."""
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if day < first:
        day += timedelta(days=1)
    days = max(1, (last - day).days + 1)
    step = timedelta(days=-(-days // most))
    found = []
    while day <= last:
        found.append(day)
        day += step
    return found


def _steps(low: float, high: float, most: int = 6) -> list[float]:
    """Round values from ``low`` to ``high`` for the value axis's labels: 1, 2 or 5 times a power of ten."""
    raw = (high - low) / (most - 1)
    power = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    step = next(power * k for k in (1, 2, 5, 10) if power * k >= raw)
    start = (low // step) * step
    found, value = [], start
    while value <= high + 1e-9:
        if value >= low - 1e-9:
            found.append(round(value, 6))
        value += step
    return found
