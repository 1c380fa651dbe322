"""Serving the web app with uvicorn: inside ``coproduce up`` on one machine, or alone (``coproduce web``)
behind a TLS-terminating proxy in a deployment."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import uvicorn

from workers.services import services_from_settings
from workers.settings import Settings

from .app import create_app


def bind_of(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


async def serve_web(settings: Settings, web_url: str, stop: asyncio.Event, bind: str | None = None) -> None:
    """Serve the web app for ``settings`` at ``bind`` (default: the port of ``web_url`` on 127.0.0.1)
    until ``stop`` is set."""
    services = services_from_settings(settings)
    services.web_url = web_url
    if bind is None:
        parts = urlsplit(web_url)
        host, port = "127.0.0.1", parts.port or 80
    else:
        host, port = bind_of(bind)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services), host=host, port=port, log_config=None, access_log=False,
            proxy_headers=True, server_header=False,
        )
    )  # fmt: skip
    # In a thread of its own, with its own event loop: uvicorn then leaves the process's signal handling
    # (Ctrl-C, SIGTERM) to the stack, which stops everything in order.
    serving = asyncio.create_task(asyncio.to_thread(server.run))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
    stopping.cancel()
