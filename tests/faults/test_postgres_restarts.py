"""PostgreSQL stopped and started again mid-run, cleanly and as a crash: appends retry until it is back,
nothing is lost or written twice, and the log stays gapless and verifiable."""

from __future__ import annotations

import time
from functools import partial

import pytest

from .harness import Driver, Stack, check_engagements, drive_under_faults, restart_postgres, seeded


@pytest.mark.timeout(400)
async def test_postgres_stopped_and_restarted_mid_run(stack: Stack) -> None:
    started = time.monotonic()
    rng = seeded(stack)
    drivers = [Driver(stack, f"pg-{n}") for n in range(4)]
    for driver in drivers:
        await stack.start_engagement(driver.engagement_id)
    faults = [
        partial(restart_postgres, mode="fast", outage=rng.uniform(1, 4)),
        partial(restart_postgres, mode="immediate", outage=rng.uniform(1, 4)),
    ]
    await drive_under_faults(stack, drivers, faults, rng)
    await check_engagements(stack, drivers, "PostgreSQL stopped and restarted", started)
