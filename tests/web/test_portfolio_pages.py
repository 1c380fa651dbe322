"""The facilitator's pages in a real browser, against the stack ``coproduce up`` starts: thirty
engagements run by one facilitator on one page (filters, the most urgent first, the keyboard alone),
one engagement's charts and tables, what a facilitator records there (each in the log), and the ways
in that must stay shut (signed out, an approver, another engagement's facilitator, no CSRF token, a
form that names who acts).

The facilitator is one account over all thirty: the operator says ``f1`` of each engagement is the
same human as ``f1`` of the first (``coproduce people same``), and they sign in once, with the code an
invitation to the first gives.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from application.participation import NOT_HERE
from tests.bad_inputs.stack import Stack, shared_stack

from .approvers import (
    DESKTOP,
    PLAN,
    Engagement,
    assert_accessible,
    assert_reflows,
    picture,
    post,
    sign_in_with_code,
)

COUNT = 30
RIVERSIDE = range(0, COUNT, 3)  # these ten belong to another organisation
WITH_F2 = range(0, COUNT, 5)  # these six are run with a second facilitator, f2
PAUSED = (4, 8)
F2 = "  - {id: f2, display_name: Fred Facilitator, constituency: facilitator, roles: [facilitator]}\n"


def plan_for(i: int) -> str:
    text = PLAN
    if i in RIVERSIDE:
        text = text.replace("organisation: {name: Test Trust,", "organisation: {name: Riverside Housing,")
    if i in WITH_F2:
        text = text.replace("people:\n", "people:\n" + F2, 1)
    return text


@dataclass(frozen=True)
class Folio:
    stack: Stack
    ids: list[str]  # the thirty engagements f1 facilitates, in the order started
    other: str  # an engagement f1's account does not facilitate

    def engagement(self, i: int) -> Engagement:
        return Engagement(self.stack, self.ids[i])

    @property
    def web_url(self) -> str:
        return str(self.stack.info()["web_url"])


@pytest.fixture(scope="module")
def folio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Folio]:
    # New engagement ids each time pytest makes this fixture (it may, when it regroups tests by browser).
    prefix = f"folio-{secrets.token_hex(3)}"
    ids = [f"{prefix}-{i:02d}" for i in range(COUNT)]
    with shared_stack(tmp_path_factory) as stack:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda i: stack.start_engagement(plan_for(i), ids[i]), range(COUNT)))
        other = stack.start_engagement(PLAN, f"{prefix}-other")
        first = Engagement(stack, ids[0])
        with ThreadPoolExecutor(3) as pool:
            list(
                pool.map(
                    lambda engagement_id: first.facilitator(
                        "people", "same", ids[0], "f1", engagement_id, "f1"
                    ),
                    ids[1:],
                )
            )
        for i in PAUSED:
            stack.ok("engagement", "pause", ids[i], "--as", "f1", "--reason", "the board asked for time")
        stack.ok("record", "checkin", ids[1], "--person", "u1", "--comfort", "4")
        stack.ok("record", "checkin", ids[1], "--person", "d1", "--comfort", "3")
        yield Folio(stack, ids, other)


def signed_in_facilitator(folio: Folio, browser: Browser) -> Page:
    """A browser signed in as f1 of the first engagement, whose account is f1 of all thirty."""
    return sign_in_with_code(browser, folio.engagement(0), "f1", viewport=DESKTOP)


def rows(page: Page) -> list[str]:
    return page.locator("table.portfolio-table tbody tr").all_inner_texts()


def opened(page: Page) -> list[str]:
    """Where each engagement's link in the table leads."""
    return list(
        page.locator("table.portfolio-table tbody th a").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
    )


def attention(page: Page) -> list[str]:
    """The "needs attention because" cell of each row, top to bottom."""
    return page.locator("table.portfolio-table tbody td:nth-child(3)").all_inner_texts()


def portfolio_caught_up(page: Page, folio: Folio, timeout: float = 90) -> None:
    """Open the portfolio until the read model holds all thirty, with the pauses and check-ins applied."""
    deadline = time.monotonic() + timeout
    paused = {f"/portfolio/{folio.ids[i]}" for i in PAUSED}
    while True:
        page.goto("/portfolio")
        links, reasons = opened(page), attention(page)
        calm = f"/portfolio/{folio.ids[1]}"  # its people checked in: its first gate is open, not held
        if (
            len(links) == COUNT
            and set(links[: len(paused)]) == paused
            and "held" not in reasons[links.index(calm)]
        ):
            return
        assert time.monotonic() < deadline, f"the portfolio shows {len(links)} engagements: {reasons[:4]}"
        time.sleep(1)


