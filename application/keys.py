"""Use cases for the master key: which key wraps how many data keys, and rotating it.

``rotate_master`` re-wraps every data key of the people register under the installation's current
master key (``application.privacy.rotation``), opening each with the key that wraps it now (one of the
previous master keys). The event log is not touched. ``key_status`` says where a rotation stands.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import UserError
from .privacy import rotation
from .privacy.master_keys import MasterKeys
from .privacy.rotation import KeyStatus, Rotation
from .services import Services

MAX_BATCH = 100_000
MAX_PAUSE = 3600.0


def _ring(services: Services) -> MasterKeys:
    ring = services.master_key()
    if ring is None:
        raise UserError(
            "this machine has no master key: set COPRODUCE_MASTER_KEY (or the key file master.key in the "
            "state directory's keys folder) to the new key, and COPRODUCE_PREVIOUS_MASTER_KEYS to the old one"
        )
    return ring


async def key_status(services: Services) -> KeyStatus:
    """Which master key wraps how many data keys (by public key id), as this process's keys see it."""
    ring = _ring(services)
    async with services.writer_log() as log:
        return await rotation.status(log.pool, ring)


async def rotate_master(
    services: Services,
    *,
    batch_size: int = 500,
    pause: float = 0.0,
    on_batch: Callable[[Rotation, int], None] | None = None,
) -> tuple[Rotation, KeyStatus]:
    """Re-wrap every data key under the current master key, ``batch_size`` per transaction with
    ``pause`` seconds between batches; continues a rotation to the same key cut short before. Returns
    the rotation and the status after it."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise UserError(f"--batch-size must be between 1 and {MAX_BATCH:,}, not {batch_size}")
    if not 0 <= pause <= MAX_PAUSE:
        raise UserError(f"--pause must be between 0 and {MAX_PAUSE:.0f} seconds, not {pause}")
    ring = _ring(services)
    async with services.writer_log() as log:
        done = await rotation.rotate(log.pool, ring, batch_size=batch_size, pause=pause, on_batch=on_batch)
        return done, await rotation.status(log.pool, ring)
