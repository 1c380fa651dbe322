"""The auditor's HTML report, as a reader's browser shows it.

A year of the housing example (the ``year`` fixture: real workflow, real log) is rendered, opened in
headless Chromium, and the DOM Chromium built is read back: every section, one comfort dot per check-in,
the threshold, one chart per indicator, the held and rejected gate rounds with their reasons, one
timeline row per event. A copy of the year with time logged, recognition paid, a move on the ladder and
a reason that holds ``<script>`` checks the money totals and that people's words stay text. At phone
widths (320 and 375 CSS pixels) the page reflows: nothing scrolls sideways but a wide table, inside a
region of its own that a keyboard reaches. The page, a screenshot and a PDF print are kept in
``tests/artifacts/`` to look at.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from application.audit.history import DecodedEvent, decode, state_as_of
from application.audit.report import render_report
from domain.engagement import EngagementState
from domain.events import (
    CheckInRecorded,
    ContributionLogged,
    Event,
    GateDecided,
    GateOpened,
    PaceHoldRecorded,
    RecognitionPaid,
    RungChanged,
    VoteCast,
    event_to_record,
)
from domain.rules.recognition import recognition_owed
from eventlog import RecordedEvent, verify_database

from .conftest import ENGAGEMENT, Year

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SECTIONS = ("summary", "phases", "votes", "comfort", "indicators", "ladder", "recognition", "timeline")
SCRIPT = "<script>alert('not data')</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    """An element of the DOM Chromium dumped."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                    found.append(child)
                found += child.all(tag, cls)
        return found

    def one(self, tag: str | None = None, cls: str | None = None) -> Node:
        found = self.all(tag, cls)
        assert len(found) == 1, f"{len(found)} <{tag} class={cls}> found, one expected"
        return found[0]

    def by_id(self, element_id: str) -> Node:
        found = [n for n in self.all() if n.attrs.get("id") == element_id]
        assert len(found) == 1, f"no single element with id {element_id!r}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(dom: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(dom)
    builder.close()
    return builder.root


def find_chromium() -> str:
    """The browser: ``$CHROMIUM`` if set (a path or a command), else ``chromium`` on the PATH. Missing, the
    test is skipped on a developer's machine but fails under CI (``CI=true``), where it must run."""
    wanted = os.environ.get("CHROMIUM")
    browser = shutil.which(wanted) if wanted else shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        missing = f"Chromium is not installed{f' ({wanted} not found)' if wanted else ''}"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(
                f"{missing}, and under CI the report must be checked: install Debian's chromium "
                "(`apt-get install chromium`; .ci/run does)",
                pytrace=False,
            )
        pytest.skip(f"{missing} (Debian package `chromium`; .ci/run installs it)")
    return browser


def chromium(page: Path, *args: str, profile: Path) -> str:
    """Run headless Chromium on ``page`` (60 s at most) and return what it printed."""
    browser = find_chromium()
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--hide-scrollbars", f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@dataclass
class Shown:
    """A rendered report: the history it came from, its final state, and the DOM the browser built."""

    history: list[DecodedEvent]
    state: EngagementState
    page: Path
    dom: Node

    def events(self, kind: type[Event]) -> list[Event]:
        return [item.event for item in self.history if isinstance(item.event, kind)]


def show(history: list[DecodedEvent], name: str, tmp: Path, verification: str | None = None) -> Shown:
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{name}.html"
    html = render_report(history, engagement_id=ENGAGEMENT, verification=verification,
                         generated_at=datetime(2027, 12, 1, 9, 30, tzinfo=UTC))  # fmt: skip
    page.write_text(html, encoding="utf-8")
    dom = parse(chromium(page, "--dump-dom", profile=tmp / name))
    return Shown(history, state_as_of(history), page, dom)


@pytest.fixture(scope="module")
def verification(year: Year) -> str:
    return asyncio.run(verify_database(year.database_url)).summary()


@pytest.fixture(scope="module")
def report(year: Year, verification: str, tmp_path_factory: pytest.TempPathFactory) -> Shown:
    return show(year.history, "audit-report", tmp_path_factory.mktemp("chromium"), verification)


