"""Whether the pace policy lets a phase advance (its gate open) now, and what it is waiting for.

A phase may advance when it is running and the engagement is not paused; its minimum dwell has passed;
comfort is high enough (each taking-part person's latest check-in within the window counts once; at
least `min_check_ins` of them; their average at or above the threshold: exactly at it is enough; under
`comfort_by: each_constituency` each constituency's average; under `minority_signal`, nobody at the
bottom of the scale), unless a facilitator overrode a hold on this phase (co-signed, for the gate's next round only); the gate's evidence is in (each listed indicator measured
and, if asked, readiness re-assessed, since the phase started); and, for a phase working with the wider
group, the cohort has been widened.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

from domain.engagement import EngagementState
from domain.errors import DomainError
from domain.vocabulary import CONSTITUENCIES, Constituency, DomainModel, day


class Comfort(DomainModel):
    average: float | None
    check_ins: int


class PaceCheck(DomainModel):
    phase_id: str
    may_advance: bool
    waiting_for: tuple[str, ...]
    comfort: Comfort
    comfort_overridden: bool = False
    dwell_ends_at: datetime | None = None


def recent_comfort(state: EngagementState, now: datetime) -> Comfort:
    """The average of each taking-part person's latest check-in within the comfort window before `now`."""
    return _comfort([score for _, score in _recent_scores(state, now)])


def comfort_waiting_for(state: EngagementState, now: datetime) -> str | None:
    """What comfort still needs before a gate may open (None: comfort is high enough)."""
    return _comfort_gap(state, _recent_scores(state, now))


def _recent_scores(state: EngagementState, now: datetime) -> list[tuple[Constituency, int]]:
    """Each taking-part person's latest check-in within the window: their constituency and comfort."""
    window_start = now - timedelta(days=state.require_plan().pace.comfort_window_days)
    everyone = state.cohort == "wider"
    people = state.people
    return [
        (people[person_id].constituency, check_in.comfort)
        for person_id, check_in in state.check_ins.items()
        if window_start < check_in.at <= now and (everyone or people[person_id].cohort == "initial")
    ]


def _comfort(scores: list[int]) -> Comfort:
    return Comfort(average=round(sum(scores) / len(scores), 2) if scores else None, check_ins=len(scores))


def _comfort_gap(state: EngagementState, recent: list[tuple[Constituency, int]]) -> str | None:
    pace = state.require_plan().pace
    scores = [score for _, score in recent]
    if len(scores) < pace.min_check_ins:
        plural = "s" if pace.min_check_ins != 1 else ""
        return (
            f"at least {pace.min_check_ins} check-in{plural} in the last {pace.comfort_window_days} days "
            f"({len(scores)} so far)"
        )
    threshold = Fraction(str(pace.comfort_threshold))
    if pace.minority_signal and (bottom := scores.count(pace.comfort_scale.low)):
        answers = "answer" if bottom == 1 else "answers"
        return (
            f"the minority signal to clear: {bottom} recent {answers} at the bottom of the comfort scale "
            f"({pace.comfort_scale.low})"
        )
    if pace.comfort_by == "each_constituency":
        below = []
        for constituency in CONSTITUENCIES:
            theirs = [score for who, score in recent if who == constituency]
            if theirs and Fraction(sum(theirs), len(theirs)) < threshold:
                below.append(f"{_GROUPS[constituency]} {sum(theirs) / len(theirs):.2f} over {len(theirs)}")
        if below:
            return f"comfort to reach {pace.comfort_threshold:g} in every group ({'; '.join(below)})"
        return None
    # Exact arithmetic, so an average exactly at the threshold (e.g. 3.5 from 3 and 4) is enough.
    if Fraction(sum(scores), len(scores)) < threshold:
        return (
            f"comfort to reach {pace.comfort_threshold:g} "
            f"(average {sum(scores) / len(scores):.2f} over {len(scores)} recent check-ins)"
        )
    return None


_GROUPS: dict[Constituency, str] = {
    "service_user": "service users",
    "carer": "carers",
    "staff": "staff",
    "decision_maker": "decision makers",
    "partner": "partners",
    "facilitator": "facilitators",
}


def pace_check(state: EngagementState, phase_id: str, now: datetime) -> PaceCheck:
    """May the phase's gate open now? If not, `waiting_for` lists every condition still unmet."""
    plan = state.require_plan()
    phase = plan.phases_by_id.get(phase_id)
    if phase is None:
        raise DomainError(f"there is no phase '{phase_id}' in the plan")
    progress = state.phases[phase_id]
    scores = _recent_scores(state, now)
    comfort = _comfort([score for _, score in scores])
    if progress.status != "running" or progress.started_at is None:
        waiting = (
            f"phase '{phase_id}' to start" if progress.status == "pending" else f"phase '{phase_id}' is over"
        )
        return PaceCheck(phase_id=phase_id, may_advance=False, waiting_for=(waiting,), comfort=comfort)

    started = progress.started_at
    waiting: list[str] = []
    if state.status == "paused":
        waiting.append("the engagement to be resumed")
    dwell_ends = started + timedelta(days=phase.min_dwell_days)
    if now < dwell_ends:
        waiting.append(f"the minimum dwell of {phase.min_dwell_days} days to pass (on {day(dwell_ends)})")
    overridden = progress.overridden_at is not None
    if overridden and progress.overridden_round is not None:  # co-signed: for the round it names only
        gate = state.gates.get(phase_id)
        overridden = (gate.round + 1 if gate else 1) <= progress.overridden_round
    if not overridden and (comfort_gap := _comfort_gap(state, scores)) is not None:
        waiting.append(comfort_gap)
    for key in phase.gate.evidence.indicators_measured:
        if not any(point.at >= started for point in state.indicators[key].measurements):
            waiting.append(f"a measurement of '{key}' during this phase")
    if phase.gate.evidence.readiness_reassessed and not any(a.at >= started for a in state.assessments):
        waiting.append("a readiness re-assessment (ORIC) during this phase")
    if phase.cohort == "wider" and state.cohort != "wider":
        waiting.append("the cohort to be widened")
    return PaceCheck(
        phase_id=phase_id,
        may_advance=not waiting,
        waiting_for=tuple(waiting),
        comfort=comfort,
        comfort_overridden=overridden,
        dwell_ends_at=dwell_ends,
    )
