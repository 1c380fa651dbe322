"""Who may decide a gate: on the roster, trained, authorised, not expired; and a clear reason when not."""

from domain.events import ParticipantJoined
from domain.rules.eligibility import eligibility, gate_roster, may_still_vote, vote_refusal
from domain.rules.quorum import tally
from tests.domain.helpers import Story, day


def test_an_untrained_service_users_vote_does_not_count_and_says_why() -> None:
    story = Story().pilot_ready(trained=("u1", "u2", "c1")).open_gate("pilot")
    reason = "u3 has not completed the training module 'sdm'"
    assert eligibility(story.state, "pilot", "u3", story.now).reason == reason
    assert vote_refusal(story.state, "pilot", "u3", "approve", None, story.now) == reason

    story.vote("pilot", "u3").vote("pilot", "u1")  # recorded, but u3's does not count
    vote = story.state.gates["pilot"].votes["u3"]
    assert (vote.counted, vote.not_counted_reason) == (False, reason)
    count = tally(story.state, "pilot")
    assert count.not_counted == (("u3", reason),)
    assert count.approvals == 1
    assert "1 more service_user approval (1 of 2)" in count.waiting_for


def test_an_expired_authorisation_no_longer_counts() -> None:
    story = Story().pilot_ready().open_gate("pilot")  # sdm trained on day 4, valid 21 days
    assert eligibility(story.state, "pilot", "u1", day(24)).eligible
    later = eligibility(story.state, "pilot", "u1", day(26))
    assert not later.eligible
    assert (
        later.reason
        == "u1's authorisation for 'sdm' expired on 2025-01-31; renewing the training restores it"
    )
    story.on(26).vote("pilot", "u1")
    assert story.state.gates["pilot"].votes["u1"].counted is False


def test_renewed_training_restores_eligibility() -> None:
    story = Story().pilot_ready().open_gate("pilot").on(26).train("u1", module="sdm")
    assert eligibility(story.state, "pilot", "u1", day(26, 1)).eligible
    # ... but a vote cast during the gap would still have been judged at its own time.
    assert not eligibility(story.state, "pilot", "u1", day(25, 12)).eligible


def test_roster_is_people_with_a_deciding_role_who_take_part_now() -> None:
    story = Story().pilot_ready()
    roster = gate_roster(story.state, "pilot")
    assert [entry.person_id for entry in roster] == ["c1", "d1", "d2", "d3", "u1", "u2", "u3"]
    needs = {entry.person_id: entry.required_modules for entry in roster}
    assert needs["u1"] == ("sdm",) and needs["d2"] == ("gov",) and needs["d1"] == ()


def test_people_off_the_roster_are_told_why() -> None:
    story = Story().pilot_ready().open_gate("pilot")
    state, now = story.state, story.now
    assert eligibility(state, "pilot", "s1", now).reason == (
        "s1 is not on the roster for gate 'pilot': their roles (none) are not among its deciding roles "
        "(sponsor, board, user-rep)"
    )
    assert (
        eligibility(state, "pilot", "u4", now).reason
        == "u4 belongs to the wider group, which has not been formed yet"
    )
    assert eligibility(state, "pilot", "x9", now).reason == "x9 is not part of this engagement"
    assert eligibility(state, "nope", "u1", now).reason == "there is no phase 'nope' in the plan"


def test_someone_who_joins_after_the_gate_opened_is_not_on_its_roster() -> None:
    story = Story().pilot_ready().open_gate("pilot").on(16)
    story.record(
        ParticipantJoined(occurred_at=story.now, person_id="n1", constituency="carer", roles=("user-rep",))
    )
    assert eligibility(story.state, "pilot", "n1", story.now).reason == (
        "n1 was not on the roster when gate 'pilot' opened on 2025-01-21"
    )


def test_completed_training_without_authorisation_is_not_enough() -> None:
    from domain.events import TrainingCompleted

    story = Story().pilot_ready(trained=("u1", "u2", "c1"))
    story.record(TrainingCompleted(occurred_at=story.now, person_id="u3", module_id="sdm"))
    assert eligibility(story.state, "pilot", "u3", story.now).reason == (
        "u3 completed 'sdm' but has not been authorised for it yet"
    )


def test_validators_refuse_votes_that_cannot_count_or_repeat() -> None:
    story = Story().pilot_ready()
    now = story.now
    assert (
        vote_refusal(story.state, "pilot", "u1", "approve", None, now) == "gate 'pilot' has not been opened"
    )
    story.open_gate("pilot").vote("pilot", "u1")
    assert (
        vote_refusal(story.state, "pilot", "u1", "object", "no", now)
        == "u1 has already voted on gate 'pilot' (approve)"
    )
    assert (
        vote_refusal(story.state, "pilot", "u2", "object", None, now)
        == "an objection to gate 'pilot' needs a reason"
    )
    assert (
        vote_refusal(story.state, "pilot", "u2", "object", "   ", now)
        == "an objection to gate 'pilot' needs a reason"
    )
    assert vote_refusal(story.state, "pilot", "u2", "object", "Too soon.", now) is None
    assert vote_refusal(story.state, "pilot", "d1", "abstain", None, now) is None


def test_who_may_still_vote() -> None:
    story = Story().pilot_ready(trained=("u1", "u2", "c1")).open_gate("pilot").vote("pilot", "d1")
    assert may_still_vote(story.state, "pilot", story.now) == ("c1", "d2", "d3", "u1", "u2")
    assert may_still_vote(story.state, "train", story.now) == ()
