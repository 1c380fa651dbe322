"""The approvers' pages under test: an engagement on the session's ``coproduce up`` stack with its
'training' gate open, people invited the way a facilitator invites them, and a browser signed in as them.

The stack is the one the bad-input catalogue and the security checks share (``shared_stack``): the web
app and the mail server are those ``coproduce up`` starts, so a page here is the page a tenant gets.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import APIResponse, Browser, Page

from tests.bad_inputs.stack import Stack
from tests.cli.test_end_to_end import QUICK_PLAN

WCAG_22_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "web"
FACILITATOR = "f1"
PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 900}

# The quick plan, with email addresses for the service users (the people register keeps them).
PLAN = QUICK_PLAN.replace(
    "{id: u1, display_name: Uma User,", "{id: u1, display_name: Uma User, contact: u1@example.org,"
).replace("{id: u2, display_name: Ugo User,", "{id: u2, display_name: Ugo User, contact: u2@example.org,")


@dataclass(frozen=True)
class Engagement:
    """An engagement on the stack whose 'train' gate is open, its service users trained to decide it."""

    stack: Stack
    engagement_id: str

    @property
    def web_url(self) -> str:
        return str(self.stack.info()["web_url"])

    def facilitator(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``coproduce ARGS`` run by the engagement's facilitator, as at their terminal (``check``: it
        must succeed)."""
        env = {**self.stack.env, "COPRODUCE_OPERATOR": FACILITATOR}
        done = subprocess.run(
            [sys.executable, "-m", "coproduce", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0 or not check, f"coproduce {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def invite(self, person: str, *, email: bool = False) -> dict[str, str]:
        """``coproduce people invite``: the invitation (code, link, where it was emailed)."""
        flag = "--email" if email else "--no-email"
        return json.loads(
            self.facilitator("people", "invite", self.engagement_id, person, flag, "--json").stdout
        )

    def votes(self) -> dict[str, str]:
        """Who has voted on the 'train' gate, and how: what the log holds."""
        return {
            str(p["person_id"]): str(p["choice"])
            for t, p in self.stack.events(self.engagement_id)
            if t == "vote_cast" and p["phase_id"] == "train"
        }


def open_training_gate(
    stack: Stack, engagement_id: str, trained: tuple[str, ...] = ("u1", "u2")
) -> Engagement:
    """Start the engagement, pass its first gate, and train ``trained`` for the second."""
    stack.start_engagement(PLAN, engagement_id)
    stack.ok("record", "checkin", engagement_id, "--person", "u1", "--comfort", "4")
    stack.ok("gate", "decide", engagement_id, "--phase", "setup", "--as", "d2", "--approve")
    for person in trained:
        stack.ok(
            "record", "training", engagement_id, "--as", FACILITATOR, "--person", person, "--module", "sdm"
        )
    gate = stack.status(engagement_id)["gate"]
    assert isinstance(gate, dict) and gate["phase_id"] == "train" and gate["status"] == "open", gate
    return Engagement(stack, engagement_id)


def sign_in_with_code(browser: Browser, here: Engagement, person: str, **options: object) -> Page:
    """A new browser, signed in as ``person`` with the code a facilitator handed them."""
    code = here.invite(person)["code"]
    page = browser.new_context(base_url=here.web_url, **options).new_page()  # type: ignore[arg-type]
    page.goto("/sign-in")
    page.get_by_label("Your sign-in code").fill(code)
    page.get_by_role("button", name="Sign in with this code").click()
    page.wait_for_url(re.compile(r"/me$"))
    return page


def assert_accessible(page: Page) -> None:
    """axe-core finds no WCAG 2.2 AA violation on the page as it is now."""
    results = Axe().run(page, options=WCAG_22_AA)
    assert results.violations_count == 0, results.generate_report()


def assert_reflows(page: Page) -> None:
    """Nothing scrolls sideways at 320 px wide, nor at 640 px (a 1280 px screen at 200 % zoom)."""
    size = page.viewport_size
    for width in (320, 640):
        page.set_viewport_size({"width": width, "height": 800})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px at {width} px wide"
    if size:
        page.set_viewport_size(size)


def picture(page: Page, name: str) -> None:
    """Screenshots of the page at phone and desktop width, for docs/web/ (linked from docs/approvers.md)."""
    size = page.viewport_size
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)


def csrf_token(page: Page) -> str:
    """The session's CSRF token, as every page carries it."""
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    assert token, "the page carries no CSRF token"
    return token


def post(page: Page, path: str, form: dict[str, str], *, with_csrf: bool = True) -> APIResponse:
    """POST ``form`` to ``path`` in the page's session (its cookies), as a crafted request would, with the
    session's CSRF token unless told not to; redirects are not followed."""
    fields = {**form, "csrf_token": csrf_token(page)} if with_csrf else dict(form)
    return page.request.post(path, form=fields, max_redirects=0)


def vote_form(choice: str = "approve", reason: str = "", key: str | None = None) -> dict[str, str]:
    """What the check page sends when "Send my vote" is pressed (a fresh key unless given)."""
    import secrets

    return {"choice": choice, "reason": reason, "key": key or secrets.token_hex(16)}
