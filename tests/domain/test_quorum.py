"""Whether a gate's decision is met: consent, votes, per-constituency quorum, abstentions, four eyes."""

import pytest

from domain.errors import RuleViolation
from domain.rules.quorum import ConstituencyCount, tally
from tests.domain.helpers import Story


def pilot_open() -> Story:
    return Story().pilot_ready().open_gate("pilot")


def train_open(requested_by: str = "f1") -> Story:
    story = (
        Story()
        .through_setup()
        .on(4)
        .train("u1", "u2", "u3", "c1", module="sdm")
        .train("d2", "d3", module="gov")
    )
    return story.on(8).check_ins(u1=4, u2=4).open_gate("train", requested_by)


def test_consent_is_met_when_the_quorum_approves_and_nobody_objects() -> None:
    story = pilot_open().vote("pilot", "d1").vote("pilot", "u1").vote("pilot", "u2")
    count = tally(story.state, "pilot")
    assert count.met and not count.blocked and count.waiting_for == ()
    assert count.per_constituency == (
        ConstituencyCount(constituency="decision_maker", required=1, approvals=1),
        ConstituencyCount(constituency="service_user", required=2, approvals=2),
    )
    story.decide("pilot")
    assert story.state.gates["pilot"].status == "passed"


def test_consent_is_blocked_by_one_objection() -> None:
    story = pilot_open().vote("pilot", "d1").vote("pilot", "d2").vote("pilot", "u1").vote("pilot", "u2")
    story.vote("pilot", "c1", "object", reason="Carers have not seen the papers.")
    count = tally(story.state, "pilot")
    assert count.blocked and not count.met
    assert count.approvals == 4 and count.objections == 1
    assert count.waiting_for == ("the objection of c1 to be resolved (consent needs no objection)",)
    with pytest.raises(
        RuleViolation, match="the gate's decision is not met: waiting for the objection of c1"
    ):
        story.decide("pilot")
    story.decide("pilot", "held", reason="We will meet carers first.")
    assert story.state.gates["pilot"].status == "held"


def test_a_quorum_met_in_total_but_not_per_constituency_is_not_met() -> None:
    story = train_open().vote("train", "d2").vote("train", "d3")  # vote(2): two approvals, both board
    count = tally(story.state, "train")
    assert count.approvals == 2
    assert not count.met
    assert count.waiting_for == ("1 more service_user approval (0 of 1)",)
    story.vote("train", "u1")
    assert tally(story.state, "train").met


def test_abstentions_are_counted_but_never_as_approvals() -> None:
    story = train_open().vote("train", "d2").vote("train", "u1", "abstain").vote("train", "d3", "abstain")
    count = tally(story.state, "train")
    assert (count.approvals, count.abstentions, count.objections) == (1, 2, 0)
    assert count.waiting_for == ("1 more approval (1 of 2)", "1 more service_user approval (0 of 1)")


def test_a_vote_is_not_blocked_by_an_objection() -> None:
    story = (
        train_open().vote("train", "d2").vote("train", "u1").vote("train", "u2", "object", reason="Too fast.")
    )
    count = tally(story.state, "train")
    assert count.met and count.objections == 1 and not count.blocked


def test_four_eyes_the_person_who_asked_cannot_approve_alone() -> None:
    story = (
        Story().start().on(3).check_ins(u1=4, u2=4).open_gate("setup", requested_by="d1").vote("setup", "d1")
    )
    count = tally(story.state, "setup")
    assert not count.met
    assert count.waiting_for == ("an approval from someone other than d1, who asked for the gate",)
    with pytest.raises(RuleViolation, match="someone other than d1"):
        story.decide("setup")
    story.vote("setup", "d2")
    assert tally(story.state, "setup").met


def test_a_gate_not_yet_opened_waits_to_open() -> None:
    count = tally(Story().start().state, "setup")
    assert not count.met and count.round == 0 and count.waiting_for == ("gate 'setup' to open",)


def test_a_reopened_gate_counts_only_its_new_round() -> None:
    story = (
        pilot_open().vote("pilot", "u1", "object", reason="Not yet.").decide("pilot", "held", reason="Hold.")
    )
    story.on(16).open_gate("pilot")
    gate = story.state.gates["pilot"]
    assert (gate.round, gate.votes) == (2, {})
    story.vote("pilot", "u1").vote("pilot", "u2").vote("pilot", "d2")
    assert tally(story.state, "pilot").met
