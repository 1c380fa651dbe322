"""What falls due next: the timers the workflow sets and the status display shows."""

from datetime import UTC, datetime

from domain.rules.schedule import falls_due
from tests.domain.helpers import Story, day


def test_after_the_start_the_first_check_in_dwell_escalation_and_dated_milestone_are_due() -> None:
    due = falls_due(Story().start().state)
    assert [(item.kind, item.reference, item.due_at) for item in due] == [
        ("check_in", None, day(3)),
        ("dwell_ends", "setup", day(3)),
        ("gate_escalation", "setup", day(10)),
        ("milestone", "dated", datetime(2025, 1, 26, 9, 0, tzinfo=UTC)),
    ]


def test_authorisation_expiries_and_phase_end_milestones_appear_when_known() -> None:
    story = (
        Story().pilot_ready().open_gate("pilot").vote("pilot", "d1").vote("pilot", "u1").vote("pilot", "u2")
    )
    story.decide("pilot").complete("pilot")
    due = {(item.kind, item.reference): item.due_at for item in falls_due(story.state)}
    assert due[("milestone", "mid")] == story.now
    assert due[("authorisation_expiry", "u1/sdm")] == day(25)
    assert ("gate_escalation", "pilot") not in due
    assert falls_due(Story().state) == ()
