"""A month of an engagement on the time-skipping server, and the mail it implies, received by a real
SMTP server (aiosmtpd) exactly once each: a gate opens and stays short of its decision (a reminder
after four days, escalated to the sponsor and the facilitator after ten), a training authorisation
nears its end (a renewal reminder a week before) and ends, two check-in rounds; one person prefers a
daily digest, four have no address and go on the facilitator's list to tell by hand. The sign-in link
in a mail opens the page it is about, in a real browser.

The second test runs the same month with the mail server down for part of it: mail is delayed, none
is lost and none is sent twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import sync_playwright
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application import engagements
from application.identity import Actor
from application.notices import delivery, outbox
from application.notices.register import SentNotice, notices_of, set_preference
from application.services import Services
from coproduce.web.app import create_app
from domain.plan import plan_from_yaml
from eventlog import EventLog
from tests.cli.test_end_to_end import QUICK_PLAN
from tests.web.conftest import Mailbox, chromium_path, free_port, serving
from tests.workflows.conftest import TASK_QUEUE
from workers.codec import data_converter
from workers.services import services_from_settings
from workers.settings import Settings
from workers.worker import build_worker
from workflows import messages as m
from workflows.engagement import EngagementWorkflow

ENGAGEMENT = "notices-month"
CONTACTS = {"f1": "fay", "d1": "dee", "d2": "dan", "u1": "uma", "u2": "ugo"}  # d3, u3, c1, s1: none
PLAN = (
    QUICK_PLAN.replace("check_in_every_days: 3", "check_in_every_days: 14")
    .replace("    - {id: dated, title: Dated check, indicators: [waits], due_on: 2025-01-26}\n", "")
    .replace("  requirements:\n", "  renewal_notice_days: 7\n  requirements:\n", 1)
    .replace(
        "    escalate_after_days: 10\n",
        "    escalate_after_days: 10\n    remind_after_days: 4\n    escalate_to: [sponsor]\n",
        1,
    )
)
for person, name in CONTACTS.items():
    PLAN = re.sub(rf"(\{{id: {person}, display_name: [^,]+,)", rf"\1 contact: {name}@example.org,", PLAN)

# What the plan implies, by address: the subjects each person receives over the month, once each.
OPENED, WAITING = "A decision is open: Set up", "Reminder: your decision on Set up is still needed"
ESCALATED, CHECK_IN = (
    "A decision has waited too long: Set up",
    "How comfortable are you with the pace of change?",
)
EXPECTED = {
    "fay@example.org": Counter({CHECK_IN: 2, ESCALATED: 1}),
    "dee@example.org": Counter({OPENED: 1, WAITING: 3, ESCALATED: 1, CHECK_IN: 2}),  # WAITING: day 4, 14, 28
    "dan@example.org": Counter({OPENED: 1, WAITING: 3, CHECK_IN: 2}),
    "uma@example.org": Counter({
        CHECK_IN: 2,
        "Your training 'Shared decision making' needs renewing by": 1,
        "Your training 'Shared decision making' has ended": 1,
    }),
}  # fmt: skip


def subjects(messages: list[Message]) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    for message in messages:
        subject = str(message["Subject"])
        subject = subject.split(" by ", 1)[0] + " by" if " needs renewing by " in subject else subject
        found.setdefault(str(message["To"]), Counter())[subject] += 1
    return found


class Smtp:
    """A real SMTP server on a free port of 127.0.0.1 that can be stopped and started again."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def month(
    env: WorkflowEnvironment,
    writer_log: EventLog,
    database_url: str,
    smtp: Smtp,
) -> AsyncIterator[tuple[Services, WorkflowEnvironment]]:
    web_port = free_port()
    services = services_from_settings(Settings())
    services.database_url = lambda: database_url
    services.task_queue = TASK_QUEUE
    services.web_url = f"http://localhost:{web_port}"
    services.smtp_url = f"smtp://127.0.0.1:{smtp.port}"

    async def temporal() -> Client:
        return env.client

    services.connect_temporal = temporal
    async with build_worker(env.client, writer_log, TASK_QUEUE):
        plan, _ = engagements.scheduled(plan_from_yaml(PLAN, "month.yaml"), "today")
        async with services.register() as register:  # as `engagements.start` does, on a server that
            plan = await register.register(ENGAGEMENT, plan)  # has no search attributes
        keys = tuple(key.key_string() for key in services.load_writer_verifiers() or ())
        begin = m.StartEngagement(engagement_id=ENGAGEMENT, plan=plan, started_by="f1", input_keys=keys)
        await env.client.start_workflow(
            EngagementWorkflow.run,
            m.EngagementInput(start=begin, search_attributes=False),
            id=ENGAGEMENT,
            task_queue=TASK_QUEUE,
        )
        await set_preference(services, ENGAGEMENT, "u2", "digest")
        yield services, env


