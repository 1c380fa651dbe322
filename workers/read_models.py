"""The read models a worker keeps beside the log while it serves workflows.

Each is a catch-up subscription (``application.projections``): the facilitator's portfolio, and the
notices that events imply (with their delivery by mail). They run in every worker; two copies of one
subscription take turns on its checkpoint's row lock, so running several workers is safe. A failure
(the database restarting, say) is logged and the read model tries again after a pause: it never takes
the worker's workflows down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from application import portfolio
from application.notices import delivery, outbox
from application.services import Services

log = structlog.get_logger(__name__)
RETRY_AFTER = 5.0  # seconds before a read model that failed starts again


async def keep_read_models(services: Services, stop: asyncio.Event) -> None:
    """Keep every read model up to date until ``stop`` is set."""
    keepers: dict[str, Callable[[Services, asyncio.Event], Awaitable[None]]] = {
        "portfolio": portfolio.keep_up,
        "notices": outbox.keep_up,
        "notice delivery": delivery.keep_delivering,
    }
    await asyncio.gather(*(_kept(name, keep, services, stop) for name, keep in keepers.items()))


async def _kept(
    name: str,
    keep: Callable[[Services, asyncio.Event], Awaitable[None]],
    services: Services,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        try:
            await keep(services, stop)
        except Exception as exc:  # a read model must never take the worker down
            log.warning(
                "a read model stopped; starting it again shortly", read_model=name, error=str(exc)[:200]
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RETRY_AFTER)
