"""The stack's codec server decrypts Temporal payloads (which hold personal data) only for a caller who
holds its token: any process on the machine can reach its port, so the port alone proves nothing.

Against the session's ``coproduce up`` stack; the token is in its 0600 stack.json, never in `up --json`.
"""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from unittest.mock import patch

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from coproduce.cli.stack_commands import described
from tests.bad_inputs.stack import Stack, shared_stack
from workers.codec import codec
from workers.running import StackInfo
from workers.settings import Settings

REASON = "My neighbour's flat floods every winter."


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(tmp_path_factory) as running:
        yield running


def decode(endpoint: str, body: bytes, authorization: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{endpoint}/decode", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_codec_server_decodes_only_for_the_holder_of_its_token(stack: Stack) -> None:
    info = stack.info()
    endpoint, token = str(info["codec_endpoint"]), str(info["codec_token"])
    assert len(token) >= 40
    assert stat.S_IMODE((stack.state_dir / "stack.json").stat().st_mode) == 0o600
    # The token of `coproduce codec-server` too: the 0600 key file in the state directory, made once.
    token_file = stack.state_dir / "keys" / "codec-server.token"
    assert token_file.read_text().strip() == token and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    running = StackInfo(**info)  # type: ignore[arg-type]
    with patch("coproduce.cli.stack_commands.settings", lambda: Settings(state_dir=stack.state_dir)):
        assert token not in json.dumps(described(running))  # `up --json` shows where, never the token
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"reason": REASON}).encode())
    sealed = codec(Settings(state_dir=stack.state_dir)).encrypt(plain)
    body = json_format.MessageToJson(Payloads(payloads=[sealed])).encode()

    for authorization in (None, "Bearer ", "Bearer wrong-token", token, f"Basic {token}"):
        status, answer = decode(endpoint, body, authorization)
        assert status == 401 and REASON.encode() not in answer, authorization
    status, answer = decode(endpoint, body, f"Bearer {token}")
    assert status == 200
    [opened] = json_format.Parse(answer, Payloads()).payloads
    assert json.loads(opened.data) == {"reason": REASON}