async def day(services: Services, env: WorkflowEnvironment, days: float, *, deliver: bool = True) -> None:
    """Let ``days`` pass on the time-skipping server, then fill the outbox and run a delivery round."""
    await env.sleep(timedelta(days=days))
    await outbox.catch_up(services)
    if deliver:
        await delivery.deliver(services, await env.get_current_time())


async def run_the_month(services: Services, env: WorkflowEnvironment, smtp: Smtp, *, outage: bool) -> None:
    """Day 0: Uma checks in and the setup gate opens; day 1: Uma is trained. Then a month passes, with a
    delivery round every two days. With ``outage``, the mail server is down from day 1 to day 19."""
    begun = await env.get_current_time()
    f1 = Actor("f1", "cli")
    await engagements.submit(
        services, Actor("u1", "cli"), ENGAGEMENT, m.RecordCheckIn(person_id="u1", comfort=4)
    )
    await day(services, env, 1)  # the setup gate opened on the check-in
    await engagements.submit(
        services, f1, ENGAGEMENT, m.RecordTraining(by="f1", person_id="u1", module_id="sdm")
    )
    if outage:
        smtp.stop()
    for _ in range(12):  # days 2 to 25; with an outage, the server is down from day 2 to day 19
        await day(services, env, 2)
        if outage and smtp.controller is None and await env.get_current_time() > begun + timedelta(days=19):
            smtp.start()
    await day(services, env, 6)  # day 31: the second round's digest day is over
    await day(services, env, 0.1)  # a last round after the back-off


def check_the_month(smtp: Smtp, rows: list[SentNotice]) -> None:
    received = smtp.mailbox.messages
    ids = [str(message["Message-ID"]) for message in received]
    assert len(ids) == len(set(ids)), "a mail was sent twice"
    got = subjects([m for m in received if m["To"] != "ugo@example.org"])
    assert got == EXPECTED
    digests = [m for m in received if m["To"] == "ugo@example.org"]
    assert len(digests) == 2 and all(str(m["Subject"]).startswith("Your daily summary for") for m in digests)
    for message in received:
        assert (
            message["List-Unsubscribe"] and message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        )
        assert message.is_multipart()  # plain text and HTML
    by_hand = Counter(row.person_id for row in rows if row.status == "by_hand")
    assert by_hand == {"d3": 6, "u3": 2, "c1": 2, "s1": 2}
    assert {row.status for row in rows} == {"sent", "by_hand"}


@pytest.mark.timeout(600)
async def test_a_month_of_notices_arrives_once_each_and_the_link_opens_the_page(
    month: tuple[Services, WorkflowEnvironment], smtp: Smtp
) -> None:
    services, env = month
    await run_the_month(services, env, smtp, outage=False)
    rows = await notices_of(services, ENGAGEMENT)
    check_the_month(smtp, rows)
    before = len(smtp.mailbox.messages)
    await delivery.deliver(services, await env.get_current_time() + timedelta(days=3))
    assert len(smtp.mailbox.messages) == before  # a round with nothing due sends nothing

    # Dan's "decision is open" mail: its link signs him in and lands on the gate's page.
    [opened] = [m for m in smtp.mailbox.messages if m["To"] == "dan@example.org" and m["Subject"] == OPENED]
    text = (
        next(p for p in opened.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    link = re.search(r"https?://\S+/sign-in/link/\S+", text)
    assert link, text
    web_services = services_from_settings(Settings())
    web_services.database_url = services.database_url
    web_services.task_queue = TASK_QUEUE
    web_services.web_url = services.web_url
    target = env.client.service_client.config.target_host

    async def own_client() -> Client:
        return await Client.connect(target, data_converter=data_converter())

    web_services.connect_temporal = own_client
    port = int(services.web_url.rsplit(":", 1)[1])

    def open_link() -> tuple[str, str]:
        # Playwright's sync API in a thread of its own: this test's thread runs an asyncio loop.
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(link.group(0))
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            found = page.url, page.locator("h1").inner_text()
            browser.close()
            return found

    with serving(create_app(web_services), port), concurrent.futures.ThreadPoolExecutor(1) as pool:
        url, heading = await asyncio.wrap_future(pool.submit(open_link))
    assert url.endswith(f"/engagements/{ENGAGEMENT}/gates/setup"), url
    assert "Set up" in heading


@pytest.mark.timeout(600)
async def test_with_the_mail_server_down_for_weeks_mail_is_late_but_none_is_lost_or_doubled(
    month: tuple[Services, WorkflowEnvironment], smtp: Smtp
) -> None:
    services, env = month
    await run_the_month(services, env, smtp, outage=True)
    rows = await notices_of(services, ENGAGEMENT)
    tried = [row for row in rows if row.attempts > 1]
    assert tried, "the outage should have made some sends fail first"
    assert all(row.last_error is None for row in rows if row.status == "sent")
    check_the_month(smtp, rows)
