"""Recognition owed for people's time: fees at the policy's rate, expenses, payments."""

import pytest

from domain.errors import RuleViolation
from domain.events import ContributionLogged, RecognitionPaid
from domain.recognition_policy import RecognitionPolicy, fee_pence
from domain.rules.recognition import recognition_owed
from tests.domain.helpers import Story


def logged(story: Story, person: str, minutes: int, expenses: int = 0) -> Story:
    return story.record(
        ContributionLogged(occurred_at=story.now, person_id=person, minutes=minutes, expenses_pence=expenses)
    )


def paid(story: Story, person: str, fee: int, expenses: int = 0, form: str = "payment") -> Story:
    return story.record(
        RecognitionPaid(
            occurred_at=story.now, person_id=person, fee_pence=fee, expenses_pence=expenses, form=form
        )
    )


def test_fees_follow_the_hourly_rate_rounded_to_the_penny() -> None:
    story = logged(logged(Story().start(), "u1", 90, expenses=450), "u1", 50)  # £20 an hour
    (owed,) = recognition_owed(story.state)
    assert (owed.person_id, owed.minutes, owed.fee_earned_pence) == ("u1", 140, 3000 + 1667)
    assert (owed.expenses_owed_pence, owed.total_owed_pence) == (450, 4667 + 450)


def test_payments_reduce_what_is_owed_and_cannot_exceed_it() -> None:
    story = paid(logged(Story().start(), "c1", 60, expenses=300), "c1", 1500, 300)
    (owed,) = recognition_owed(story.state)
    assert (owed.fee_owed_pence, owed.expenses_owed_pence, owed.fee_paid_pence) == (500, 0, 1500)
    with pytest.raises(RuleViolation, match="c1 is owed 500p in fees and 0p in expenses"):
        paid(story, "c1", 600)


def test_staff_time_is_logged_but_earns_no_fee_and_no_expenses() -> None:
    story = logged(Story().start(), "s1", 120)
    assert recognition_owed(story.state)[0].model_dump(include={"minutes", "fee_earned_pence"}) == {
        "minutes": 120,
        "fee_earned_pence": 0,
    }
    with pytest.raises(RuleViolation, match="does not reimburse expenses for s1"):
        logged(story, "s1", 30, expenses=100)


def test_fees_are_paid_in_the_form_the_policy_says() -> None:
    story = logged(Story().start(), "u2", 60)
    with pytest.raises(RuleViolation, match="pays fees by hourly_rate, not as a voucher"):
        paid(story, "u2", 2000, form="voucher")
    with pytest.raises(RuleViolation, match="a payment of nothing"):
        paid(story, "u2", 0)


def test_the_fee_of_a_policy_without_payment_is_nothing() -> None:
    assert fee_pence(RecognitionPolicy(method="none"), 600) == 0
    assert fee_pence(RecognitionPolicy(method="vouchers", pence_per_hour=1500), 20) == 500
