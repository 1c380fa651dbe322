"""Approvers decide on a web page and keep a receipt of their vote, in a real browser against the stack
``coproduce up`` starts (its web app, its mail server, Temporal, PostgreSQL).

The end-to-end test follows a tenant from the facilitator's invitation to a receipt checked offline; the
others do the vote with the keyboard alone, check in on the pace, and look at every page as a person
would (axe-core, 320 px and 200 % zoom, screenshots at phone and desktop width for docs/web/).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.bad_inputs.stack import Stack, shared_stack

from .approvers import (
    DESKTOP,
    PHONE,
    Engagement,
    assert_accessible,
    assert_reflows,
    open_training_gate,
    picture,
    sign_in_with_code,
)

ENGAGEMENT = "web-votes"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def here(stack: Stack) -> Engagement:
    return open_training_gate(stack, ENGAGEMENT)


@pytest.fixture(scope="module")
def open_gate(stack: Stack) -> Engagement:
    """A second engagement, whose 'train' gate stays open for the tests that vote with the keyboard or
    picture the vote's pages (the first one's passes in the end-to-end test)."""
    return open_training_gate(stack, "web-keys")


def link_in_mail(here: Engagement, to: str) -> str:
    """The sign-in link in the latest mail the stack's mail server kept for ``to``."""
    kept = json.loads(here.facilitator("mail", "--json").stdout)
    numbers = [n for n, row in enumerate(kept, 1) if to in str(row.get("to"))]
    assert numbers, f"no mail to {to} among {kept}"
    text = json.loads(here.facilitator("mail", str(numbers[-1]), "--json").stdout)["text"]
    found = re.search(r"http://\S+/sign-in/link/[\w-]+", text)
    assert found, text
    return found.group(0)


