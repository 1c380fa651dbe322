"""An engagement's organisation id: what decides which organisation's readers see it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.plan import Organisation


@pytest.mark.parametrize(
    ("name", "given", "key"),
    [
        ("Riverside Community Homes", None, "riverside-community-homes"),
        ("  St. Mary's NHS Trust (North)  ", None, "st-mary-s-nhs-trust-north"),
        ("Café Ûnity Housing", None, "cafe-unity-housing"),  # accents dropped, not the letters
        ("Riverside Community Homes", "rch", "rch"),  # the plan's own id wins over the name
        ("x" * 70 + " Trust", None, "x" * 64),  # ids are at most 64 characters
    ],
)
def test_the_id_is_the_plans_or_the_name_as_a_slug(name: str, given: str | None, key: str) -> None:
    assert Organisation(name=name, sector="housing", id=given).key == key


def test_a_name_with_no_latin_letters_still_gets_a_stable_id() -> None:
    first = Organisation(name="中文 信托", sector="charity").key
    assert first.startswith("organisation-") and first == Organisation(name="中文 信托", sector="charity").key
    assert first != Organisation(name="信托 中文", sector="charity").key


def test_an_id_that_is_not_a_slug_is_refused() -> None:
    with pytest.raises(ValidationError, match="id"):
        Organisation(name="Riverside", sector="housing", id="Riverside Homes!")
