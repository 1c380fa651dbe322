"""A codec server: ``POST /decode`` and ``POST /encode`` for the Temporal web UI and CLI.

Temporal's web UI (and ``temporal ... --codec-endpoint URL``) sends payloads as JSON,
``{"payloads": [{"metadata": {...base64...}, "data": "base64"}]}``, and shows what comes back. This
server decrypts them with the installation's payload keys (``workers.codec``), so people allowed to see
payloads can read them; everyone else sees ciphertext. It listens on this machine only unless told
otherwise, answers the browser's CORS preflight for the UI's origin, and answers ``/decode`` and
``/encode`` only to a caller who sends its bearer token (``Authorization: Bearer TOKEN``): there is no
way to run it without one (``workers.keys.codec_token`` says where the token comes from). The standard
library's threaded HTTP server is enough for the handful of people who use it.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from .codec import EncryptionCodec, PayloadKeyMissing

MAX_BODY = 16 * 1024 * 1024
MIN_TOKEN_CHARS = 32


def make_server(
    codec: EncryptionCodec, bind: str, port: int, *, origins: Sequence[str], token: str
) -> ThreadingHTTPServer:
    """A server ready to ``serve_forever`` (port 0 picks a free one: ``server.server_address``) that
    answers only to the holder of ``token`` (at least 32 characters: it guards personal data)."""
    if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the codec server's token must be at least {MIN_TOKEN_CHARS} characters")
    expected = f"Bearer {token}".encode()

    class Handler(BaseHTTPRequestHandler):
        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin and origin in origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self._cors()
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_OPTIONS(self) -> None:
            self._reply(200, b"", "text/plain")

        def do_POST(self) -> None:
            if self.path.rstrip("/").rsplit("/", 1)[-1] not in ("decode", "encode"):
                self._reply(404, b'{"message": "the codec server answers /decode and /encode"}')
                return
            given = self.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(given, expected):
                self._reply(401, b'{"message": "a valid bearer token is required"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, b'{"message": "too large"}')
                return
            try:
                payloads = json_format.Parse(self.rfile.read(length), Payloads())
                convert = codec.decrypt if self.path.rstrip("/").endswith("decode") else codec.encrypt
                result = Payloads(payloads=[convert(p) for p in payloads.payloads])
            except (json_format.ParseError, PayloadKeyMissing, ValueError) as exc:
                self._reply(400, str(exc).encode(), "text/plain")
                return
            self._reply(200, json_format.MessageToJson(result).encode())

        def log_message(self, format: str, *args: object) -> None:  # quiet: no payloads in logs
            pass

    return ThreadingHTTPServer((bind, port), Handler)


def serve(codec: EncryptionCodec, bind: str, port: int, *, origins: Sequence[str], token: str) -> None:
    """Serve until interrupted."""
    with make_server(codec, bind, port, origins=origins, token=token) as server:
        server.serve_forever()
