"""Lawful basis and consent per person: a person who withdraws their consent is not asked again (no
reminders, no notices, not counted as a possible vote) and their later inputs are refused with one
sentence; what they gave before stays."""

from __future__ import annotations

import pytest

from domain.errors import DomainError
from domain.events import CheckInRecorded, ConsentWithdrawn, LawfulBasisRecorded, VoteCast
from domain.rules.eligibility import may_still_vote, vote_refusal
from tests.domain.helpers import Story
from workflows.conductor import due_events


def consent_story() -> Story:
    """The 'train' gate open with u1 and u2 on its roster; u1's basis is consent, which u1 then withdraws."""
    story = (
        Story().through_setup().on(4).train("u1", "u2", "u3", "c1", module="sdm").train("d2", module="gov")
    )
    story.record(
        LawfulBasisRecorded(occurred_at=story.now, person_id="u1", basis="consent", recorded_by="f1")
    )
    story.on(8).check_ins(u1=4, u2=4).open_gate("train")
    return story.record(ConsentWithdrawn(occurred_at=story.now, person_id="u1", recorded_by="u1"))


def test_after_withdrawing_consent_nothing_more_is_recorded_from_them() -> None:
    story = consent_story()
    assert story.state.people["u1"].lawful_basis == "consent"
    withdrawn = "u1 withdrew their consent on 2025-01-14; nothing more is asked of them or recorded from them"
    with pytest.raises(DomainError) as refused:
        story.record(CheckInRecorded(occurred_at=story.now, person_id="u1", comfort=4))
    assert str(refused.value).endswith(withdrawn)
    gate = story.state.gates["train"]
    with pytest.raises(DomainError, match="u1 withdrew their consent"):
        story.record(
            VoteCast(
                occurred_at=story.now, phase_id="train", round=gate.round, person_id="u1", choice="approve"
            )
        )
    assert vote_refusal(story.state, "train", "u1", "approve", None, story.now) == (
        "u1 withdrew their consent on 2025-01-14; nothing more is asked of them"
    )
    assert story.state.check_ins["u1"].comfort == 4  # what they gave before stays


def test_they_are_not_asked_again() -> None:
    story = consent_story()
    assert "u1" not in may_still_vote(story.state, "train", story.now) and "u2" in may_still_vote(
        story.state, "train", story.now
    )
    story.on(8 + 14)
    rounds = [
        e for e in due_events(story.state, story.now) if e.type == "reminder_sent" and e.kind == "check_in"
    ]
    assert rounds and all("u1" not in e.person_ids and "u2" in e.person_ids for e in rounds)


def test_only_they_or_a_facilitator_record_it_and_only_once() -> None:
    story = consent_story()
    with pytest.raises(DomainError, match="withdrew their consent already"):
        story.record(ConsentWithdrawn(occurred_at=story.now, person_id="u1", recorded_by="f1"))
    with pytest.raises(DomainError, match="only u2 or a facilitator may record that u2 withdrew consent"):
        story.record(ConsentWithdrawn(occurred_at=story.now, person_id="u2", recorded_by="d1"))
    with pytest.raises(DomainError, match="u1 withdrew their consent"):
        story.record(
            LawfulBasisRecorded(occurred_at=story.now, person_id="u1", basis="public_task", recorded_by="f1")
        )
