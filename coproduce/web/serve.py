"""Serving the web app with uvicorn: inside ``coproduce up`` on one machine, or alone (``coproduce web``)
behind a TLS-terminating proxy in a deployment.

Which client a request came from matters: failed sign-ins are counted per network address. Behind a
proxy every request comes from the proxy, and only the proxy knows the client (``X-Forwarded-For``),
but anyone can send that header. So it is believed only from the proxies listed in
``COPRODUCE_WEB_TRUSTED_PROXIES``; with none listed (the default) it is ignored."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

import psycopg
import uvicorn

from application.errors import UserError
from workers.services import services_from_settings
from workers.settings import Settings

from .app import create_app


def bind_of(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def trusted_proxies(settings: Settings) -> list[str]:
    """The addresses and networks of COPRODUCE_WEB_TRUSTED_PROXIES (``*``: any, for a server only its
    proxy can reach); a name that is neither is refused, since it would quietly match nothing."""
    listed = [item.strip() for item in (settings.web_trusted_proxies or "").split(",") if item.strip()]
    for item in listed:
        try:
            if item != "*":
                ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise UserError(
                f"COPRODUCE_WEB_TRUSTED_PROXIES lists '{item}', which is not an IP address or network; "
                "list the proxies' addresses, like 10.0.0.5,10.0.1.0/24"
            ) from None
    return listed


async def serve_web(settings: Settings, web_url: str, stop: asyncio.Event, bind: str | None = None) -> None:
    """Serve the web app for ``settings`` at ``bind`` (default: the port of ``web_url`` on 127.0.0.1)
    until ``stop`` is set."""
    proxies = trusted_proxies(settings)
    services = services_from_settings(settings)
    services.web_url = web_url
    # Say so at once, in one sentence, when PostgreSQL does not answer (not after uvicorn's 30 s wait).
    async with await psycopg.AsyncConnection.connect(services.database_url(), connect_timeout=10):
        pass
    if bind is None:
        parts = urlsplit(web_url)
        host, port = "127.0.0.1", parts.port or 80
    else:
        host, port = bind_of(bind)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services), host=host, port=port, log_config=None, access_log=False,
            proxy_headers=bool(proxies), forwarded_allow_ips=proxies, server_header=False,
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
