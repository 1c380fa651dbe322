"""Due dates in a calendar app: a person makes a private calendar address on the web, and what a calendar
app fetches from it (with no cookie) holds their votes, check-ins and training, or, for a facilitator,
everything that falls due in the engagements they run.

The feed tests run against the session's ``coproduce up`` stack (its web app, Temporal, PostgreSQL and
the portfolio read model its worker keeps), in a real browser for the pages; the feed itself is fetched
as a calendar app fetches it, with plain HTTP and no session. The first tests are of the pure part:
building the calendar from an engagement folded in memory.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, Page, expect

from application.calendar_feeds import NO_FEED, Titles, build_calendar, facilitated_items, person_items
from domain.rules.schedule import falls_due
from tests.bad_inputs.stack import Stack, shared_stack
from tests.domain.helpers import Story, day

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

TITLE = "Small test engagement"


# -- the pure part: items and the calendar built from them ------------------------------------------------
def _pilot_open() -> Story:
    """The small plan with its 'pilot' gate open on day 15: u1 trained (until day 25) and on its roster."""
    return Story().pilot_ready().open_gate("pilot")


def _built(story: Story, person_id: str, stamp: datetime) -> bytes:
    items = person_items("eng-test", story.state, person_id, story.now)
    return build_calendar(
        items, web_url="https://coproduce.example.org", domain="coproduce.example.org", stamp=stamp
    )


def test_a_persons_items_are_their_vote_check_in_and_training_with_stable_uids_and_no_names() -> None:
    story = _pilot_open()
    first = Calendar.from_ical(_built(story, "u1", day(15)))
    again = Calendar.from_ical(_built(story, "u1", day(16)))  # fetched again a day later
    events = {str(e["SUMMARY"]): e for e in first.walk("VEVENT")}

    vote = events[f"Decide: Pilot with the initial group - {TITLE}"]
    assert vote.decoded("DTSTART") == day(8 + 21)  # 'pilot' started on day 8 and escalates after 21 days
    assert str(vote["URL"]) == "https://coproduce.example.org/engagements/eng-test/gates/pilot"
    assert str(vote["URL"]) in str(vote["DESCRIPTION"])
    check_in = events[f"Check in on the pace - {TITLE}"]
    assert isinstance(check_in.decoded("DTSTART"), date) and not isinstance(
        check_in.decoded("DTSTART"), datetime
    )
    training = events[f"Your training runs out: Shared decision making - {TITLE}"]
    assert training.decoded("DTSTART") == day(25).date()
    assert str(first["X-WR-CALNAME"]) == "coproduce: your due dates"

    assert [str(e["UID"]) for e in first.walk("VEVENT")] == [str(e["UID"]) for e in again.walk("VEVENT")]
    assert len({str(e["UID"]) for e in first.walk("VEVENT")}) == len(events) == 3
    text = _built(story, "u1", day(15)).decode()
    for person in story.plan.people:  # nobody's name, not even the reader's own
        assert person.display_name not in text, person.display_name


def test_a_vote_already_cast_and_a_gate_someone_may_not_vote_on_are_left_out() -> None:
    story = _pilot_open().vote("pilot", "u1")
    summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(_built(story, "u1", day(15))).walk("VEVENT")]
    assert not any(s.startswith("Decide:") for s in summaries), summaries
    untrained = Calendar.from_ical(_built(_pilot_open(), "u4", day(15)))  # wider cohort: not on the roster
    assert not untrained.walk("VEVENT")


def test_a_facilitators_items_are_everything_that_falls_due_and_name_nobody() -> None:
    story = _pilot_open()
    due = [item.model_dump(mode="json") for item in falls_due(story.state)]
    items = facilitated_items("eng-test", "active", due, Titles.of_state(story.state))
    assert len(items) == len(due)
    text = build_calendar(items, web_url="https://x.example", domain="x.example", stamp=day(15)).decode()
    assert "Training runs out: Shared decision making (u1)" in text.replace("\r\n ", "")
    for person in story.plan.people:
        assert person.display_name not in text, person.display_name


# -- on the stack ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def here(stack: Stack) -> Engagement:
    """An engagement whose 'train' gate is open, u1 and u2 trained to decide it."""
    return open_training_gate(stack, f"cal-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def other(stack: Stack) -> Engagement:
    """A second engagement run by the same facilitator."""
    return open_training_gate(stack, f"cal-{uuid.uuid4().hex[:8]}")


def make_address(page: Page) -> str:
    """Press the button on the calendar page; the https address it shows."""
    page.goto("/calendar")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/calendar")) as sent:
        page.get_by_role("button", name=re.compile("Make (my calendar|a new) address")).click()
    shown = sent.value.headers  # the page holding the address: kept nowhere, sent nowhere
    assert shown["referrer-policy"] == "no-referrer" and shown["cache-control"] == "no-store", shown
    expect(page.get_by_role("heading", level=1)).to_have_text("Your calendar address")
    address = page.get_by_label("Calendar address").input_value()
    assert re.fullmatch(r"http://localhost:\d+/calendar/[\w-]{43}\.ics", address), address
    webcal = page.get_by_role("link", name="Add to your calendar").get_attribute("href")
    assert webcal == "webcal://" + address.split("://", 1)[1]
    return address


def fetch(address: str) -> httpx.Response:
    """The feed as a calendar app fetches it: no cookie, no session."""
    return httpx.get(address, timeout=30)


def events_of(response: httpx.Response) -> list[dict[str, object]]:
    assert response.status_code == 200, response.text
    calendar = Calendar.from_ical(response.content)
    return [
        {"uid": str(e["UID"]), "summary": str(e["SUMMARY"]), "start": e.decoded("DTSTART"), "url": str(e["URL"]),
         "description": str(e["DESCRIPTION"])}
        for e in calendar.walk("VEVENT")
    ]  # fmt: skip


def occurred(stack: Stack, engagement_id: str, event_type: str, key: str, value: str) -> datetime:
    [(at,)] = stack.sql(
        "SELECT occurred_at FROM eventlog.audit_events WHERE stream_id = %s AND event_type = %s "
        "AND payload->>%s = %s ORDER BY position DESC LIMIT 1",
        (engagement_id, event_type, key, value),
    )
    assert isinstance(at, datetime)
    return at


def test_a_persons_feed_holds_their_open_vote_check_in_and_training_and_its_links_work(
    here: Engagement, browser: Browser
) -> None:
    page = sign_in_with_code(browser, here, "u1", viewport=DESKTOP)
    page.get_by_role("link", name=re.compile("Add your due dates")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Due dates in your calendar")
    response = fetch(make_address(page))

    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    events = {e["summary"]: e for e in events_of(response)}

    vote = events[f"Decide: Training - {TITLE}"]
    escalates = occurred(here.stack, here.engagement_id, "phase_started", "phase_id", "train") + timedelta(
        days=20
    )
    assert vote["start"] == escalates.replace(microsecond=0)
    assert vote["url"] == f"{here.web_url}/engagements/{here.engagement_id}/gates/train"
    page.goto(str(vote["url"]))  # the link leads to the gate, ready for the vote
    expect(page.get_by_role("heading", level=1)).to_have_text("Decide: Training")
    expect(page.get_by_label("Approve")).to_be_visible()

    check_in = events[f"Check in on the pace - {TITLE}"]
    page.goto(str(check_in["url"]))
    expect(page.get_by_role("heading", level=1)).to_contain_text("pace")

    [(expires,)] = here.stack.sql(
        "SELECT payload->>'expires_at' FROM eventlog.audit_events WHERE stream_id = %s "
        "AND event_type = 'authorisation_granted' AND payload->>'person_id' = 'u1'",
        (here.engagement_id,),
    )
    training = events[f"Your training runs out: Shared decision making - {TITLE}"]
    assert training["start"] == datetime.fromisoformat(str(expires)).astimezone(UTC).date()
    assert set(events) == {f"Decide: Training - {TITLE}", f"Check in on the pace - {TITLE}",
                           f"Your training runs out: Shared decision making - {TITLE}"}  # fmt: skip
    assert "Uma" not in response.text and "Fay" not in response.text


def test_a_facilitators_feed_holds_what_falls_due_in_every_engagement_they_run(
    here: Engagement, other: Engagement, browser: Browser
) -> None:
    page = sign_in_with_code(browser, here, "f1", viewport=DESKTOP)
    # the same facilitator in the second engagement: one account, two memberships
    here.stack.sql(
        "INSERT INTO identity.memberships (engagement_id, person_id, account_id) SELECT %s, 'f1', account_id "
        "FROM identity.memberships WHERE engagement_id = %s AND person_id = 'f1' RETURNING 1",
        (other.engagement_id, here.engagement_id),
    )
    rows = portfolio_caught_up(here.stack, [here.engagement_id, other.engagement_id])
    events = events_of(fetch(make_address(page)))

    for engagement_id, due in rows.items():
        mine = [e for e in events if f"/{engagement_id}" in str(e["url"])]  # its gate, or its portfolio page
        assert len(mine) == len(due), (engagement_id, due, mine)
        for item in due:
            when = datetime.fromisoformat(item["due_at"]).replace(microsecond=0)
            assert any(e["start"] in (when, when.date()) for e in mine), (item, mine)
        kinds = {item["kind"] for item in due}
        assert {"check_in", "gate_escalation", "authorisation_expiry"} <= kinds, kinds
    summaries = {str(e["summary"]) for e in events}
    assert f"Gate escalates: Training - {TITLE}" in summaries
    assert f"Training runs out: Shared decision making (u2) - {TITLE}" in summaries
    assert not any(name in str(events) for name in ("Uma", "Ugo", "Fay", "Dan", "Deb"))


def portfolio_caught_up(
    stack: Stack, engagements: list[str], timeout: float = 60
) -> dict[str, list[dict[str, str]]]:
    """The portfolio's ``due`` of each engagement, once its row has caught up with the engagement's log."""
    deadline = time.monotonic() + timeout
    while True:
        rows = stack.sql(
            "SELECT p.engagement_id, p.due, p.position = (SELECT max(position) FROM eventlog.audit_events e "
            "WHERE e.stream_id = p.engagement_id) FROM engagements.portfolio p WHERE p.engagement_id = ANY(%s)",
            (engagements,),
        )
        if len(rows) == len(engagements) and all(current for _, _, current in rows):
            return {str(e): (json.loads(d) if isinstance(d, str) else d) for e, d, _ in rows}  # type: ignore[misc]
        assert time.monotonic() < deadline, f"the portfolio did not catch up: {rows}"
        time.sleep(0.5)


def test_a_new_address_revokes_the_old_one_and_the_address_is_not_stored(
    here: Engagement, browser: Browser
) -> None:
    page = sign_in_with_code(browser, here, "u2", viewport=PHONE)
    old = make_address(page)
    assert fetch(old).status_code == 200
    expect(page.get_by_role("button", name="Make a new address")).to_be_visible()
    page.goto("/calendar")  # the page says an address exists, and cannot show it again
    expect(page.get_by_text("we cannot show it again")).to_be_visible()
    expect(page.get_by_text("A calendar app last read it on")).to_be_visible()
    new = make_address(page)
    assert new != old

    gone = fetch(old)
    assert (gone.status_code, gone.text) == (404, NO_FEED)
    assert gone.headers["cache-control"] == "no-store" and "set-cookie" not in gone.headers
    assert fetch(new).status_code == 200
    for never in (f"{here.web_url}/calendar/{'A' * 43}.ics", f"{here.web_url}/calendar/not-a-token.ics"):
        unknown = fetch(never)
        assert (unknown.status_code, unknown.text) == (404, NO_FEED)

    tokens = [address.rsplit("/", 1)[1].removesuffix(".ics") for address in (old, new)]
    stored = here.stack.sql("SELECT token_hash, revoked_at IS NOT NULL FROM identity.calendar_feeds")
    kept = {bytes(h): revoked for h, revoked in stored}  # type: ignore[arg-type]
    assert kept[hashlib.sha256(tokens[0].encode()).digest()] is True
    assert kept[hashlib.sha256(tokens[1].encode()).digest()] is False
    dump = json.dumps(here.stack.sql("SELECT row_to_json(f)::text FROM identity.calendar_feeds f"))
    assert not any(token in dump for token in tokens)


def test_the_calendar_page_is_accessible_reflows_and_is_pictured(here: Engagement, browser: Browser) -> None:
    page = sign_in_with_code(browser, here, "d2", viewport=DESKTOP)
    page.goto("/calendar")
    for look in ("calendar", "calendar-address", "calendar-made"):
        if look == "calendar-address":
            page.get_by_role("button", name="Make my calendar address").click()
        elif look == "calendar-made":
            page.goto("/calendar")
        assert_accessible(page)
        assert_reflows(page)
        picture(page, look)


def test_a_new_address_is_made_with_the_keyboard_alone(here: Engagement, browser: Browser) -> None:
    page = sign_in_with_code(browser, here, "d3", viewport=DESKTOP)
    page.goto("/calendar")
    keys = page.keyboard

    def tab_to(name: str, limit: int = 40) -> None:
        for _ in range(limit):
            keys.press("Tab")
            if page.evaluate("(document.activeElement.innerText || '').trim()") == name:
                return
        raise AssertionError(f"Tab never reached {name!r}")

    tab_to("Make my calendar address")
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your calendar address")
    first = page.get_by_label("Calendar address").input_value()
    tab_to("Make a new address")
    keys.press("Enter")
    expect(page.get_by_label("Calendar address")).not_to_have_value(first)
    second = page.get_by_label("Calendar address").input_value()
    assert first != second and fetch(first).status_code == 404 and fetch(second).status_code == 200
