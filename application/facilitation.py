"""What a facilitator does on the web: see every engagement they run on one page, open one of them
(its timeline, comfort over time, indicators against their targets), and record there what would
otherwise need the command line: invite a person, record a check-in or a session, pause and resume.

Every function takes the signed-in session. The facilitator acting is the person the session's account
is in that engagement, and only if that person is one of its facilitators (constituency
``facilitator``); anyone else is answered exactly as for an engagement that does not exist
(``participation.NotHere``), so nothing about it leaks. Each input goes through the same use case as
the command line's (``engagements.submit``, ``identity.sign_in.invite``), vouched for as sent on the
web by that facilitator.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from statistics import mean

from domain.events import CheckInRecorded
from domain.vocabulary import ACTIVITY_TYPES
from workflows import messages as m

from .audit.history import TimelineEntry, load, timeline
from .engagements import submit
from .html.charts import LineChart, line_chart
from .identity.sign_in import Invitation, Session, invite
from .participation import NOT_HERE, NotHere, Place, actor_for, comfort_words, place
from .portfolio import PortfolioRow, portfolio
from .requests import request
from .services import Services

FACILITATOR = "facilitator"


# -- the portfolio ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortfolioPage:
    """The engagements the signed-in person facilitates (those the filters keep), most urgent first,
    and every organisation and facilitator among all of them, for the filters."""

    rows: list[PortfolioRow]
    total: int  # how many they facilitate, before filtering
    organisations: list[str]
    facilitators: list[str]
    organisation: str | None
    facilitator: str | None


async def portfolio_page(
    services: Services,
    current: Session,
    now: datetime,
    *,
    organisation: str | None = None,
    facilitator: str | None = None,
) -> PortfolioPage:
    """The portfolio of the signed-in account, filtered by ``organisation`` and ``facilitator``; a filter
    naming something not among them keeps nothing (the page says so)."""
    if current.account_id is None:
        return PortfolioPage([], 0, [], [], None, None)
    every = await portfolio(services, current.account_id, now)
    rows = [
        row
        for row in every
        if (not organisation or row.organisation == organisation)
        and (not facilitator or facilitator in row.facilitators)
    ]
    return PortfolioPage(
        rows=rows,
        total=len(every),
        organisations=sorted({row.organisation for row in every}),
        facilitators=sorted({person for row in every for person in row.facilitators}),
        organisation=organisation or None,
        facilitator=facilitator or None,
    )


# -- one engagement ----------------------------------------------------------------------------------------
async def facilitating(services: Services, current: Session, engagement_id: str) -> Place:
    """The signed-in person in ``engagement_id`` if they facilitate it, else ``NotHere``."""
    here = await place(services, current, engagement_id)
    person = here.status.state.people.get(here.person_id)
    if person is None or person.constituency != FACILITATOR:
        raise NotHere(NOT_HERE)
    return here


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str | None
    constituency: str


@dataclass(frozen=True)
class ComfortRow:
    day: str  # YYYY-MM-DD
    constituency: str
    average: float
    check_ins: int


@dataclass(frozen=True)
class IndicatorView:
    key: str
    description: str
    unit: str
    direction: str
    baseline: float | None
    target: float
    measurements: list[tuple[datetime, float, str | None]]  # when, value, milestone
    chart: LineChart


@dataclass(frozen=True)
class EngagementPage:
    place: Place
    organisation: str
    status: str
    phase_title: str | None
    waiting_for: list[str]
    people: list[Person]  # everyone not forgotten, for the forms
    taking_part: list[Person]  # those who take part now (who can check in)
    comfort_scale: list[tuple[int, str]]
    comfort_chart: LineChart
    comfort_rows: list[ComfortRow]
    indicators: list[IndicatorView]
    timeline: list[TimelineEntry]
    activity_types: tuple[str, ...]


async def engagement_page(services: Services, current: Session, engagement_id: str) -> EngagementPage:
    """One engagement as its facilitator sees it: where it stands, its timeline (newest first), comfort
    per constituency by day, and each indicator against its baseline and target."""
    here = await facilitating(services, current, engagement_id)
    state = here.status.state
    plan = state.require_plan()
    async with services.writer_log() as log:
        history = await load(log, engagement_id, None, services.writers())
        names = await services.register_on(log).names(engagement_id)
    people = [
        Person(p.person_id, names.get(p.person_id), p.constituency)
        for p in sorted(state.people.values(), key=lambda p: p.person_id)
        if p.person_id in names or not names
    ]
    taking_part = [p for p in people if state.takes_part(state.people[p.person_id])]
    by_day: dict[tuple[str, str], list[int]] = defaultdict(list)
    for item in history:
        event = item.event
        if item.foreign is None and isinstance(event, CheckInRecorded) and event.person_id in state.people:
            group = state.people[event.person_id].constituency
            by_day[f"{event.occurred_at:%Y-%m-%d}", group].append(event.comfort)
    comfort_rows = [
        ComfortRow(day, group, round(mean(values), 2), len(values))
        for (day, group), values in sorted(by_day.items())
    ]
    groups = sorted({row.constituency for row in comfort_rows})
    scale = plan.pace.comfort_scale
    comfort_chart = line_chart(
        "comfort",
        "Comfort with the pace, by group",
        f"Average comfort each day a group checked in, on a scale of {scale.low} to {scale.high}; "
        f"the plan asks for at least {plan.pace.comfort_threshold} before a gate may open.",
        [
            (_words(group), [(_midday(row.day), row.average) for row in comfort_rows if row.constituency == group])
            for group in groups
        ],
        low=scale.low, high=scale.high, rules=[("threshold", "Comfort threshold", plan.pace.comfort_threshold)],
    )  # fmt: skip
    indicators = []
    for spec in plan.evaluation.indicators if plan.evaluation else ():
        kept = state.indicators.get(spec.key)
        baseline = kept.baseline if kept and kept.baseline is not None else spec.baseline
        points = [(p.at, p.value, p.milestone_id) for p in (kept.measurements if kept else ())]
        rules = [("target", "Target", spec.target)]
        if baseline is not None:
            rules.insert(0, ("baseline", "Baseline", baseline))
        chart = line_chart(
            f"indicator-{spec.key}",
            f"{spec.description} ({spec.unit})",
            f"Each measurement of {spec.description.lower()} against its baseline and target "
            f"({'higher' if spec.direction == 'up' else 'lower'} is better).",
            [("Measured", [(at, value) for at, value, _ in points])],
            low=0, high=spec.target, rules=rules, height=200,
        )  # fmt: skip
        indicators.append(
            IndicatorView(
                spec.key, spec.description, spec.unit, spec.direction, baseline, spec.target, points, chart
            )
        )
    current_phase = here.status.current_phase
    return EngagementPage(
        place=here, organisation=plan.organisation.name, status=state.status,
        phase_title=plan.phases_by_id[current_phase].title if current_phase else None,
        waiting_for=list(here.status.waiting_for), people=people, taking_part=taking_part,
        comfort_scale=comfort_words(scale.low, scale.high), comfort_chart=comfort_chart,
        comfort_rows=comfort_rows, indicators=indicators,
        timeline=list(reversed(list(timeline(history)))), activity_types=ACTIVITY_TYPES,
    )  # fmt: skip


def _midday(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def _words(word: str) -> str:
    return word.replace("_", " ").capitalize()


# -- what a facilitator records ------------------------------------------------------------------------------
async def invite_person(
    services: Services, current: Session, engagement_id: str, person_id: str
) -> Invitation:
    """``coproduce people invite``, by the signed-in facilitator: a link (emailed when the register has
    an address) and a one-time code, shown once."""
    here = await facilitating(services, current, engagement_id)
    return await invite(services, actor_for(here, current), engagement_id, person_id, email=True)


async def record_check_in(
    services: Services,
    current: Session,
    engagement_id: str,
    person_id: str,
    comfort: int,
    note: str | None,
    for_reason: str | None,
    *,
    update_id: str | None = None,
) -> m.UpdateResult:
    """``coproduce record checkin``, by the signed-in facilitator: for someone else it needs a reason
    (recorded, as on the command line)."""
    here = await facilitating(services, current, engagement_id)
    actor = replace(actor_for(here, current), assisted_reason=for_reason or None)
    message = request(m.RecordCheckIn, person_id=person_id, comfort=comfort, note=note or None)
    return await submit(services, actor, engagement_id, message, update_id=update_id)


async def record_session(
    services: Services,
    current: Session,
    engagement_id: str,
    activity_type: str,
    attendees: list[str],
    minutes: int,
    notes: str | None,
    *,
    update_id: str | None = None,
) -> m.UpdateResult:
    """``coproduce record session``, by the signed-in facilitator, in the current phase."""
    here = await facilitating(services, current, engagement_id)
    message = request(
        m.RecordSession, by=here.person_id, activity_type=activity_type, attendee_ids=tuple(attendees),
        duration_minutes=minutes, notes=notes or None,
    )  # fmt: skip
    return await submit(services, actor_for(here, current), engagement_id, message, update_id=update_id)


async def pause(
    services: Services, current: Session, engagement_id: str, reason: str, *, update_id: str | None = None
) -> m.UpdateResult:
    """``coproduce engagement pause``, by the signed-in facilitator, with a reason."""
    here = await facilitating(services, current, engagement_id)
    message = request(m.Pause, by=here.person_id, reason=reason)
    return await submit(services, actor_for(here, current), engagement_id, message, update_id=update_id)


async def resume(
    services: Services, current: Session, engagement_id: str, reason: str, *, update_id: str | None = None
) -> m.UpdateResult:
    """``coproduce engagement resume``, by the signed-in facilitator, with a reason."""
    here = await facilitating(services, current, engagement_id)
    message = request(m.Resume, by=here.person_id, reason=reason or None)
    return await submit(services, actor_for(here, current), engagement_id, message, update_id=update_id)
