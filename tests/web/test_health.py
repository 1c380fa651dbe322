"""``/healthz``, what a load balancer or a Kubernetes probe asks: ``ok`` while the event log's PostgreSQL
answers, 503 and one sentence while it does not, and back to ``ok`` when it answers again. It never
makes a session or sets a cookie, says nothing about anyone, and carries the same security headers as
every page. Served by uvicorn against the tests' real PostgreSQL; "not answering" is a port where
nothing listens."""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from coproduce.web.app import create_app
from eventlog import Signer
from tests.web.conftest import WebSite, free_port, services_for, serving
from workers.database import create_database, drop_database

SECURITY_HEADERS = {
    "content-security-policy", "x-content-type-options", "referrer-policy", "permissions-policy",
    "cross-origin-opener-policy",
}  # fmt: skip


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


def get(url: str, path: str = "/healthz") -> Answer:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=15)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        )
    finally:
        conn.close()


def test_healthz_says_ok_while_the_database_answers(web_site: WebSite) -> None:
    answer = get(web_site.url)
    assert (answer.status, answer.body) == (200, "ok")
    assert answer.headers["content-type"].startswith("text/plain")
    assert "set-cookie" not in answer.headers  # a probe every few seconds makes no sessions
    assert answer.headers["cache-control"] == "no-store"
    assert set(answer.headers) >= SECURITY_HEADERS
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    page = get(web_site.url, "/sign-in")  # the pages themselves still make one
    assert page.status == 200 and "set-cookie" in page.headers


@dataclass
class Switchable:
    """A web app started on a working database, whose database URL a test can point elsewhere."""

    url: str
    database_url: str

    def point_at(self, database_url: str) -> None:
        self.database_url = database_url


@pytest.fixture
def switchable(admin_url: str, migrated_template: str) -> Iterator[Switchable]:
    working = create_database(admin_url, template=migrated_template, prefix="web")
    port = free_port()
    site = Switchable(f"http://localhost:{port}", working)
    services = services_for(working, site.url, None, os.urandom(32), Signer.generate("tests/web"))
    services.database_url = lambda: site.database_url
    try:
        with serving(create_app(services), port):
            yield site
    finally:
        drop_database(admin_url, working)


def test_healthz_answers_503_in_one_sentence_while_the_database_does_not(switchable: Switchable) -> None:
    working = switchable.database_url
    assert get(switchable.url).status == 200

    closed = free_port()  # nothing listens there
    switchable.point_at(f"postgresql://coproduce_writer:s3cret-password@127.0.0.1:{closed}/coproduce")
    started = time.monotonic()
    answer = get(switchable.url)
    assert time.monotonic() - started < 10  # a probe gets its answer, not a hang
    assert answer.status == 503
    assert answer.body == "The database is not answering, so this server cannot show or record anything now."
    assert str(closed) not in answer.body and "s3cret" not in answer.body  # nothing about the set-up
    assert "set-cookie" not in answer.headers and answer.headers["cache-control"] == "no-store"
    assert set(answer.headers) >= SECURITY_HEADERS

    switchable.point_at(working)  # the database is back: so is the server, without a restart
    again = get(switchable.url)
    assert (again.status, again.body) == (200, "ok")
