"""Benchmark: what keeping personal data out of sight costs, against the work it rides on, in one run.

Run from the repository root: `python -m bench.privacy [--events N] [--repeat N] [--lookups N]`.

- **sealing**: `seal` of an event payload that holds personal text (a vote's reason, an assessment's four
  findings), against `canonical_json` of the same payload, which every append does anyway;
  `seal_ratio` = canonical / (canonical + seal), the share of the append's encoding work left;
- **opening**: `open_sealed` of the sealed payloads against `json.loads` of them (what a reader does
  anyway); `open_ratio` the same way;
- **payload encryption**: the Temporal codec's `encode` + `decode` of an append's input (five events)
  against the pydantic payload converter's `to_payloads` + `from_payloads` of it; `codec_ratio`;
- **key lookup**: `PeopleRegister.keys_for` of one person (one query and one unwrap; the append pays it
  only when an event holds personal text) against a bare `SELECT 1` round trip on the same pool, on
  the embedded PostgreSQL (or `COPRODUCE_DATABASE_URL`): milliseconds each.

Each figure is the best of `--repeat` runs. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter

from application.privacy.register import PeopleRegister
from application.privacy.sealing import new_data_key, open_sealed, owners, seal
from eventlog import EventLog
from eventlog.canonical import canonical_json
from workers.codec import EncryptionCodec
from workers.database import scratch_database
from workers.embedded_postgres import EmbeddedPostgres
from workflows.contracts import AppendEvents, EventToAppend

REASON = "The revised terms of reference still leave tenants without a vote on repairs budgets."
FINDING = "A users' forum ran until 2021 and faded when its budget was cut; walkabouts with staff worked."


def payloads(count: int) -> list[tuple[str, dict[str, object], uuid.UUID]]:
    """Votes with reasons, and one assessment in ten: the events that carry personal text."""
    made: list[tuple[str, dict[str, object], uuid.UUID]] = []
    for i in range(count):
        if i % 10 == 9:
            body: dict[str, object] = {
                "recorded_by": "f01", "past_co_production": FINDING, "what_worked": FINDING,
                "what_did_not_work": FINDING, "approach_to_change": FINDING, "respondents": 12,
                "occurred_at": "2027-03-19T10:00:00Z",
            }  # fmt: skip
            made.append(("assessment_recorded", body, uuid.uuid4()))
        else:
            body = {"person_id": f"p{i % 40:02d}", "phase_id": "training", "round": 1, "choice": "object",
                    "reason": f"{REASON} ({i})", "occurred_at": "2027-03-19T10:00:00Z"}  # fmt: skip
            made.append(("vote_cast", body, uuid.uuid4()))
    return made


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def measure_cpu(count: int, repeat: int) -> dict[str, float]:
    events = payloads(count)
    keys = {owner: new_data_key() for t, p, _ in events for owner in owners(t, p)}
    sealed = [(t, seal(t, p, e, keys), e) for t, p, e in events]
    sealed_json = [json.dumps(p) for _, p, _ in sealed]

    canonical = best(repeat, lambda: [canonical_json(p) for _, p, _ in events])
    sealing = best(repeat, lambda: [seal(t, p, e, keys) for t, p, e in events])
    parse = best(repeat, lambda: [json.loads(text) for text in sealed_json])
    opening = best(repeat, lambda: [open_sealed(t, p, e, keys) for t, p, e in sealed])

    codec = EncryptionCodec({"k1": secrets.token_bytes(32)})
    converter = pydantic_data_converter.payload_converter
    batches = [
        AppendEvents(
            stream_id="bench", expected_version=i * 5,
            events=[
                EventToAppend(event_id=e, type=t, schema_version=1, payload=p, occurred_at=datetime.now(UTC),
                            actor="p01", causation_id=f"u{i}", correlation_id="bench")
                for t, p, e in events[i * 5 : i * 5 + 5]
            ],
        )
        for i in range(count // 5)
    ]  # fmt: skip
    converted = [converter.to_payloads([b]) for b in batches]
    convert = best(
        repeat,
        lambda: [converter.from_payloads(converter.to_payloads([b]), [AppendEvents]) for b in batches],
    )

    def encrypt_both_ways() -> None:
        async def go() -> None:
            for payload in converted:
                await codec.decode(await codec.encode(payload))

        asyncio.run(go())

    encryption = best(repeat, encrypt_both_ways)
    return {
        "events": count,
        "canonical_us": canonical / count * 1e6,
        "seal_us": sealing / count * 1e6,
        "seal_ratio": canonical / (canonical + sealing),
        "json_loads_us": parse / count * 1e6,
        "open_us": opening / count * 1e6,
        "open_ratio": parse / (parse + opening),
        "convert_us_per_append": convert / len(batches) * 1e6,
        "codec_us_per_append": encryption / len(batches) * 1e6,
        "codec_ratio": convert / (convert + encryption),
    }


async def measure_lookups(url: str, lookups: int) -> dict[str, float]:
    log = await EventLog.open(url, min_size=1, max_size=1)
    try:
        register = PeopleRegister(log.pool, secrets.token_bytes(32))
        await register.keys_for("bench", {"p01"})  # made once, as on an engagement's first text
        started = time.perf_counter()
        for _ in range(lookups):
            async with log.pool.connection() as conn:
                await conn.execute("SELECT 1")
        bare = (time.perf_counter() - started) / lookups
        started = time.perf_counter()
        for _ in range(lookups):
            await register.keys_for("bench", {"p01"})
        lookup = (time.perf_counter() - started) / lookups
    finally:
        await log.close()
    return {"select_1_ms": bare * 1000, "key_lookup_ms": lookup * 1000, "lookups": lookups}


def admin_server(scratch: Path) -> tuple[str, EmbeddedPostgres | None]:
    """An administrator's URL: ``COPRODUCE_DATABASE_URL``, else an embedded server started in ``scratch``."""
    admin = os.environ.get("COPRODUCE_DATABASE_URL")
    if admin:
        return admin, None
    server = EmbeddedPostgres(scratch / "postgres", fsync=True)
    server.ensure_started()
    return server.url(), server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    result: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cpus"}
    result |= measure_cpu(args.events, args.repeat)
    with tempfile.TemporaryDirectory() as scratch:
        admin, server = admin_server(Path(scratch))
        try:
            with scratch_database(admin, migrated=True, prefix="bench_privacy") as url:
                result |= asyncio.run(measure_lookups(url, args.lookups))
        finally:
            if server is not None:
                server.stop()
    for key, value in result.items():
        print(f"{key:>24}: {value:.3f}" if isinstance(value, float) else f"{key:>24}: {value}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