def _recorded(after: RecordedEvent, event: Event, offset: int) -> RecordedEvent:
    kind, version, payload = event_to_record(event)
    return after.replace(
        position=after.position + offset, stream_version=after.stream_version + offset,
        event_id=uuid.uuid4(), type=kind, schema_version=version, payload=payload,
        metadata={**after.metadata, "actor": "f01"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def enriched(year: Year, tmp_path_factory: pytest.TempPathFactory) -> Shown:
    """The year with an objection's reason holding a script tag (altered before decoding), and, before
    the engagement completed, time logged, recognition paid and a decision area moved up the ladder."""
    records = [item.record for item in year.history]
    objection = next(
        i for i, r in enumerate(records) if r.type == "vote_cast" and r.payload["choice"] == "object"
    )
    altered = {**records[objection].payload, "reason": f"Dates clashed {SCRIPT} & <b>too soon</b>"}
    records[objection] = records[objection].replace(payload=altered)
    *before, completed = records
    at = year.history[-2].event.occurred_at
    ledger: list[Event] = [
        ContributionLogged(occurred_at=at, person_id="t01", minutes=150, expenses_pence=640),
        ContributionLogged(occurred_at=at, person_id="t02", minutes=45),
        ContributionLogged(occurred_at=at, person_id="c01", minutes=95, expenses_pence=1210),
        ContributionLogged(occurred_at=at, person_id="d01", minutes=120),
        RecognitionPaid(occurred_at=at, person_id="t01", fee_pence=2000, expenses_pence=640, form="voucher"),
        RecognitionPaid(occurred_at=at, person_id="c01", fee_pence=0, expenses_pence=1000, form="payment"),
        RungChanged(occurred_at=at, area_id="repairs-policy", from_rung="consultation", to_rung="co-design",
                    agreed_by=("d02", "t01")),
    ]  # fmt: skip
    added = [_recorded(before[-1], event, n + 1) for n, event in enumerate(ledger)]
    last = completed.replace(position=added[-1].position + 1, stream_version=added[-1].stream_version + 1)
    history = decode([*before, *added, last])
    return show(history, "audit-report-enriched", tmp_path_factory.mktemp("chromium"))


def test_the_page_has_every_section_and_stands_alone(report: Shown, verification: str) -> None:
    dom, plan = report.dom, report.state.require_plan()
    for section_id in SECTIONS:
        section = dom.by_id(section_id)
        assert section.tag == "section" and section.all("h2"), section_id
    assert [n.attrs["id"] for n in dom.all("section")] == list(SECTIONS)
    header = dom.by_id("summary").text()
    for shown in (
        ENGAGEMENT,
        plan.title,
        plan.organisation.name,
        "completed",
        verification,
        "2027-12-01 09:30",
    ):
        assert shown in header, shown
    assert verification.startswith("OK: ")
    assert f"{plan.starts_on} to {plan.ends_on}" in header
    # Nothing to fetch or run: no scripts, stylesheets, images or frames, and no address but SVG's namespace.
    assert not dom.all("script") and not dom.all("link") and not dom.all("img") and not dom.all("iframe")
    source = report.page.read_text(encoding="utf-8")
    assert source.count("http") == source.count('xmlns="http://www.w3.org/2000/svg"')
    assert "@media print" in source and "break-before: page" in source


def test_a_screenshot_and_a_print_are_kept(report: Shown, tmp_path: Path) -> None:
    shot, pdf = ARTIFACTS / "audit-report.png", ARTIFACTS / "audit-report.pdf"
    for kept in (shot, pdf):
        kept.unlink(missing_ok=True)
    chromium(report.page, f"--screenshot={shot}", "--window-size=1280,4000", profile=tmp_path / "shot")
    chromium(report.page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", profile=tmp_path / "pdf")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 100_000
    printed = pdf.read_bytes()
    assert printed.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", printed))
    assert pages >= len(SECTIONS), (
        f"only {pages} printed pages"
    )  # each section starts a page; the timeline runs on


def test_at_phone_width_the_page_reflows_and_only_wide_tables_scroll_sideways(
    report: Shown, tmp_path: Path
) -> None:
    # Headless Chromium makes no window narrower than 500 px, so the page is laid out in frames as wide as
    # phones (320 px is WCAG 2.2's reflow width), and each frame's width of content is written back.
    source = escape(report.page.read_text(encoding="utf-8"))
    frames = "".join(
        f'<iframe id="w{width}" style="width:{width}px;height:800px;border:0" srcdoc="{source}" '
        'onload="this.dataset.scrollWidth = this.contentDocument.documentElement.scrollWidth"></iframe>'
        for width in (320, 375)
    )
    phones = tmp_path / "phones.html"
    phones.write_text(f"<!doctype html><body>{frames}</body>", encoding="utf-8")
    dom = parse(chromium(phones, "--dump-dom", profile=tmp_path / "phones"))
    for width in (320, 375):
        assert int(dom.by_id(f"w{width}").attrs["data-scroll-width"]) <= width, (
            f"scrolls sideways at {width} px"
        )
    regions = report.dom.all("div", "table-scroll")
    assert len(regions) == len(report.dom.all("table"))  # every table scrolls in its own region
    for region in regions:
        assert (
            region.attrs["tabindex"] == "0"
            and region.attrs["role"] == "region"
            and region.attrs["aria-label"]
        )
    assert report.dom.one("html").attrs["lang"] == "en-GB"


def test_phases_and_gate_decisions_are_on_the_time_line(report: Shown) -> None:
    section, plan = report.dom.by_id("phases"), report.state.require_plan()
    chart = section.one("svg", "phase-chart")
    assert len(chart.all("rect", "phase-bar")) == len(plan.phases)
    decided = report.events(GateDecided)
    marks = chart.all("g", "gate-mark")
    assert len(marks) == len(decided)
    assert sorted(m.attrs["class"].split()[-1] for m in marks) == sorted(f"gate-{d.outcome}" for d in decided)
    assert len(chart.all("rect", "pace-hold-band")) == len(report.events(PaceHoldRecorded)) == 1
    rows = section.one("table", "phases-table").one("tbody").all("tr")
    assert len(rows) == len(plan.phases)
    for row, phase in zip(rows, plan.phases, strict=True):
        known = report.state.phases[phase.id]
        assert phase.title in row.text() and f"{known.completed_at:%Y-%m-%d}" in row.text()


def test_every_gate_round_shows_its_votes_and_the_reasons_for_holding_or_rejecting(report: Shown) -> None:
    section = report.dom.by_id("votes")
    opened = report.events(GateOpened)
    assert len(section.all("article", "gate-round")) == len(opened)
    for gate in opened:
        article = section.by_id(f"gate-{gate.phase_id}-{gate.round}")
        votes = [v for v in report.events(VoteCast) if (v.phase_id, v.round) == (gate.phase_id, gate.round)]
        chips = {
            chip.text(): chip.classes & {"approve", "object", "abstain"}
            for chip in article.all("span", "vote")
        }
        assert chips == {v.person_id: {v.choice} for v in votes}
    not_passed = [d for d in report.events(GateDecided) if d.outcome != "passed"]
    assert {d.outcome for d in not_passed} == {"held", "rejected"}
    for decision in not_passed:
        article = section.by_id(f"gate-{decision.phase_id}-{decision.round}")
        assert f"outcome-{decision.outcome}" in article.classes
        text = " ".join(article.text().split())
        assert decision.reason and decision.reason in text
        objections = [v for v in report.events(VoteCast) if (v.phase_id, v.round, v.choice) ==
                      (decision.phase_id, decision.round, "object")]  # fmt: skip
        assert objections
        for objection in objections:
            assert objection.reason and f"{objection.person_id} (" in text and objection.reason in text


def test_comfort_shows_one_dot_per_check_in_against_the_threshold(report: Shown) -> None:
    section, pace = report.dom.by_id("comfort"), report.state.require_plan().pace
    chart = section.one("svg", "comfort-chart")
    points = chart.all("circle", "comfort-point")
    assert len(points) == report.state.check_in_count == len(report.events(CheckInRecorded))
    low = [p for p in points if "comfort-low" in p.classes]
    assert low and all(int(p.text().rsplit(" ", 1)[1]) < pace.comfort_threshold for p in low)
    threshold = chart.one("g", "threshold")
    assert threshold.all("line") and f"threshold {pace.comfort_threshold:g}" in threshold.text()
    assert len(chart.all("g", "pace-hold")) == len(report.events(PaceHoldRecorded))
    assert f"threshold is {pace.comfort_threshold:g}" in section.text()
    days = sum(len(t.one("tbody").all("tr")) for t in section.all("table", "comfort-table"))
    assert days == len({e.occurred_at.date() for e in report.events(CheckInRecorded)})


def test_each_indicator_has_a_chart_with_its_target_and_its_numbers(report: Shown) -> None:
    section, plan = report.dom.by_id("indicators"), report.state.require_plan()
    charts = section.all("svg", "indicator-chart")
    assert len(charts) == len(plan.evaluation.indicators)
    for indicator in plan.evaluation.indicators:
        card = section.by_id(f"indicator-{indicator.key}")
        chart = card.one("svg", "indicator-chart")
        known = report.state.indicators[indicator.key]
        assert f"target {indicator.target:g}" in chart.one("g", "target").text()
        assert len(chart.all("circle", "measurement")) == len(known.measurements)
        numbers = card.one("dl", "numbers").text()
        assert f"target{indicator.target:g}" in numbers and f"unit{indicator.unit}" in numbers
        if known.measurements:
            assert f"latest{known.measurements[-1].value:g}" in numbers


def test_ladder_and_recognition_show_the_state(report: Shown) -> None:
    areas = report.state.decision_areas
    ladder = report.dom.by_id("ladder")
    chart = ladder.one("svg", "ladder-chart")
    assert (
        len(chart.all("circle", "ladder-current")) == len(chart.all("circle", "ladder-target")) == len(areas)
    )
    assert not chart.all("line", "ladder-move")  # nothing moved in the scripted year
    assert len(ladder.one("table", "ladder-table").one("tbody").all("tr")) == len(areas)
    totals = report.dom.by_id("recognition").one("tr", "totals").text()
    assert "£0.00" in totals  # the scripted year logs no time for recognition


def test_the_timeline_has_one_row_per_event(report: Shown) -> None:
    rows = report.dom.by_id("timeline").one("table", "timeline-table").one("tbody").all("tr")
    assert len(rows) == len(report.history)
    assert [r.all("td")[0].text() for r in rows] == [str(i.record.position) for i in report.history]
    assert "engagement completed" in rows[-1].text()


def test_recognition_totals_are_the_sums_of_the_accounts(enriched: Shown) -> None:
    owed = recognition_owed(enriched.state)
    assert len(owed) == 4
    table = enriched.dom.by_id("recognition").one("table", "recognition-table")
    assert len(table.one("tbody").all("tr")) == len(owed)
    totals = [td.text() for td in table.one("tr", "totals").all("td")]
    accounts = enriched.state.recognition.values()
    expected = [
        sum(a.minutes for a in accounts), sum(a.fee_earned_pence for a in accounts),
        sum(a.fee_paid_pence for a in accounts), sum(a.expenses_claimed_pence for a in accounts),
        sum(a.expenses_paid_pence for a in accounts), sum(r.total_owed_pence for r in owed),
    ]  # fmt: skip
    assert totals[2] == f"{expected[0]:,}" == "410"
    assert totals[4:] == [f"£{pence / 100:,.2f}" for pence in expected[1:]]
    assert totals[4] == "£72.50"  # 290 minutes of service users' and carers' time at £15 an hour
    row = next(r for r in table.one("tbody").all("tr") if r.all("td")[0].text() == "t01")
    assert [td.text() for td in row.all("td")][4:] == ["£37.50", "£20.00", "£6.40", "£6.40", "£17.50"]


def test_a_move_on_the_ladder_shows_who_agreed(enriched: Shown) -> None:
    ladder = enriched.dom.by_id("ladder")
    move = " ".join(ladder.one("table", "ladder-changes").one("tbody").text().split())
    assert "repairs-policy" in move and "consultation → co-design" in move and "d02, t01" in move
    assert len(ladder.all("line", "ladder-move")) == len(enriched.events(RungChanged)) == 1


def test_what_people_wrote_is_shown_as_text_never_run(enriched: Shown) -> None:
    dom = enriched.dom
    assert not dom.all("script")
    for section_id in ("votes", "timeline"):
        assert f"Dates clashed {SCRIPT} & <b>too soon</b>" in dom.by_id(section_id).text()
    assert not any("too soon" in bold.text() for bold in dom.all("b"))  # the tag they typed is text too
    assert SCRIPT not in enriched.page.read_text(encoding="utf-8")