def test_the_portfolio_lists_all_thirty_the_held_and_paused_first_and_filters_them(
    folio: Folio, browser: Browser
) -> None:
    page = signed_in_facilitator(folio, browser)
    page.goto("/me")
    page.get_by_role("link", name="Every engagement you facilitate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your engagements")
    portfolio_caught_up(page, folio)
    expect(page.locator("caption")).to_contain_text(f"{COUNT} of {COUNT} engagements")
    # Paused first, then those with a gate held (here: waiting for check-ins), then the rest.
    reasons = attention(page)
    assert all("paused" in r for r in reasons[: len(PAUSED)]), reasons[:3]
    urgent = ["held" in r or "paused" in r for r in reasons]
    assert urgent == sorted(urgent, reverse=True) and not urgent[-1], reasons
    expect(page.get_by_role("row").nth(1)).to_contain_text("Needs attention because 1 gate held, paused")
    assert_accessible(page)
    assert_reflows(page)
    picture(page, "portfolio")

    page.get_by_label("Organisation").select_option("Riverside Housing")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("caption")).to_contain_text(f"{len(RIVERSIDE)} of {COUNT} engagements of Riverside")
    assert len(rows(page)) == len(RIVERSIDE)
    assert all("Riverside Housing" in r for r in rows(page))

    page.get_by_label("Organisation").select_option("")
    page.get_by_label("Facilitator").select_option("f2")
    page.get_by_role("button", name="Apply filters").click()
    assert sorted(opened(page)) == sorted(f"/portfolio/{folio.ids[i]}" for i in WITH_F2)
    assert_accessible(page)


def tab_to(page: Page, matches: Callable[[Page], bool], most: int = 80) -> None:
    for _ in range(most):
        page.keyboard.press("Tab")
        if matches(page):
            return
    raise AssertionError("Tab never reached it")


def focused(page: Page, script: str) -> bool:
    return bool(page.evaluate(f"(() => {{ const el = document.activeElement; return {script}; }})()"))


def test_the_keyboard_alone_filters_and_opens_an_engagement(folio: Folio, browser: Browser) -> None:
    page = signed_in_facilitator(folio, browser)
    portfolio_caught_up(page, folio)
    tab_to(page, lambda p: focused(p, "el.id === 'organisation'"))
    page.keyboard.press("ArrowDown")  # the first organisation after "All organisations"
    tab_to(page, lambda p: focused(p, "el.textContent.trim() === 'Apply filters'"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"organisation=Riverside"))
    assert len(rows(page)) == len(RIVERSIDE)
    tab_to(
        page, lambda p: focused(p, "el.tagName === 'A' && el.getAttribute('href').startsWith('/portfolio/')")
    )
    href = str(page.evaluate("document.activeElement.getAttribute('href')"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(href) + "$"))
    expect(page.get_by_role("heading", name="Comfort with the pace")).to_be_visible()


def test_the_engagement_page_charts_and_tables_show_the_check_ins(folio: Folio, browser: Browser) -> None:
    page = signed_in_facilitator(folio, browser)
    page.goto(f"/portfolio/{folio.ids[1]}")
    chart = page.get_by_role("img", name="Comfort with the pace, by group")
    expect(chart).to_be_visible()
    assert chart.locator("circle, rect, polygon").count() >= 2  # a mark per group's day
    table = page.get_by_role("table", name="Average comfort by day and group")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("Service user")
    expect(table).to_contain_text("Decision maker")
    expect(page.locator(".chart-legend").first).to_contain_text("Comfort threshold: 2")
    waits = page.get_by_role("table", name="Waiting time: baseline, target and measurements")
    expect(waits).to_contain_text("40")
    expect(waits).to_contain_text("20")
    expect(page.get_by_role("img", name="Waiting time (days)")).to_be_visible()
    timeline = page.get_by_role("table", name=re.compile(r"events, newest first"))
    expect(timeline).to_contain_text("u1 checked in: comfort 4")
    assert_accessible(page)
    assert_reflows(page)
    picture(page, "engagement")


