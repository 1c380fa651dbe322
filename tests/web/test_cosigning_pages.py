"""A tenant co-signs, or declines, a change that weakens the engagement on the web, in a real browser
against the stack ``coproduce up`` starts: the plan's change policy asks for a decision maker and a
service user before a lowered quorum takes effect. Who co-signs is the signed-in person, never a field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.bad_inputs.stack import Stack, shared_stack

from .approvers import (
    DESKTOP,
    PHONE,
    PLAN,
    Engagement,
    assert_accessible,
    assert_reflows,
    picture,
    sign_in_with_code,
)
from .approvers import post as post_form

POLICED = PLAN + "changes: {}\n"
# The 'pilot' gate without its second service user: a weakening the plan's change policy must co-sign.
LOWERED = POLICED.replace(
    "quorum: {decision_maker: 1, service_user: 2}", "quorum: {decision_maker: 1, service_user: 1}"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


def propose(stack: Stack, engagement_id: str, tmp_path: Path) -> Engagement:
    assert LOWERED != POLICED
    stack.start_engagement(POLICED, engagement_id)
    here = Engagement(stack, engagement_id)
    amended = tmp_path / f"{engagement_id}.yaml"
    amended.write_text(LOWERED)
    here.facilitator("engagement", "amend", engagement_id, str(amended), "--as", "f1", "--reason",
                     "Only one tenant can come to the pilot's review.")  # fmt: skip
    [proposed] = [p for t, p in stack.events(engagement_id) if t == "change_proposed"]
    assert proposed["change_id"] == "change-1"
    return here


def test_a_tenant_co_signs_with_the_keyboard_and_the_change_takes_effect_only_then(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    here = propose(stack, "web-cosign", tmp_path)
    page = sign_in_with_code(browser, here, "u1", viewport=PHONE)
    link = page.get_by_role("link", name="f1 asks to amend the plan: ")
    expect(link).to_be_visible()
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Co-sign a change?")
    expect(
        page.get_by_role("listitem").filter(
            has_text="gate 'pilot' needs 1 approval from a service user, not 2"
        )
    ).to_be_visible()
    assert_accessible(page)
    assert_reflows(page)
    picture(page, "cosign")
    page.get_by_role("button", name="Co-sign the change").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    assert_accessible(page)
    signed = [p for t, p in stack.events("web-cosign") if t == "change_cosigned"]
    assert [s["person_id"] for s in signed] == ["u1"]  # the signed-in person, from the session
    assert not [
        t for t, _ in stack.events("web-cosign") if t == "plan_amended"
    ]  # a board member still to sign

    # The same tenant cannot sign twice; a board member's signature makes the amendment.
    page.goto("/engagements/web-cosign/changes/change-1")
    expect(page.get_by_role("heading", name="You cannot co-sign this")).to_be_visible()
    board = sign_in_with_code(browser, here, "d1", viewport=DESKTOP)
    board.goto("/engagements/web-cosign/changes/change-1")
    board.get_by_role("button", name="Co-sign the change").click()
    expect(board.get_by_role("heading", level=1)).to_have_text("Thank you")
    [amended] = [p for t, p in stack.events("web-cosign") if t == "plan_amended"]
    assert amended["change_id"] == "change-1" and sorted(amended["cosigned_by"]) == ["d1", "u1"]


def test_declining_needs_a_reason_and_ends_the_change(stack: Stack, browser: Browser, tmp_path: Path) -> None:
    here = propose(stack, "web-decline", tmp_path)
    page = sign_in_with_code(browser, here, "u2", viewport=DESKTOP)
    page.goto("/engagements/web-decline/changes/change-1")
    page.get_by_role("button", name="Decline the change").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why you decline the change.")
    assert_accessible(page)
    picture(page, "cosign-error")
    page.get_by_label("Why you decline it").fill("Two of us should review the pilot, as agreed.")
    page.get_by_role("button", name="Decline the change").click()
    expect(page.get_by_text("You declined the change: it will not take effect.")).to_be_visible()
    [declined] = [p for t, p in stack.events("web-decline") if t == "change_declined"]
    assert declined["person_id"] == "u2"
    assert "Two of us" not in str(declined)  # the reason is sealed in the log

    # A person whose group the change does not ask for, or a forged field, gets nothing done.
    staff = sign_in_with_code(browser, here, "s1", viewport=DESKTOP)
    staff.goto("/engagements/web-decline/changes/change-1")
    expect(staff.get_by_role("heading", level=1)).not_to_have_text("Co-sign a change?")
    before = stack.head()
    forged = post_form(
        page, "/engagements/web-decline/changes/change-1/cosign", {"key": "0" * 32, "by": "d1"}
    )
    assert forged.status == 400 and stack.head() == before
