"""Fixtures of the web tests: a real browser (Debian's Chromium, driven by Playwright), the web app served by
uvicorn on a free port of 127.0.0.1 (reached as ``localhost``, where browsers allow passkeys), a real SMTP
server (aiosmtpd) that keeps what it receives, and a migrated PostgreSQL database of the module's own.

A missing browser skips these tests on a developer's machine and fails them under CI (``CI=true``), where
they must run (.ci/run installs Debian's chromium).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from temporalio.client import Client

from application.services import Services
from coproduce.web.app import create_app
from domain.plan import Plan
from eventlog import Signer
from workers.database import create_database, drop_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium_path() -> str:
    """Debian's chromium (``$CHROMIUM`` may name another); skip, or under CI fail, when missing."""
    wanted = os.environ.get("CHROMIUM")
    found = shutil.which(wanted) if wanted else shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "no Chromium to drive (Debian package `chromium`; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"{message}: under CI the web pages must be checked in a real browser")
        pytest.skip(message)
    return found


# Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running in the test's
# thread while it is open, which stops pytest-asyncio from running the async tests of later modules.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium_path(),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run"],
    )  # fmt: skip
    yield launched
    launched.close()


@dataclass
class Mailbox:
    """What the SMTP server received, as parsed messages, in order."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, count: int = 1, timeout: float = 15) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [m for m in self.messages if to in str(m["To"])]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} arrived within {timeout} s")


@dataclass
class WebSite:
    """The web app under test and what stands behind it."""

    url: str
    database_url: str
    services: Services
    mailbox: Mailbox
    run: Callable[..., Any]  # runs a coroutine function with fresh services, in its own event loop

    def page(self, browser: Browser, **options: Any) -> Page:
        context = browser.new_context(base_url=self.url, **options)
        return context.new_page()


def services_for(
    database_url: str, web_url: str, smtp_url: str | None, master_key: bytes, writer: Signer
) -> Services:
    """Services with no Temporal behind them: a port nothing listens on, as when Temporal is down. Signing
    in does not need it; the page listing a person's engagements says it cannot show them."""
    nowhere = f"127.0.0.1:{free_port()}"

    async def temporal_down() -> Client:
        return await Client.connect(nowhere)

    return Services(
        connect_temporal=temporal_down, database_url=lambda: database_url, load_master_key=lambda _: master_key,
        load_writer_key=lambda: writer, load_writer_verifiers=lambda: [writer.verifier], task_queue="web-tests",
        web_url=web_url, smtp_url=smtp_url, mail_from="coproduce <coproduce@localhost>",
    )  # fmt: skip


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """``app`` served by uvicorn on 127.0.0.1:``port``, in a thread of its own, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the web app did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def web_site(admin_url: str, migrated_template: str) -> Iterator[WebSite]:
    database_url = create_database(admin_url, template=migrated_template, prefix="web")
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    url = f"http://localhost:{port}"
    master_key, writer = os.urandom(32), Signer.generate("tests/web")

    def fresh() -> Services:
        return services_for(database_url, url, f"smtp://127.0.0.1:{smtp.port}", master_key, writer)

    def run(action: Callable[[Services], Any]) -> Any:
        """Run ``action(services)`` in an event loop of its own, in a thread: Playwright's sync API
        keeps an event loop running in the test's own thread."""

        async def body() -> Any:
            services = fresh()
            await services.open(max_size=2)
            try:
                return await action(services)
            finally:
                await services.close()

        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, body()).result()

    try:
        with serving(create_app(fresh()), port):
            yield WebSite(url, database_url, fresh(), mailbox, run)
    finally:
        smtp.stop()
        drop_database(admin_url, database_url)


def register_people(site: WebSite, engagement_id: str, plan: Plan) -> None:
    """Put the plan's people in the people register (as starting the engagement does)."""

    async def action(services: Services) -> None:
        async with services.register() as register:
            await register.register(engagement_id, plan)

    site.run(action)
