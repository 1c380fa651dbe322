"""Group commit: appends made while a commit is in flight share the next one, and each is still gapless,
version-checked, idempotent and durable before it returns; one refused append fails alone.

Of appends started together (``asyncio.gather``), the first finds nothing in flight and commits alone
at once; the others queue behind it and reach the database as one group when it returns.
``log.committer.stats`` says how many commits they took.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import psycopg

from eventlog import AppendResult, ConcurrencyError, DuplicateEventError, EventLog, verify_database

from .helpers import event


async def _positions(log: EventLog) -> list[tuple[int, str, int]]:
    return [(e.position, e.stream_id, e.stream_version) for e in await log.read_batch(0, 10_000)]


async def test_many_writers_on_many_streams_share_commits_and_land_gapless(
    log: EventLog, database_url: str
) -> None:
    streams, rounds = 24, 8

    async def writer(s: int) -> list[AppendResult]:
        results, version = [], 0
        for n in range(rounds):
            events = [event(n)] if n % 3 else [event(n), event(n + 100)]  # some batches too
            results.append(await log.append(f"engagement-{s}", events, expected_version=version))
            version += len(events)
        return results

    results = await asyncio.gather(*(writer(s) for s in range(streams)))

    stats = log.committer.stats
    appends = streams * rounds
    assert stats.appends == appends and stats.largest_group > 1
    assert stats.commits < appends / 4, "concurrent appends must share commits"
    rows = await _positions(log)
    assert [position for position, _, _ in rows] == list(range(1, len(rows) + 1))  # gapless, in order
    for s in range(streams):  # each stream's versions count up without gaps, in its own order
        versions = [version for _, stream, version in rows if stream == f"engagement-{s}"]
        assert versions == list(range(1, len(versions) + 1))
        returned = [p for result in results[s] for p in result.positions]
        assert returned == [p for p, stream, _ in rows if stream == f"engagement-{s}"]
    assert not any(r.duplicate for rs in results for r in rs)
    report = await verify_database(database_url)
    assert report.ok, report.summary()


async def test_a_lone_append_commits_at_once_on_its_own(log: EventLog) -> None:
    for version in range(5):
        await log.append("alone", [event(version)], expected_version=version)
    assert log.committer.stats.commits == 5 and log.committer.stats.largest_group == 1


async def test_a_version_conflict_in_a_group_fails_only_that_append(log: EventLog, database_url: str) -> None:
    await log.append("contested", [event(0)], expected_version=0)

    results = await asyncio.gather(
        log.append("a", [event(1)], expected_version=0),  # alone; the others queue behind it
        log.append("contested", [event(2)], expected_version=0),  # stale: the stream is at 1
        log.append("b", [event(3), event(4)], expected_version=0),
        log.append("twice", [event(5)], expected_version=0),
        log.append("twice", [event(6)], expected_version=0),  # the one before it in the group won
        log.append("c", [event(7)], expected_version=None),
        return_exceptions=True,
    )

    assert log.committer.stats.largest_group == 5
    a, contested, b, twice_first, twice_second, c = results
    assert isinstance(contested, ConcurrencyError)
    assert (contested.stream_id, contested.expected, contested.actual) == ("contested", 0, 1)
    assert isinstance(twice_second, ConcurrencyError) and twice_second.actual == 1
    # the others committed, in the group's order, with no position burnt by the refused ones
    assert [r.positions for r in (a, b, twice_first, c)] == [(2,), (3, 4), (5,), (6,)]  # type: ignore[union-attr]
    assert (await log.head())[0] == 6
    assert [e.stream_id for e in await log.read_batch(0, 100)] == ["contested", "a", "b", "b", "twice", "c"]
    assert (await verify_database(database_url)).ok


async def test_an_idempotent_retry_inside_a_group_answers_as_the_first_did(log: EventLog) -> None:
    stored = event(1)
    first = await log.append("s", [stored], expected_version=0)
    fresh, batch = event(2), [event(3), event(4)]

    results = await asyncio.gather(
        log.append("lead", [event(9)], expected_version=0),  # alone; the others queue behind it
        log.append("s", [stored], expected_version=0),  # a retry of a stored append, its version stale
        log.append("t", [fresh], expected_version=0),
        log.append("t", [fresh], expected_version=0),  # the same append twice in one group
        log.append("u", batch, expected_version=0),
        log.append("u", batch, expected_version=0),
        log.append("v", [replace(stored, payload={"other": True})], expected_version=0),  # id reused
        return_exceptions=True,
    )

    assert log.committer.stats.largest_group == 6
    lead, retry, t_first, t_again, u_first, u_again, reused = results
    assert lead == AppendResult(positions=(2,), stream_version=1, duplicate=False)
    assert retry == replace(first, duplicate=True)
    assert t_first == AppendResult(positions=(3,), stream_version=1, duplicate=False)
    assert t_again == replace(t_first, duplicate=True)  # type: ignore[type-var]
    assert u_first == AppendResult(positions=(4, 5), stream_version=2, duplicate=False)
    assert u_again == replace(u_first, duplicate=True)  # type: ignore[type-var]
    assert isinstance(reused, DuplicateEventError)
    assert (await log.head())[0] == 5  # each event once, no position burnt


async def test_a_connection_lost_mid_group_loses_nothing_and_duplicates_nothing(
    log: EventLog, database_url: str
) -> None:
    # Some appends already committed once, their answer lost (the caller retries them in the group).
    earlier = [(f"engagement-{s}", event(s)) for s in range(3)]
    for stream, e in earlier:
        await log.append(stream, [e], expected_version=0)
    later = [(f"engagement-{s}", event(s)) for s in range(3, 12)]

    async with (
        await psycopg.AsyncConnection.connect(database_url) as holder,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watcher,
    ):
        # Hold the log's lock, so that the group waits inside its statement; then cut its connection.
        await holder.execute("SELECT 1 FROM eventlog.append_lock FOR UPDATE")
        appends = asyncio.gather(
            log.append("nothing", []),  # goes first, alone, and is refused before it needs the lock
            *(log.append(stream, [e], expected_version=0) for stream, e in later + earlier),
            return_exceptions=True,
        )
        victim = None
        for _ in range(400):  # polled in autocommit: a transaction sees one snapshot of pg_stat_activity
            row = await (
                await watcher.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE query LIKE '%%eventlog.append_group%%' AND wait_event_type = 'Lock'"
                )
            ).fetchone()
            if row:
                victim = row[0]
                break
            await asyncio.sleep(0.02)
        assert victim is not None, "the group never waited for the lock"
        await watcher.execute("SELECT pg_terminate_backend(%s, 5000)", (victim,))
        await holder.rollback()  # let the group's second attempt through
        refused, *results = await asyncio.wait_for(appends, timeout=10)

    assert isinstance(refused, psycopg.errors.InvalidParameterValue)
    assert log.committer.stats.retries == 1 and log.committer.stats.largest_group == 12
    assert [r.duplicate for r in results] == [False] * 9 + [True] * 3
    assert [r.positions for r in results] == [(p,) for p in range(4, 13)] + [(1,), (2,), (3,)]
    rows = await _positions(log)
    assert rows == [(p, f"engagement-{p - 1}", 1) for p in range(1, 13)]  # each event once, gapless
    assert (await verify_database(database_url)).ok


async def test_a_group_refused_as_a_whole_fails_each_of_its_appends_and_keeps_none(
    log: EventLog, database_url: str
) -> None:
    await log.append("first", [event(0)], expected_version=0)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute("REVOKE EXECUTE ON FUNCTION eventlog.append_group FROM coproduce_writer")

    results = await asyncio.gather(
        *(log.append(f"s-{n}", [event(n)], expected_version=0) for n in range(1, 5)), return_exceptions=True
    )

    alone, *grouped = results
    assert alone == AppendResult(positions=(2,), stream_version=1, duplicate=False)  # needs no append_group
    assert all(isinstance(r, psycopg.errors.InsufficientPrivilege) for r in grouped), grouped
    assert (await log.head())[0] == 2