def test_a_tenant_invited_by_email_votes_on_the_web_and_keeps_a_receipt_that_verifies_offline(
    here: Engagement, browser: Browser, tmp_path: Path
) -> None:
    invitation = here.invite("u1", email=True)
    assert invitation["emailed_to"], invitation
    page = browser.new_context(base_url=here.web_url, viewport=PHONE, accept_downloads=True).new_page()

    page.goto(link_in_mail(here, "u1@example.org"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/me$"))
    page.get_by_role("link", name="Decide: Training").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Decide: Training")
    page.get_by_label("Approve").check()
    page.get_by_label("Your reason").fill("The course was good, and we are ready.")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your vote")
    page.get_by_role("button", name="Send my vote").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your vote is recorded")
    assert here.votes() == {"u1": "approve"}

    # a decision maker's approval meets the quorum: the gate passes
    here.stack.ok("gate", "decide", ENGAGEMENT, "--phase", "train", "--as", "d3", "--approve")
    assert here.stack.status(ENGAGEMENT)["current_phase"] == "pilot"

    # the auditor's timeline says how the vote came
    timeline = json.loads(here.facilitator("audit", "timeline", ENGAGEMENT, "--json").stdout)
    [vote] = [e for e in timeline if e["event"] == "vote_cast" and e["person_id"] == "u1"]
    assert vote["how"] == "sent on the web, signed in with a sign-in link", vote

    # once a checkpoint is signed, the receipt carries its proof, and it verifies with the log's key only
    here.facilitator("audit", "checkpoint", "--out", str(tmp_path / "checkpoint.txt"))
    page.reload()
    expect(page.get_by_text("Included in the record's signed checkpoint")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your receipt").click()
    receipt = tmp_path / "receipt.json"
    download.value.save_as(receipt)
    key = here.facilitator("audit", "key").stdout.strip().splitlines()[-1]
    checked = here.facilitator("audit", "verify-receipt", str(receipt), "--key", key)
    assert "OK: the vote is entry" in checked.stdout, checked.stdout

    altered = json.loads(receipt.read_text())
    altered["position"] += 1
    receipt.write_text(json.dumps(altered))
    refused = here.facilitator("audit", "verify-receipt", str(receipt), "--key", key, check=False)
    assert refused.returncode == 1 and "FAILED" in refused.stdout, refused.stdout + refused.stderr


def test_the_whole_vote_is_done_with_the_keyboard_alone(open_gate: Engagement, browser: Browser) -> None:
    here = open_gate
    page = sign_in_with_code(browser, here, "u2", viewport=DESKTOP)
    keys = page.keyboard

    def tab_to(name: str, limit: int = 40) -> None:
        """Press Tab until the focus is on the control whose accessible name starts with ``name``."""
        for _ in range(limit):
            keys.press("Tab")
            focused = page.evaluate(
                "(() => { const e = document.activeElement; return (e.labels && e.labels[0] ? "
                "e.labels[0].innerText : e.innerText || e.value || '').trim(); })()"
            )
            if focused.startswith(name):
                return
        raise AssertionError(f"Tab never reached {name!r}")

    tab_to("Decide: Training")
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Decide: Training")
    tab_to("Approve")  # the first radio; the arrow keys move within the group
    keys.press("ArrowDown")
    expect(page.get_by_label("Object")).to_be_checked()
    tab_to("")  # the reason box has no text yet: its label is what we see; type into it
    assert page.evaluate("document.activeElement.id") == "reason"
    keys.type("Not everyone has had the course yet.")
    tab_to("Continue")
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your vote")
    tab_to("Send my vote")
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your vote is recorded")
    assert here.votes().get("u2") == "object"


def test_a_check_in_on_the_pace_is_recorded_and_its_note_is_sealed(
    here: Engagement, browser: Browser
) -> None:
    page = sign_in_with_code(browser, here, "u1", viewport=PHONE)
    page.goto(f"/engagements/{ENGAGEMENT}/check-in")
    page.get_by_role("button", name="Send").click()  # nothing chosen: the error summary links to the field
    expect(page.get_by_role("alert")).to_contain_text("Choose how comfortable you are with the pace.")
    page.get_by_role("link", name="Choose how comfortable you are with the pace.").click()
    page.get_by_label("2: Uncomfortable").check()
    page.get_by_label("Anything you want to add").fill("Private worry: the board meets too late for me.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    check_ins = [p for t, p in here.stack.events(ENGAGEMENT) if t == "check_in_recorded"]
    assert check_ins[-1]["person_id"] == "u1" and check_ins[-1]["comfort"] == 2, check_ins[-1]
    assert "Private worry" not in json.dumps(here.stack.events(ENGAGEMENT))  # sealed, not in the payload


def test_a_person_sees_everything_held_about_them_and_takes_a_copy(
    here: Engagement, browser: Browser
) -> None:
    """From their record page, by keyboard, on a phone: what is held about them, where, and a file."""
    page = sign_in_with_code(browser, here, "u1", viewport=PHONE, accept_downloads=True)
    page.goto(f"/engagements/{ENGAGEMENT}/record")
    link = page.get_by_role("link", name="See everything we hold about you")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("What we hold about you")
    expect(page.get_by_text("Uma User", exact=True)).to_be_visible()  # their name, from the register
    expect(page.get_by_text("u1@example.org")).to_be_visible()  # and the contact details held
    expect(page.get_by_text(re.compile(r"entr(y names|ies name) you"))).to_be_visible()
    expect(page.get_by_text("Stored in the people register", exact=False).first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a copy (a JSON file)").click()
    copy = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert (copy["engagement_id"], copy["person_id"]) == (ENGAGEMENT, "u1")
    assert {item["what"] for item in copy["register"]} >= {"your name", "your contact details"}
    assert copy["events"] and all(item["stored_in"].startswith("the event log") for item in copy["events"])
    assert copy["sign_in"]  # the code they signed in with, and this session
    page.context.close()


PAGES = {  # name in docs/web/, and how to get there from the signed-in person's page
    "waiting": "/me",
    "gate": f"/engagements/{ENGAGEMENT}/gates/pilot",
    "check-in": f"/engagements/{ENGAGEMENT}/check-in",
    "record": f"/engagements/{ENGAGEMENT}/record",
    "my-data": f"/engagements/{ENGAGEMENT}/my-data",
    "not-here": "/engagements/someone-elses/gates/train",
}


def test_every_approver_page_is_accessible_reflows_and_is_pictured(
    here: Engagement, open_gate: Engagement, browser: Browser
) -> None:
    here.facilitator("record", "contribution", ENGAGEMENT, "--as", "f1", "--person", "u1", "--minutes", "150",
                     "--for-reason", "at the pilot's first meeting")  # fmt: skip
    page = sign_in_with_code(browser, here, "u1", viewport=DESKTOP)

    def look(name: str) -> None:
        assert_accessible(page)
        assert_reflows(page)
        picture(page, name)

    for name, path in PAGES.items():
        page.goto(path)
        look(name)
    page.goto(f"/engagements/{ENGAGEMENT}/votes/{_my_vote(page)}")
    look("receipt")
    page.goto(f"/engagements/{ENGAGEMENT}/check-in")
    page.get_by_label("4: Comfortable").check()
    page.get_by_role("button", name="Send").click()
    look("checked-in")

    # the pages of a vote, in the other engagement, where u1 has not voted yet: the form, its errors, the check page
    voter = sign_in_with_code(browser, open_gate, "u1", viewport=DESKTOP)
    page = voter
    page.goto("/engagements/web-keys/gates/train")
    look("gate-open")
    page.get_by_label("Object").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why you object")
    look("gate-error")
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Continue").click()
    look("check-vote")


def _my_vote(page: Page) -> str:
    page.goto("/me")
    href = page.get_by_role("link", name=re.compile("you voted")).first.get_attribute("href")
    assert href
    return href.rsplit("/", 1)[1]


def test_the_auditors_report_meets_the_same_bars(here: Engagement, browser: Browser, tmp_path: Path) -> None:
    """The report in an evidence bundle, with the web vote in it: no axe-core violation, no sideways
    scrolling at 320 px or 200 % zoom, pictured at phone and desktop width."""
    bundle = tmp_path / "bundle"
    here.facilitator("audit", "export", ENGAGEMENT, "--out", str(bundle))
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto((bundle / "report.html").as_uri())
    expect(page.get_by_text("sent on the web, signed in with a sign-in link").first).to_be_visible()
    assert_accessible(page)
    assert_reflows(page)
    picture(page, "report")
