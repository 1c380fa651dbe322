"""Transitions for assessments, the evaluation strategy, baselines, measurements and milestones."""

from __future__ import annotations

from domain.engagement import AssessmentSummary, EngagementState, MeasurementPoint
from domain.errors import RuleViolation, UnknownReference
from domain.events import (
    AssessmentRecorded,
    BaselineRecorded,
    EvaluationStrategyAgreed,
    MeasurementRecorded,
    MilestoneDue,
)
from domain.transitions.common import Updates, known_indicator, known_people, known_person
from domain.vocabulary import day, evolve


def on_assessment_recorded(state: EngagementState, event: AssessmentRecorded) -> Updates:
    known_person(state, event, event.recorded_by)
    summary = AssessmentSummary(
        at=event.occurred_at,
        recorded_by=event.recorded_by,
        respondents=event.oric.respondents,
        commitment_mean=event.oric.commitment_mean,
        efficacy_mean=event.oric.efficacy_mean,
    )
    return {"assessments": (*state.assessments, summary)}


def on_evaluation_strategy_agreed(state: EngagementState, event: EvaluationStrategyAgreed) -> Updates:
    known_people(state, event, event.agreed_by)
    needed = state.require_plan().evaluation.agreed_by
    if needed:
        groups = [state.people[p].constituency for p in set(event.agreed_by)]
        short = [
            f"{count - groups.count(group)} more {group.replace('_', ' ')}"
            for group, count in needed.items()
            if groups.count(group) < count
        ]
        if short:
            raise RuleViolation(
                event, f"the plan asks for the evaluation strategy to be agreed by {_counts(needed)}: "
                f"it needs {' and '.join(short)}",
            )  # fmt: skip
    return {"evaluation_agreed_at": event.occurred_at, "evaluation_agreed_by": event.agreed_by}


def on_baseline_recorded(state: EngagementState, event: BaselineRecorded) -> Updates:
    known_person(state, event, event.recorded_by)
    known_indicator(state, event, event.indicator)
    indicator = state.indicators[event.indicator]
    if indicator.measurements:
        raise RuleViolation(event, f"'{event.indicator}' has been measured already; its baseline comes first")
    updated = evolve(indicator, {"baseline": event.value, "baseline_recorded_at": event.occurred_at})
    return {"indicators": {**state.indicators, event.indicator: updated}}


def on_measurement_recorded(state: EngagementState, event: MeasurementRecorded) -> Updates:
    known_person(state, event, event.recorded_by)
    known_indicator(state, event, event.indicator)
    if state.evaluation_agreed_at is None:
        raise RuleViolation(
            event, "the evaluation strategy has not been agreed yet; agree it before measuring"
        )
    if event.milestone_id is not None:
        milestone = state.require_plan().milestones_by_id.get(event.milestone_id)
        if milestone is None:
            raise UnknownReference(event, f"there is no milestone '{event.milestone_id}' in the plan")
        if event.indicator not in milestone.indicators:
            raise RuleViolation(
                event, f"milestone '{event.milestone_id}' does not measure '{event.indicator}'"
            )
    indicator = state.indicators[event.indicator]
    point = MeasurementPoint(at=event.occurred_at, value=event.value, milestone_id=event.milestone_id)
    updated = evolve(indicator, {"measurements": (*indicator.measurements, point)})
    return {"indicators": {**state.indicators, event.indicator: updated}}


def on_milestone_due(state: EngagementState, event: MilestoneDue) -> Updates:
    if event.milestone_id not in state.require_plan().milestones_by_id:
        raise UnknownReference(event, f"there is no milestone '{event.milestone_id}' in the plan")
    if event.milestone_id in state.milestones_due:
        due = state.milestones_due[event.milestone_id]
        raise RuleViolation(event, f"milestone '{event.milestone_id}' already fell due on {day(due)}")
    return {"milestones_due": {**state.milestones_due, event.milestone_id: event.occurred_at}}


def _counts(needed: dict[str, int]) -> str:
    return " and ".join(f"{count} {group.replace('_', ' ')}" for group, count in needed.items())
