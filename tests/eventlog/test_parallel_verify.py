"""Verification in ranges on several processes says exactly what one pass says: the same size, Merkle
root, checkpoints, first failing position and foreign events, in the database and in an export."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog import EventLog, Signer, checkpoint_database, export_jsonl, verify_database, verify_jsonl
from eventlog.checkpoint import Checkpoint, sign_checkpoint
from eventlog.merkle import MerkleTree, leaf_hash
from eventlog.parallel import check_file_range, combine, file_ranges, ranges
from eventlog.verify import VerifyReport

from .helpers import event
from .test_verify import superuser_tamper

ORIGIN = "test.example/coproduce"
WRITER = Signer.generate("coproduce-test-writer")


def entries(count: int) -> list[bytes]:
    return [b'{"n":%d,"text":"line %d"}' % (n, n) for n in range(1, count + 1)]


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 130),
    chunk=st.sampled_from([1, 2, 4, 8, 16, 64]),
    wanted=st.lists(st.integers(0, 130), max_size=5),
)
def test_ranges_combine_to_the_roots_of_the_whole_tree(size: int, chunk: int, wanted: list[int]) -> None:
    """Every range checked on its own, then combined: the log's root, and the root at every size a
    checkpoint asks for, are the RFC 6962 roots of the whole tree."""
    lines = entries(size)
    sizes = sorted({w for w in wanted if w <= size})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        spans = file_ranges(path, size, chunk)
        assert [(s, e) for s, e, _ in spans] == ranges(size, chunk)
        outcomes = [
            check_file_range(str(path), s, e, offset, [x for x in sizes if s < x <= e], None)
            for s, e, offset in spans
        ]
    report = VerifyReport()
    roots = combine(outcomes, report, sizes, chunk)
    tree = MerkleTree([leaf_hash(line) for line in lines])
    assert report.ok and report.size == size
    assert report.root == tree.root()
    assert roots == {s: tree.root(s) for s in sizes}


def test_a_range_size_that_is_not_a_power_of_two_is_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        ranges(100, 48)


@pytest.fixture
async def forty_events(log: EventLog, database_url: str) -> str:
    for n in range(1, 41):
        await log.append(f"engagement-{n % 3}", [event(n, reason=f"reason {n}")], None)
    return database_url


async def both_ways(url: str, **options: object) -> tuple[VerifyReport, VerifyReport]:
    one = await verify_database(url, processes=1, **options)  # type: ignore[arg-type]
    many = await verify_database(url, processes=2, chunk=8, **options)  # type: ignore[arg-type]
    return one, many


def same(one: VerifyReport, many: VerifyReport) -> None:
    assert (many.ok, many.size, many.failed_position, many.problem) == (
        one.ok,
        one.size,
        one.failed_position,
        one.problem,
    )
    if one.ok:
        assert (many.root, many.chain_hash, many.checkpoints_checked) == (
            one.root,
            one.chain_hash,
            one.checkpoints_checked,
        )


async def test_an_untouched_log_verifies_the_same_in_ranges(forty_events: str) -> None:
    signer = Signer.generate("coproduce-test-log")
    _, note = await checkpoint_database(forty_events, signer, ORIGIN)
    assert note is not None
    options = {"notes": [note], "verifiers": [signer.verifier], "origin": ORIGIN}
    one, many = await both_ways(forty_events, **options)
    assert one.ok and one.size == 40 and one.checkpoints_checked == 2
    same(one, many)


async def test_a_changed_event_is_found_at_the_same_position_in_ranges(forty_events: str) -> None:
    superuser_tamper(
        forty_events,
        "UPDATE eventlog.events SET entry = convert_to(replace(convert_from(entry, 'UTF8'), 'reason 21', "
        "'reason 12'), 'UTF8') WHERE position = 21",
    )
    one, many = await both_ways(forty_events)
    assert one.failed_position == 21 and "altered" in (one.problem or "")
    same(one, many)


@pytest.mark.parametrize("removed", [8, 9, 17, 24])  # the last of a range, the first of one, inside
async def test_a_removed_event_is_found_at_a_range_boundary_too(forty_events: str, removed: int) -> None:
    superuser_tamper(forty_events, "DELETE FROM eventlog.events WHERE position = %s", (removed,))
    many = await verify_database(forty_events, processes=2, chunk=8)
    assert (many.ok, many.failed_position) == (False, removed)
    assert f"position {removed} is missing" in (many.problem or "")


async def test_a_forged_chain_link_at_a_range_boundary_is_found(forty_events: str) -> None:
    """A range starts from the stored chain hash before it; the range before checks that hash."""
    superuser_tamper(
        forty_events, "UPDATE eventlog.events SET chain_hash = sha256('forged') WHERE position = 16"
    )
    one, many = await both_ways(forty_events)
    assert one.failed_position == 16 and "chain" in (one.problem or "")
    same(one, many)


async def test_a_checkpoint_that_does_not_match_fails_the_same_in_ranges(forty_events: str) -> None:
    signer = Signer.generate("coproduce-test-log")
    with psycopg.connect(forty_events) as conn:
        row = conn.execute("SELECT leaf_hash FROM eventlog.events WHERE position = 1").fetchone()
    assert row is not None
    wrong = sign_checkpoint(Checkpoint(origin=ORIGIN, size=27, root=bytes(row[0])), signer)
    options = {"notes": [wrong], "verifiers": [signer.verifier], "origin": ORIGIN}
    one, many = await both_ways(forty_events, **options)
    assert one.failed_position == 27 and "rewritten" in (one.problem or "")
    same(one, many)


async def test_foreign_events_are_the_same_in_ranges(database_url: str) -> None:
    """Unsigned events before the first signed one are old; after it, foreign, in any range."""
    async with await EventLog.open(database_url) as unsigned_log:
        await unsigned_log.append("s", [event(n) for n in range(1, 11)], 0)
    async with await EventLog.open(database_url, signer=WRITER) as writer_log:
        await writer_log.append("s", [event(11)], 10)
    async with await EventLog.open(database_url) as forger:
        await forger.append("s", [event(n) for n in range(12, 20)], 11)  # a whole range and more
    async with await EventLog.open(database_url, signer=WRITER) as writer_log:
        await writer_log.append("s", [event(20)], 19)

    one, many = await both_ways(database_url, writers=[WRITER.verifier])
    assert one.unsigned_before == 10
    assert one.foreign == [(n, "it carries no writer signature") for n in range(12, 20)]
    assert (many.unsigned_before, many.foreign) == (one.unsigned_before, one.foreign)


async def test_an_export_verifies_the_same_in_ranges_and_a_changed_line_is_found(
    forty_events: str, tmp_path: Path
) -> None:
    signer = Signer.generate("coproduce-test-log")
    _, note = await checkpoint_database(forty_events, signer, ORIGIN)
    assert note is not None
    exported = tmp_path / "log.jsonl"
    await export_jsonl(forty_events, exported)
    options = {"notes": [note], "verifiers": [signer.verifier], "origin": ORIGIN}
    one = verify_jsonl(exported, processes=1, **options)  # type: ignore[arg-type]
    many = verify_jsonl(exported, processes=2, chunk=8, **options)  # type: ignore[arg-type]
    assert one.ok and one.size == 40
    assert (many.ok, many.size, many.root) == (True, 40, one.root)

    lines = exported.read_bytes().split(b"\n")
    lines[29] = lines[29].replace(b"reason 30", b"reason 31")
    exported.write_bytes(b"\n".join(lines))
    changed = verify_jsonl(exported, processes=2, chunk=8, **options)  # type: ignore[arg-type]
    assert not changed.ok and "rewritten" in (changed.problem or "")
