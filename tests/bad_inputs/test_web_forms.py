"""Bad input on the approvers' web pages: each refused with one clear sentence on the page, nothing recorded.

A signed-in service user (u1, trained) of an engagement whose 'training' gate is open sends what a
person, a broken browser or a crafted request might: a vote on a gate that is not open, the same vote
twice, no choice, an unknown choice, a reason of 1 MB (declared, and sent chunked without a length), a
reason just over the limit, script in a reason, a comfort outside the plan's scale. The log's head (size
and last chain hash) must not move, and the page must say what was wrong in words.
"""

from __future__ import annotations

import html
import http.client
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.approvers import Engagement, open_training_gate, post, sign_in_with_code, vote_form

from .stack import Head, Stack

ENGAGEMENT = "web-bad-input"
GATE = f"/engagements/{ENGAGEMENT}/gates/train"


@pytest.fixture(scope="module")
def here(stack: Stack) -> Engagement:
    return open_training_gate(stack, ENGAGEMENT)


@pytest.fixture(scope="module")
def page(here: Engagement, browser: Browser) -> Iterator[Page]:
    signed_in = sign_in_with_code(browser, here, "u1")
    signed_in.goto(GATE)
    yield signed_in
    signed_in.context.close()


def said(text: str) -> str:
    """The page's words, without markup and runs of white space."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def assert_refused_on_the_page(body: str, status: int, expected_status: int, sentence: str) -> None:
    assert status == expected_status, f"{status}: {said(body)[:500]}"
    assert sentence in said(body), said(body)[:2000]
    assert "Traceback" not in body


CASES = [
        ("gate-not-open", vote_form(), f"/engagements/{ENGAGEMENT}/gates/pilot/vote", 409,
         "Gate 'pilot' has not been opened"),
        ("no-choice", {"reason": "", "key": "0" * 32}, f"{GATE}/vote", 400, "Choose approve, object or abstain."),
        ("unknown-choice", vote_form("maybe"), f"{GATE}/vote", 400, "Choose approve, object or abstain."),
        ("objection-without-reason", vote_form("object"), f"{GATE}/vote", 400,
         "Say why you object: the plan asks for a reason."),
        ("reason-over-the-limit", vote_form(reason="x" * 5_001), f"{GATE}/vote", 400,
         "Your reason is 5,001 characters long; keep it under 5,000."),
        ("reason-of-1-MB", vote_form(reason="x" * 1_000_000), f"{GATE}/vote", 413,
         "What you sent is too long to take"),
        ("no-key", {"choice": "approve", "reason": ""}, f"{GATE}/vote", 400,
         "This answer has no key to send it by. Check your answer again."),
        ("comfort-off-the-scale", {"comfort": "99", "note": "", "key": "1" * 32},
         f"/engagements/{ENGAGEMENT}/check-in", 400, "Choose how comfortable you are with the pace."),
        ("comfort-not-a-number", {"comfort": "lots", "note": "", "key": "1" * 32},
         f"/engagements/{ENGAGEMENT}/check-in", 400, "Choose how comfortable you are with the pace."),
        ("note-over-the-limit", {"comfort": "3", "note": "y" * 5_001, "key": "1" * 32},
         f"/engagements/{ENGAGEMENT}/check-in", 400, "Your note is 5,001 characters long; keep it under 5,000."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "form", "path", "status", "sentence"), [pytest.param(*case, id=case[0]) for case in CASES]
)
def test_a_bad_web_input_is_refused_in_words_and_records_nothing(
    stack: Stack, page: Page, case: str, form: dict[str, str], path: str, status: int, sentence: str
) -> None:
    before: Head = stack.head()
    response = post(page, path, form)
    assert_refused_on_the_page(response.text(), response.status, status, sentence)
    assert stack.head() == before, f"{case}: the log moved"


def test_a_reason_of_1_MB_sent_without_a_length_is_refused_as_it_comes(
    here: Engagement, stack: Stack, page: Page
) -> None:
    """A chunked body carries no Content-Length; the app counts what arrives and stops at its limit."""
    before = stack.head()
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    body = f"csrf_token={token}&choice=approve&key={'2' * 32}&reason={'x' * 1_000_000}".encode()
    url = urlsplit(here.web_url)
    connection = http.client.HTTPConnection(url.hostname or "localhost", url.port, timeout=30)
    try:
        connection.request(
            "POST", f"{GATE}/vote", body=(body[i : i + 65536] for i in range(0, len(body), 65536)),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies},
            encode_chunked=True,
        )  # fmt: skip
        response = connection.getresponse()
        status, text = response.status, response.read().decode()
    finally:
        connection.close()
    assert_refused_on_the_page(text, status, 413, "What you sent is too long to take")
    assert stack.head() == before


def test_the_same_vote_sent_twice_is_recorded_once_and_a_second_vote_is_refused(
    here: Engagement, stack: Stack, page: Page
) -> None:
    form = vote_form("abstain", "Not sure yet.")
    first = post(page, f"{GATE}/vote", form)
    assert first.status == 303 and "/votes/" in first.headers["location"], first.status
    after_first = stack.head()
    again = post(page, f"{GATE}/vote", form)  # the same answer resent (a double press, a lost reply)
    assert again.status == 303 and again.headers["location"] == first.headers["location"]
    assert stack.head() == after_first and here.votes() == {"u1": "abstain"}

    changed_mind = post(page, f"{GATE}/vote", vote_form("approve"))  # a new answer: refused in words
    assert_refused_on_the_page(
        changed_mind.text(), changed_mind.status, 409, "U1 has already voted on gate 'train' (abstain)"
    )
    assert stack.head() == after_first


def test_script_in_a_reason_is_shown_as_text_and_never_runs(
    here: Engagement, browser: Browser, stack: Stack
) -> None:
    page = sign_in_with_code(browser, here, "u2")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    script = '<script>alert("x")</script><img src=x onerror=alert("y")>'
    page.goto(GATE)
    page.get_by_label("Object").check()
    page.get_by_label("Your reason").fill(script)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your vote")
    expect(page.locator(".reason-text")).to_have_text(script)
    page.get_by_role("button", name="Change my answer").click()  # the reason comes back as text in the box
    expect(page.get_by_label("Your reason")).to_have_value(script)
    assert dialogs == [] and page.locator("script:not([src])").count() == 0
