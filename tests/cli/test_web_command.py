"""`coproduce web` as a deployment runs it: a real subprocess against the tests' PostgreSQL.

- Listening beyond this machine needs the public address (COPRODUCE_WEB_URL): sign-in links and
  passkeys are made for it, so without it the command refuses in one sentence before it listens.
- Which client a request came from is what failed sign-ins are counted by. X-Forwarded-For is believed
  only from the proxies in COPRODUCE_WEB_TRUSTED_PROXIES (none by default), so a client cannot dodge
  the limit by naming a new address with each try; behind a trusted proxy, people are counted apart.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from application.identity.sign_in import ATTEMPTS_PER_ADDRESS, TOO_MANY
from tests.session_keys import SESSION_KEYS
from tests.web.conftest import free_port

COPRODUCE = [sys.executable, "-m", "coproduce"]
ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    return {**env, "COPRODUCE_STATE_DIR": str(tmp_path / "state"), "COPRODUCE_LOG_FORMAT": "json", **extra}


@pytest.mark.parametrize("how", ["--bind", "COPRODUCE_WEB_BIND"])
def test_web_refuses_to_listen_beyond_this_machine_without_its_public_address(
    tmp_path: Path, how: str
) -> None:
    port = free_port()
    args, extra = (["--bind", f"0.0.0.0:{port}"], {}) if how == "--bind" else ([], {how: f"0.0.0.0:{port}"})
    done = subprocess.run(
        [*COPRODUCE, "web", *args], env=environment(tmp_path, **extra), capture_output=True, text=True,
        cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()  # one sentence, no traceback
    assert line.startswith("error: the web app would listen on 0.0.0.0, beyond this machine")
    assert "COPRODUCE_WEB_URL is not set" in line and "https://" in line
    assert done.stdout == ""  # it never said it was serving


def test_web_refuses_a_trusted_proxy_that_is_not_an_address(tmp_path: Path) -> None:
    env = environment(tmp_path, COPRODUCE_WEB_TRUSTED_PROXIES="10.0.0.5, ingress-nginx")
    done = subprocess.run([*COPRODUCE, "web"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: COPRODUCE_WEB_TRUSTED_PROXIES lists 'ingress-nginx', which is not an IP address or network; "
        "list the proxies' addresses, like 10.0.0.5,10.0.1.0/24"
    )


class Web:
    """A running `coproduce web`, reached at 127.0.0.1:port."""

    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port, self.process = port, process
        self.last = ""  # the text of the last page asked for

    def request(
        self, method: str, path: str, body: str = "", **headers: str
    ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body.encode() or None, headers=headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        finally:
            conn.close()


@pytest.fixture
def start_web(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Web]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**settings: str) -> Web:
        port = free_port()
        env = environment(
            tmp_path, COPRODUCE_DATABASE_URL=database_url, COPRODUCE_SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
            **settings,
        )  # fmt: skip
        log = open(tmp_path / f"web-{port}.log", "wb")  # noqa: SIM115 - the process owns it until it ends
        process = subprocess.Popen([*COPRODUCE, "web", "--bind", f"0.0.0.0:{port}"], env=env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        started.append(process)
        web = Web(port, process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if web.request("GET", "/healthz")[0] == 200:
                    return web
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"coproduce web did not start: {(tmp_path / f'web-{port}.log').read_text()}")

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0  # stops cleanly when asked


def ask_for_links(web: Web, count: int, forwarded_for: list[str]) -> list[int]:
    """Ask for sign-in links ``count`` times in one browser session (each for another address, as
    someone guessing would), each request claiming to come from the next of ``forwarded_for``; the
    statuses (the last page's text is ``web.last``)."""
    status, headers, page = web.request("GET", "/sign-in")
    assert status == 200, page
    cookie = headers["set-cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    statuses = []
    for n in range(count):
        body = urlencode({"csrf_token": token, "email": f"nobody-{n}-{time.monotonic_ns()}@example.org"})
        status, _, web.last = web.request(
            "POST", "/sign-in/email", body, Cookie=cookie, **{"Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": forwarded_for[n % len(forwarded_for)]},
        )  # fmt: skip
        statuses.append(status)
    return statuses


def test_with_no_trusted_proxy_a_forwarded_address_does_not_dodge_the_sign_in_limit(
    start_web: Callable[..., Web],
) -> None:
    web = start_web(COPRODUCE_WEB_URL="https://votes.example.org")  # listening on 0.0.0.0: it has one
    claimed = [f"198.51.100.{n}" for n in range(1, ATTEMPTS_PER_ADDRESS + 2)]  # a new address every time
    statuses = ask_for_links(web, ATTEMPTS_PER_ADDRESS + 1, claimed)
    assert statuses[:ATTEMPTS_PER_ADDRESS] == [200] * ATTEMPTS_PER_ADDRESS
    assert statuses[-1] == 429 and TOO_MANY.split(".")[0] in web.last  # all counted as the one real client


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(start_web: Callable[..., Web]) -> None:
    web = start_web(COPRODUCE_WEB_URL="https://votes.example.org", COPRODUCE_WEB_TRUSTED_PROXIES="127.0.0.1")
    guesser = ask_for_links(web, ATTEMPTS_PER_ADDRESS + 1, ["203.0.113.7"])
    assert guesser[-1] == 429 and TOO_MANY.split(".")[0] in web.last
    # someone else behind the same proxy still gets a link
    assert ask_for_links(web, 1, ["203.0.113.8"]) == [200] and "too many" not in web.last.lower()


def test_web_says_at_once_when_postgresql_does_not_answer(tmp_path: Path) -> None:
    nowhere = f"postgresql://coproduce@127.0.0.1:{free_port()}/coproduce"
    started = time.monotonic()
    done = subprocess.run(
        [*COPRODUCE, "web", "--bind", f"127.0.0.1:{free_port()}"],
        env=environment(tmp_path, COPRODUCE_DATABASE_URL=nowhere), capture_output=True, text=True,
        cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()  # one sentence, no traceback
    assert line.startswith("error: cannot connect to PostgreSQL (")
    assert line.endswith("check COPRODUCE_DATABASE_URL or run `coproduce up`")
    assert time.monotonic() - started < 20  # not after the connection pool's 30 s
