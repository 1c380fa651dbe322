"""Who may do what on the approvers' pages: only the signed-in person, only in their own engagements.

u1 belongs to one engagement ('web-sec'); another engagement ('web-sec-other') is running beside it.
Each attempt below changes an address or crafts a form the pages never send, and must be refused with
the same sentence whatever it aimed at (so nothing tells an engagement that exists from one that does
not), leave the log as it was, and never record a vote under anyone but the signed-in person.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from application.participation import NOT_HERE
from tests.bad_inputs.stack import Stack
from tests.web.approvers import Engagement, open_training_gate, post, sign_in_with_code, vote_form

MINE, OTHER = "web-sec", "web-sec-other"


@pytest.fixture(scope="module")
def engagements(stack: Stack) -> tuple[Engagement, Engagement]:
    return open_training_gate(stack, MINE), open_training_gate(stack, OTHER)


@pytest.fixture(scope="module")
def page(engagements: tuple[Engagement, Engagement], browser: Browser) -> Iterator[Page]:
    signed_in = sign_in_with_code(browser, engagements[0], "u1")
    yield signed_in
    signed_in.context.close()


def said(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


ADDRESSES = {  # someone else's engagement, one that does not exist, and nonsense where an id goes
    "other-gate": f"/engagements/{OTHER}/gates/train",
    "other-check-in": f"/engagements/{OTHER}/check-in",
    "other-record": f"/engagements/{OTHER}/record",
    "other-receipt": f"/engagements/{OTHER}/votes/1",
    "other-receipt-file": f"/engagements/{OTHER}/votes/1/receipt.json",
    "other-my-data": f"/engagements/{OTHER}/my-data",
    "other-my-data-file": f"/engagements/{OTHER}/my-data.json",
    "no-such-engagement-my-data": "/engagements/no-such-thing/my-data.json",
    "no-such-engagement": "/engagements/no-such-thing/gates/train",
    "no-such-phase": f"/engagements/{MINE}/gates/no-such-phase",
    "position-not-a-number": f"/engagements/{MINE}/votes/first",
    "position-of-another-event": f"/engagements/{MINE}/votes/1",
    "sql-in-the-id": "/engagements/x';DROP%20TABLE%20eventlog.events;--/record",
}


@pytest.mark.parametrize("address", ADDRESSES.values(), ids=ADDRESSES.keys())
def test_a_page_outside_my_engagements_says_nothing_is_here(page: Page, address: str) -> None:
    response = page.request.get(address)
    assert response.status == 404 and NOT_HERE in said(response.text()), said(response.text())[:500]


def test_my_data_is_only_ever_the_signed_in_persons(page: Page) -> None:
    """Whatever the address names, the copy is of the signed-in person (u1), never of u2."""
    for query in ("", "?person_id=u2", "?person=u2&as=u2&by=u2"):
        response = page.request.get(f"/engagements/{MINE}/my-data.json{query}")
        assert response.status == 200
        copy = response.json()
        assert (copy["engagement_id"], copy["person_id"]) == (MINE, "u1"), query
        names = [item["value"] for item in copy["register"] if item["what"] == "your name"]
        assert names == ["Uma User"] and "Ugo User" not in response.text()
        assert "attachment" in response.headers["content-disposition"]


FORMS = {  # posted into someone else's engagement, with a valid session and CSRF token
    "vote-in-another-engagement": (f"/engagements/{OTHER}/gates/train/vote", vote_form()),
    "check-in-another-engagement": (f"/engagements/{OTHER}/check-in", {"comfort": "4", "key": "3" * 32}),
}


@pytest.mark.parametrize(("path", "form"), FORMS.values(), ids=FORMS.keys())
def test_a_form_posted_into_another_engagement_is_refused_and_records_nothing(
    stack: Stack, page: Page, path: str, form: dict[str, str]
) -> None:
    page.goto("/me")
    before = stack.head()
    response = post(page, path, form)
    assert response.status == 404 and NOT_HERE in said(response.text())
    assert stack.head() == before


@pytest.mark.parametrize("field", ["person_id", "by", "as", "actor"])
def test_a_vote_for_someone_else_is_refused_and_records_nothing(
    engagements: tuple[Engagement, Engagement], stack: Stack, page: Page, field: str
) -> None:
    """Who votes comes from the session; a form naming anyone (d2 may decide this gate) is refused."""
    page.goto(f"/engagements/{MINE}/gates/train")
    before = stack.head()
    response = post(page, f"/engagements/{MINE}/gates/train/vote", {**vote_form(), field: "d2"})
    assert response.status == 400, response.status
    assert f"This form carries {field}, which this page does not send." in said(response.text())
    assert stack.head() == before and engagements[0].votes() == {}


def test_a_form_without_its_csrf_token_or_with_another_sessions_is_refused(
    engagements: tuple[Engagement, Engagement], stack: Stack, page: Page, browser: Browser
) -> None:
    page.goto(f"/engagements/{MINE}/gates/train")
    before = stack.head()
    missing = post(page, f"/engagements/{MINE}/gates/train/vote", vote_form(), with_csrf=False)
    assert missing.status == 403 and "did not come from this site" in said(missing.text())

    someone_else = sign_in_with_code(browser, engagements[0], "u2")
    someone_else.goto("/me")
    theirs = someone_else.get_attribute('meta[name="csrf-token"]', "content") or ""
    borrowed = page.request.post(
        f"/engagements/{MINE}/gates/train/vote", form={**vote_form(), "csrf_token": theirs}, max_redirects=0
    )
    assert borrowed.status == 403
    assert stack.head() == before and engagements[0].votes() == {}


def test_someone_elses_receipt_is_not_shown(
    engagements: tuple[Engagement, Engagement], page: Page, browser: Browser
) -> None:
    other = sign_in_with_code(browser, engagements[0], "u2")
    other.goto(f"/engagements/{MINE}/gates/train")
    cast = post(other, f"/engagements/{MINE}/gates/train/vote", vote_form("abstain"))
    assert cast.status == 303, cast.status
    receipt = cast.headers["location"]
    assert other.request.get(receipt).status == 200
    for address in (receipt, f"{receipt}/receipt.json"):
        response = page.request.get(address)  # u1, signed in, in the same engagement
        assert response.status == 404 and NOT_HERE in said(response.text())


def test_signed_out_nothing_is_shown_or_taken(
    engagements: tuple[Engagement, Engagement], browser: Browser
) -> None:
    stranger = browser.new_context(base_url=engagements[0].web_url).new_page()
    for address in (f"/engagements/{MINE}/gates/train", f"/engagements/{MINE}/record", "/me"):
        response = stranger.request.get(address, max_redirects=0)
        assert response.status == 303 and response.headers["location"].startswith("/sign-in?next=")
    stranger.goto("/sign-in")
    before = engagements[0].stack.head()
    refused = post(stranger, f"/engagements/{MINE}/gates/train/vote", vote_form())
    assert refused.status == 303 and engagements[0].stack.head() == before


def test_the_approvers_pages_carry_the_security_headers(page: Page) -> None:
    for address in ("/me", f"/engagements/{MINE}/gates/train", f"/engagements/{MINE}/check-in"):
        headers = page.request.get(address).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
        assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
