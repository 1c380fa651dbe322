"""`coproduce codec-server` decrypts Temporal payloads (personal data) only for the holder of its token, and
cannot be run without one: COPRODUCE_CODEC_TOKEN (at least 32 characters), else a token it makes in
<state dir>/keys/codec-server.token (mode 0600), the one `coproduce up` uses too.

A real subprocess, attacked over HTTP the way any process on the machine could.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from tests.session_keys import SESSION_KEYS
from workers.codec import codec
from workers.keys import codec_token
from workers.settings import Settings

COPRODUCE = [sys.executable, "-m", "coproduce"]
REASON = "My son's school does not know about his diagnosis."


def environment(state_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_") or k in SESSION_KEYS}
    return {**env, "COPRODUCE_STATE_DIR": str(state_dir), **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def codec_server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [*COPRODUCE, "codec-server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the codec server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def post(url: str, body: bytes, authorization: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def bodies() -> tuple[bytes, bytes]:
    """A sealed payload to decode, and a plain one to encode."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"reason": REASON}).encode())
    sealed = codec(Settings()).encrypt(plain)
    return (
        json_format.MessageToJson(Payloads(payloads=[sealed])).encode(),
        json_format.MessageToJson(Payloads(payloads=[plain])).encode(),
    )


def test_without_a_token_set_it_makes_one_and_answers_only_its_holder(tmp_path: Path) -> None:
    sealed, plain = bodies()
    with codec_server(environment(tmp_path)) as endpoint:
        file = tmp_path / "keys" / "codec-server.token"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        token = file.read_text().strip()
        assert len(token) >= 32
        assert codec_token(Settings(state_dir=tmp_path)) == token  # what `coproduce up` serves with

        wrong = (None, "", "Bearer", "Bearer ", f"Bearer {token[:-1]}", f"Bearer {token}x", token,
                 f"Basic {token}", f"bearer {token}", f"Bearer  {token}", "Bearer " + "A" * len(token))  # fmt: skip
        for authorization in wrong:
            for path, body in (("decode", sealed), ("encode", plain)):
                status, answer = post(f"{endpoint}/{path}", body, authorization)
                assert status == 401 and REASON.encode() not in answer, (path, authorization)
                assert b"reason" not in answer  # neither decrypted nor encrypted for them

        status, answer = post(f"{endpoint}/decode", sealed, f"Bearer {token}")
        assert status == 200
        [opened] = json_format.Parse(answer, Payloads()).payloads
        assert json.loads(opened.data) == {"reason": REASON}
        status, answer = post(f"{endpoint}/encode", plain, f"Bearer {token}")
        assert status == 200 and REASON.encode() not in answer

    with codec_server(environment(tmp_path)) as endpoint:  # the next start reuses the same token
        assert post(f"{endpoint}/decode", sealed, f"Bearer {token}")[0] == 200


def test_a_token_from_the_setting_is_used_and_no_file_is_made(tmp_path: Path) -> None:
    sealed, _ = bodies()
    token = "x" * 20 + "-a-long-enough-secret"
    with codec_server(environment(tmp_path, COPRODUCE_CODEC_TOKEN=token)) as endpoint:
        assert post(f"{endpoint}/decode", sealed, f"Bearer {token}")[0] == 200
        assert post(f"{endpoint}/decode", sealed, None)[0] == 401
    assert not (tmp_path / "keys" / "codec-server.token").exists()


def test_it_refuses_to_run_with_a_short_or_empty_token(tmp_path: Path) -> None:
    (tmp_path / "file").mkdir()
    (tmp_path / "file" / "keys").mkdir(mode=0o700)
    (tmp_path / "file" / "keys" / "codec-server.token").write_text("short\n")
    for env, words in (
        (environment(tmp_path, COPRODUCE_CODEC_TOKEN="s3cret"), "COPRODUCE_CODEC_TOKEN must be at least 32"),
        (environment(tmp_path, COPRODUCE_CODEC_TOKEN=""), "COPRODUCE_CODEC_TOKEN must be at least 32"),
        (environment(tmp_path / "file"), "codec-server.token must be at least 32"),
    ):
        refused = subprocess.run(
            [*COPRODUCE, "codec-server", "--port", str(free_port())],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        message = refused.stderr.strip()
        assert refused.returncode == 1 and message.startswith("error: ") and words in message, message
        assert "\n" not in message and "codec server on" not in refused.stdout
