"""Indicator progress from baseline toward target, whichever way the indicator runs."""

import pytest

from domain.events import BaselineRecorded
from domain.rules.indicators import indicator_progress, progress_fraction, target_reached
from tests.domain.helpers import Story


def progress_of(story: Story, key: str):
    return next(p for p in indicator_progress(story.state) if p.key == key)


def measured(key: str, value: float) -> Story:
    return Story().start().agree_evaluation().on(2).measure(key, value)


def test_a_down_indicator_progresses_as_the_value_falls() -> None:
    # Waiting time: baseline 40 days, target 20 days, less is better.
    halfway = progress_of(measured("waits", 30), "waits")
    assert (halfway.progress, halfway.status, halfway.reached) == (0.5, "improving", False)
    worse = progress_of(measured("waits", 45), "waits")
    assert (worse.progress, worse.status) == (-0.25, "worse than baseline")
    beyond = progress_of(measured("waits", 18), "waits")
    assert beyond.reached and beyond.status == "target reached"
    assert beyond.progress == pytest.approx(1.1)


def test_an_up_indicator_uses_the_recorded_baseline() -> None:
    story = Story().start()
    assert progress_of(story, "attendance").status == "no baseline"
    story.record(BaselineRecorded(occurred_at=story.now, indicator="attendance", value=50, recorded_by="f1"))
    assert progress_of(story, "attendance").status == "not measured"
    story.agree_evaluation().on(5).measure("attendance", 65).on(9).measure("attendance", 80)
    result = progress_of(story, "attendance")
    assert (result.baseline, result.latest, result.measurements) == (50, 80, 2)
    assert (result.progress, result.reached) == (1.0, True)


def test_indicators_are_listed_in_plan_order_with_their_units() -> None:
    rows = indicator_progress(Story().start().state)
    assert [(r.key, r.unit, r.direction) for r in rows] == [
        ("attendance", "percent", "up"),
        ("waits", "days", "down"),
    ]


def test_a_baseline_already_past_the_target_is_all_or_nothing() -> None:
    assert progress_fraction("down", 10, 20, 15) == 1.0
    assert progress_fraction("up", 30, 20, 10) == 0.0
    assert target_reached("down", 20, 20) and target_reached("up", 20, 20)
