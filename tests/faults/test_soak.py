"""The long variant (``make soak``): more engagements, every kind of fault, mixed in a random order."""

from __future__ import annotations

import signal
import time
from functools import partial

import pytest

from .harness import (
    Driver,
    Stack,
    check_engagements,
    drive_under_faults,
    figures_if_wedged,
    kill_worker,
    restart_postgres,
    restart_temporal,
    seeded,
)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_every_kind_of_fault_mixed(stack: Stack) -> None:
    started = time.monotonic()
    rng = seeded(stack)
    drivers = [Driver(stack, f"soak-{n}") for n in range(8)]
    for driver in drivers:
        await stack.start_engagement(driver.engagement_id)
    faults = [kill_worker] * 6 + [
        partial(restart_postgres, mode="fast", outage=rng.uniform(1, 5)),
        partial(restart_postgres, mode="immediate", outage=rng.uniform(1, 5)),
        partial(restart_temporal, sig=signal.SIGTERM, outage=rng.uniform(1, 5)),
        partial(restart_temporal, sig=signal.SIGKILL, outage=rng.uniform(1, 5)),
    ]
    rng.shuffle(faults)
    name = "every kind of fault, mixed (soak)"
    async with figures_if_wedged(stack, drivers, name, started):
        await drive_under_faults(stack, drivers, faults, rng, think=1.0)
    await check_engagements(stack, drivers, name, started)
