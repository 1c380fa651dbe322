"""Temporal never sees personal data in clear: every payload is encrypted by the codec, search attributes
hold none, payload keys rotate without losing anything, and the codec server decodes for the web UI
(histories recorded in clear still replay: tests/workflows/test_replay.py uses the codec)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from workers.codec import ENCODING, EncryptionCodec, PayloadKeyMissing
from workers.codec_server import make_server
from workers.keys import new_key_text
from workflows import messages as m
from workflows.engagement import EngagementWorkflow

from .conftest import example_plan, start_engagement, wait_until_started

REASON = "My neighbour Mrs Adeyemi at flat 4 was not told about the meeting."
TOKEN = "a-codec-token-of-at-least-32-characters"  # the codec server refuses shorter ones


def _key() -> bytes:
    return base64.b64decode(new_key_text())


async def test_the_history_search_attributes_and_results_hold_no_personal_text(dev_client: Client) -> None:
    plan = example_plan()
    handle = await start_engagement(dev_client, "private-1", plan, search_attributes=True)
    await wait_until_started(handle)
    await handle.execute_update(EngagementWorkflow.pause, m.Pause(by="f01", reason=REASON), id="pause-1")
    await handle.execute_update(
        EngagementWorkflow.resume, m.Resume(by="f01", reason="Back after " + REASON), id="resume-1"
    )
    history = await handle.fetch_history()
    raw = history.to_json()  # payload bytes appear base64 in JSON: look at the protobuf's bytes too
    wire = b"".join(event.SerializeToString() for event in history.events)
    names = [p.display_name for p in plan.people]
    for text in (REASON, *names):
        assert text.encode() not in wire, text
        assert text not in raw, text
    # every payload in the history is encrypted: none is left in the pydantic converter's JSON
    # Every payload of ours is encrypted but the results and status marked public (ids, event types, no
    # text). Left in JSON besides are the search attributes (never personal) and the SDK's bookkeeping in
    # markers (patch ids).
    bookkeeping = (
        EventType.EVENT_TYPE_MARKER_RECORDED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    )
    public = (EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,)  # results: event types, positions
    plain = [e.event_type for e in history.events if b"json/plain" in e.SerializeToString()]
    assert ENCODING in wire and set(plain) <= {*bookkeeping, *public}, plain
    # what each append was asked to write, and what it answered, are encrypted
    appends = [
        payload
        for e in history.events
        for payload in (
            *e.activity_task_scheduled_event_attributes.input.payloads,
            *e.activity_task_completed_event_attributes.result.payloads,
        )
    ]
    assert appends and all(p.metadata["encoding"] == ENCODING for p in appends)
    described = await handle.describe()
    attributes = json.dumps({k.name: str(v) for k, v in described.typed_search_attributes})
    for text in (REASON, *names):
        assert text not in attributes
    # the client with the keys reads it all back; the workflow's plan names people by id only
    status = await handle.query(EngagementWorkflow.status)
    assert status.status == "active"
    assert [p.display_name for p in status.state.require_plan().people] == [p.id for p in plan.people]


async def test_payload_keys_rotate_and_plain_payloads_pass_through() -> None:
    old, new = _key(), _key()
    before = EncryptionCodec({"k1": old})
    after = EncryptionCodec({"k2": new, "k1": old})  # the new key first: it encrypts; k1 still decrypts
    plain = pydantic_data_converter.payload_converter.to_payloads([{"reason": REASON}])[0]
    written_before = (await before.encode([plain]))[0]
    assert written_before.metadata["encryption-key-id"] == b"k1"
    assert REASON.encode() not in written_before.SerializeToString()
    assert (await after.decode([written_before]))[0] == plain
    written_after = (await after.encode([plain]))[0]
    assert written_after.metadata["encryption-key-id"] == b"k2"
    assert (await after.decode([written_after]))[0] == plain
    assert (await after.decode([plain]))[0] == plain  # unencrypted (stock CLI, old histories): as it is
    with pytest.raises(PayloadKeyMissing, match="key id 'k2'"):
        await before.decode([written_after])
    tampered = Payload(metadata=dict(written_after.metadata), data=written_after.data[:-1] + b"x")
    with pytest.raises(PayloadKeyMissing, match="does not open"):
        await after.decode([tampered])


def test_the_codec_server_decodes_for_the_web_ui_only_with_the_token() -> None:
    codec = EncryptionCodec({"k1": _key()})
    server = make_server(codec, "127.0.0.1", 0, origins=["http://localhost:8233"], token=TOKEN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"reason": REASON}).encode())
        sealed = codec.encrypt(plain)
        body = json_format.MessageToJson(Payloads(payloads=[sealed])).encode()

        def post(token: str | None) -> tuple[int, bytes, str | None]:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/decode", data=body, method="POST")
            request.add_header("Content-Type", "application/json")
            request.add_header("Origin", "http://localhost:8233")
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return (
                        response.status,
                        response.read(),
                        response.headers.get("Access-Control-Allow-Origin"),
                    )
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read(), None

        for wrong in (None, TOKEN[:-1], TOKEN + "x"):
            status, answer, _ = post(wrong)
            assert status == 401 and REASON.encode() not in answer
        status, answer, origin = post(TOKEN)
        assert status == 200 and origin == "http://localhost:8233"
        decoded = json_format.Parse(answer, Payloads()).payloads[0]
        assert json.loads(decoded.data) == {"reason": REASON}
    finally:
        server.shutdown()
        server.server_close()
