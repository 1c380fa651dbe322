"""A subject access request: `coproduce people export ENG PERSON` gives everything held about the
person, opened, with where each item is stored, and nothing about anyone else; as JSON and as a
readable page (checked with axe-core, reflowing at 320 px, pictured in docs/web/).

Run against the session's ``coproduce up`` stack, as a data protection officer at a terminal runs it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.bad_inputs.stack import shared_stack
from tests.cli.test_end_to_end import QUICK_PLAN
from tests.web.approvers import Engagement, assert_accessible, assert_reflows, picture

THEIR_NOTE = "The stairs at Elm Court frighten me since my fall."
SOMEONE_ELSES = "Ugo's note, which is not Uma's to see."


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engagement]:
    # A new engagement each time pytest makes this fixture (it may, when it regroups tests by browser).
    engagement = f"access-{secrets.token_hex(3)}"
    with shared_stack(tmp_path_factory) as stack:
        stack.start_engagement(QUICK_PLAN, engagement)
        stack.ok("record", "checkin", engagement, "--person", "u1", "--comfort", "2", "--note", THEIR_NOTE)
        stack.ok("record", "checkin", engagement, "--person", "u2", "--comfort", "4", "--note", SOMEONE_ELSES)
        stack.ok("record", "contribution", engagement, "--as", "f1", "--person", "u1", "--minutes", "90")
        yield Engagement(stack, engagement)


def test_the_export_holds_what_is_held_about_the_person_opened_and_where(
    here: Engagement, tmp_path: Path
) -> None:
    code = here.invite("u1")["code"]
    page = tmp_path / "uma.html"
    done = here.facilitator("people", "export", here.engagement_id, "u1", "--out", str(page), "--json")
    found = json.loads(done.stdout)
    register = {item["what"]: item for item in found["register"]}
    assert register["your name"]["value"] == "Uma User"
    assert register["your contact details"]["value"] is None
    assert register["your name"]["stored_in"].startswith("the people register (PostgreSQL table")
    check_in = next(item for item in found["events"] if item["value"]["event"] == "check_in_recorded")
    assert check_in["value"]["your words"] == {"note": THEIR_NOTE}  # opened
    assert check_in["stored_in"].startswith("the event log (PostgreSQL table eventlog.events), entry ")
    assert any(item["value"]["event"] == "contribution_logged" for item in found["events"])
    [code_made] = [item for item in found["sign_in"] if "one-time sign-in code" in item["what"]]
    assert code_made["what"] == "a one-time sign-in code, made by f1" and "only a hash" in code_made["value"]
    everything = done.stdout + page.read_text()
    assert SOMEONE_ELSES not in everything and "Ugo" not in everything  # nothing about anyone else
    assert code not in everything and code.replace("-", "") not in everything  # no secret
    assert THEIR_NOTE in page.read_text()


def test_the_page_is_accessible_reflows_and_is_pictured(
    here: Engagement, tmp_path: Path, browser: Browser
) -> None:
    page_file = tmp_path / "uma.html"
    here.facilitator("people", "export", here.engagement_id, "u1", "--out", str(page_file))
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(page_file.as_uri())
    assert (
        page.locator("h1").inner_text() == f"What coproduce holds about u1 in engagement {here.engagement_id}"
    )
    assert_accessible(page)
    assert_reflows(page)
    picture(page, "subject-access")


def test_a_person_the_engagement_does_not_have_is_refused_in_one_sentence(here: Engagement) -> None:
    refused = here.facilitator("people", "export", here.engagement_id, "zz9", "--json", check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == (
        f"error: there is no person 'zz9' in engagement {here.engagement_id}; `coproduce people list {here.engagement_id}` shows them"
    )