def test_each_action_is_recorded_in_the_log_and_bad_input_records_nothing(
    folio: Folio, browser: Browser
) -> None:
    stack, engagement_id = folio.stack, folio.ids[2]
    page = signed_in_facilitator(folio, browser)
    page.goto(f"/portfolio/{engagement_id}")

    # A pause without a reason: the error summary and the message by the field, nothing recorded.
    before = stack.head()
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".error-summary")).to_contain_text("Say why you pause the engagement")
    expect(page.locator("#pause-reason-error")).to_be_visible()
    assert_accessible(page)
    assert stack.head() == before
    answer = post(page, f"/portfolio/{engagement_id}/pause", {"reason": "", "key": secrets.token_hex(16)})
    assert answer.status == 400 and stack.head() == before

    page.get_by_label("Who is checking in").select_option("u2")
    page.get_by_label("3:").check()
    page.get_by_label("Why you are entering it for them").fill("at the group, on paper")
    page.get_by_role("button", name="Record the check-in").click()
    expect(page.get_by_role("status")).to_contain_text("The check-in is recorded.")
    checked = [p for t, p in stack.events(engagement_id) if t == "check_in_recorded"]
    assert [(p["person_id"], p["comfort"]) for p in checked] == [("u2", 3)]

    page.get_by_label("What kind of session").select_option("training")
    page.get_by_label("Uma User (u1)").check()
    page.get_by_label("Ugo User (u2)").check()
    page.get_by_label("How long it lasted, in minutes").fill("90")
    page.get_by_role("button", name="Record the session").click()
    expect(page.get_by_role("status")).to_contain_text("The session is recorded.")
    held = [p for t, p in stack.events(engagement_id) if t == "session_held"]
    assert len(held) == 1 and sorted(held[0]["attendee_ids"]) == ["u1", "u2"]  # type: ignore[arg-type]

    page.get_by_label("Who to invite").select_option("u1")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("status")).to_contain_text("u1 is invited")
    expect(page.get_by_role("status")).to_contain_text("emailed")
    code = page.locator("strong.code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code), code
    page.goto(f"/portfolio/{engagement_id}")
    expect(page.locator("strong.code")).to_have_count(0)  # shown once, on the answer to the invitation

    page.get_by_label("Why you pause it").fill("the tenants asked for a break over the holidays")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("The engagement is paused")
    page.get_by_label("Why you resume it").fill("the tenants are back")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status")).to_contain_text("The engagement is resumed.")
    types = [t for t, _ in stack.events(engagement_id)]
    assert "engagement_paused" in types and "engagement_resumed" in types
    paused = next(p for t, p in stack.events(engagement_id) if t == "engagement_paused")
    assert paused["paused_by"] == "f1", paused
    assert_reflows(page)


def test_nobody_but_the_engagements_facilitator_gets_in_and_a_form_cannot_say_who_acts(
    folio: Folio, browser: Browser
) -> None:
    stack, mine, theirs = folio.stack, folio.ids[3], folio.other
    # Signed out: the sign-in page, then back here.
    anonymous = browser.new_context(base_url=folio.web_url).new_page()
    anonymous.goto(f"/portfolio/{mine}")
    assert re.search(r"/sign-in\?next=/portfolio/", anonymous.url), anonymous.url

    # An approver of the engagement: no portfolio, no engagement page, no action.
    approver = sign_in_with_code(browser, folio.engagement(3), "u1")
    approver.goto("/portfolio")
    expect(approver.locator("main")).to_contain_text("You do not facilitate any engagement")
    expect(approver.locator("table")).to_have_count(0)
    answer = approver.goto(f"/portfolio/{mine}")
    assert answer is not None and answer.status == 404
    expect(approver.locator("main")).to_contain_text(NOT_HERE)
    before = stack.head()
    refused = post(approver, f"/portfolio/{mine}/pause", {"reason": "I want to stop it", "key": "a" * 32})
    assert refused.status == 404 and stack.head() == before

    # The facilitator of the thirty, at an engagement they do not facilitate: the same one sentence.
    page = signed_in_facilitator(folio, browser)
    answer = page.goto(f"/portfolio/{theirs}")
    assert answer is not None and answer.status == 404
    expect(page.locator("main")).to_contain_text(NOT_HERE)
    assert theirs not in page.locator("main").inner_text()
    for action, form in (
        ("pause", {"reason": "not mine to pause", "key": "b" * 32}),
        ("invite", {"person": "u1", "key": "c" * 32}),
        ("check-in", {"person": "u1", "comfort": "1", "for_reason": "by phone", "note": "", "key": "d" * 32}),
    ):
        refused = post(page, f"/portfolio/{theirs}/{action}", form)
        assert refused.status == 404 and NOT_HERE in refused.text(), refused.text()
    assert stack.head() == before

    # No CSRF token: 403. A field naming who acts: 400. Nothing recorded either way.
    page.goto(f"/portfolio/{mine}")
    no_token = post(page, f"/portfolio/{mine}/pause", {"reason": "r", "key": "e" * 32}, with_csrf=False)
    assert no_token.status == 403
    for field in ("person_id", "by", "actor"):
        forged = post(page, f"/portfolio/{mine}/pause", {"reason": "r", "key": "f" * 32, field: "d1"})
        assert forged.status == 400 and field in forged.text(), forged.text()
    assert stack.head() == before
