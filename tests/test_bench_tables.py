"""The tables of docs/performance.md come from the benchmarks' results file, never from typing.

Rendered from a small sample results file in a temporary directory: the markers' content is replaced,
the text outside them is kept byte for byte, `--check` catches a table edited by hand and passes once
it is regenerated, and a benchmark with no results says it has not been measured yet. The sample's
figures are made up for the test and never leave the temporary directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run_all, tables

SAMPLE = {
    "eventlog": {
        "append_single_ours_eps": 2169, "append_single_raw_eps": 2831, "append_single_ratio": 0.766,
        "append_single_p50_us_ours": 480, "append_single_p50_us_raw": 350, "append_single_p50_ratio": 1.371,
        "append_single_p50_us_alternating_ours": 470, "append_single_p50_us_alternating_ungrouped": 460,
        "append_batch_ours_eps": 30000, "append_batch_raw_eps": 36000, "append_batch_ratio": 0.833,
        "raw_copy_eps": 34000, "verify_ours_eps": 300000, "verify_raw_eps": 600000, "verify_ratio": 0.5,
        "verify_eps_by_processes": {"1": 300000, "2": 450000, "4": 440000}, "verify_size": 100000,
        "concurrent_writers": 16, "concurrent_writers_eps": 1400, "concurrent_writers_raw_eps": 1900,
        "concurrent_writers_ratio": 0.737, "concurrent_writers_ungrouped_eps": 520,
        "group_commit_speedup": 2.692, "largest_group": 16, "entry_bytes": 306, "rounds": 3,
        "machine": "x86_64, 2 cores, Python 3.11.7",
    },
    "fold": {"fold_ratio": 0.312, "events": 2728, "raw_per_sec": 520000, "ours_per_sec": 162000,
             "validate_per_sec": 400000, "apply_per_sec": 280000},
    "portfolio": {"machine": "x86_64, 2 cores", "engagements": 1000, "events": 150852, "rows": 1000,
                  "raw_p50_ms": 33.9, "raw_p95_ms": 116.6, "ours_p50_ms": 147.6, "ours_p95_ms": 223.2,
                  "p50_ratio": 4.36, "p95_ratio": 1.91, "catch_up_s": 54.7},
    "scale_out": {"by_workers": [
        {"workers": 1, "gate_transitions_per_sec": 90.5, "update_p50_ms": 200.1, "update_p95_ms": 300.2},
        {"workers": 3, "gate_transitions_per_sec": 80.2, "update_p50_ms": 230.0, "update_p95_ms": 350.9},
    ], "scale_ratio_3_to_1": 0.886, "engagements": 60, "gates_each": 10},
    "master_key_rotation": {"keys": 20000, "batch_100_rotate_keys_per_s": 9000, "batch_100_bare_keys_per_s": 20000,
                            "batch_100_ratio": 0.45, "batch_100_command_keys_per_s": 8000},
    "audit": {"events": 1000024, "engagements": 747, "raw_eps": 700009, "raw_read": "raw_stream",
              "replay_eps": 50783, "replay_ratio": 0.073, "verify_raw_eps": 796507,
              "verify_raw_read": "verify_raw_stream", "verify_eps": 356621, "verify_ratio": 0.448,
              "verify_one_process_ratio": 0.44, "replay_peak_mib_100k": 97.9, "replay_peak_mib_1m": 98.0,
              "verify_peak_mib_100k": 114.4, "verify_peak_mib_1m": 114.5,
              "memory_sizes": [100000, 1000000], "memory_events": [100384, 1000024]},
}  # fmt: skip

INTRO = "# Performance\n\nProse before the tables, *kept as written*.\n\n"


def line(bench: str, figures: dict, when: str = "2026-12-06T10:00:00Z", **extra: object) -> str:
    record = {
        "bench": bench, "measured_at": when, "commit": "abc1234", "dirty": False,
        "load_average": [0.5, 1.25], "args": [], "seconds": 10.0, "figures": figures,
    } | extra  # fmt: skip
    return json.dumps(record) + "\n"


def document() -> str:
    """A page with every benchmark's markers, each holding a stale typed table, and prose around them."""
    parts = [INTRO]
    for name in run_all.BENCHES:
        parts.append(
            f"## {name}\n\nWhat `bench.{name}` measures.\n\n<!-- bench:{name} -->\n"
            "| figure | typed |\n|---|---|\n| old | 1.0 |\n"
            f"<!-- /bench:{name} -->\n\nWhy the figures are what they are ({name}).\n\n"
        )
    return "".join(parts)


def outside(doc: str) -> list[str]:
    """The text outside the markers, piece by piece."""
    pieces, cursor = [], 0
    for _, start, end in tables.sections(doc):
        pieces.append(doc[cursor:start])
        cursor = end
    return [*pieces, doc[cursor:]]


def inside(doc: str, name: str) -> str:
    found = {n: doc[s:e] for n, s, e in tables.sections(doc)}
    return found[name]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    results = tmp_path / "results.jsonl"
    # an older eventlog line first: the latest line of each bench is the one shown
    old = dict(SAMPLE["eventlog"], append_single_ratio=0.111)
    results.write_text(
        line("eventlog", old, "2026-12-01T09:00:00Z")
        + "".join(line(name, figures) for name, figures in SAMPLE.items())
        + line("fold", SAMPLE["fold"], "2026-12-06T11:00:00Z", args=["--repeat", "3"], commit="def5678", dirty=True),
        encoding="utf-8",
    )  # fmt: skip
    doc = tmp_path / "performance.md"
    doc.write_text(document(), encoding="utf-8")
    return results, doc


def run(results: Path, doc: Path, *more: str) -> int:
    return tables.main(["--results", str(results), "--doc", str(doc), *more])


def test_the_markers_content_is_replaced_and_the_text_outside_kept(files: tuple[Path, Path]) -> None:
    results, doc = files
    before = doc.read_text(encoding="utf-8")
    assert run(results, doc) == 0
    after = doc.read_text(encoding="utf-8")
    assert outside(after) == outside(before)
    assert after.startswith(INTRO)
    assert "| old | 1.0 |" not in after
    eventlog = inside(after, "eventlog")
    assert "| `append_single_ratio` | **0.766** | ≥ 0.8 | not met |" in eventlog  # the latest line, not 0.111
    assert "| `append_batch_ratio` | **0.833** | ≥ 0.8 | met |" in eventlog
    assert "| `verify_ratio` | **0.5** | ≥ 0.8 | not met |" in eventlog
    # 16 writers against the raw single-commit rate of the same run: 1,400 / 2,831
    assert "(`concurrent_writers_eps` / `append_single_raw_eps`) | **0.495** | ≥ 5 | not met |" in eventlog
    assert "| `concurrent_writers_ratio`" in eventlog and "| 0.737 |" in eventlog
    assert "Measured 2026-12-06 10:00 UTC, at commit `abc1234`, load average 0.50 → 1.25" in eventlog
    assert "| `p95_ratio` | **1.91** | ≤ 2 | met |" in inside(after, "portfolio")
    audit = inside(after, "audit")
    assert "| `replay_ratio` | **0.073** | ≥ 0.3 | not met |" in audit
    assert "97.9 / 98.0" in audit
    assert "| 3 worker processes, 60 engagements × 10 gates: gate transitions/s | 80.2 |" in inside(
        after, "scale_out"
    )
    fold = inside(after, "fold")
    assert "with uncommitted changes" in fold
    assert "Run as `python -m bench.fold --repeat 3`, not at `make bench`'s sizes." in fold
    assert run(results, doc) == 0
    assert doc.read_text(encoding="utf-8") == after  # rendering twice changes nothing


def test_a_bench_without_results_says_it_has_not_been_measured_yet(files: tuple[Path, Path]) -> None:
    results, doc = files
    assert run(results, doc) == 0
    after = doc.read_text(encoding="utf-8")
    for name in ("peer", "workflow", "privacy", "web"):
        section = inside(after, name)
        assert f"`bench.{name}` has not been measured yet" in section
        assert "|" not in section, "no table, and no figure, for a benchmark never run"


def test_check_fails_on_a_table_typed_over_and_passes_after_regeneration(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    results, doc = files
    assert run(results, doc, "--check") == 1, "the stale typed tables are not what the results give"
    assert doc.read_text(encoding="utf-8") == document(), "--check writes nothing"
    assert run(results, doc) == 0
    assert run(results, doc, "--check") == 0
    edited = doc.read_text(encoding="utf-8").replace("**0.766**", "**0.81**")
    doc.write_text(edited, encoding="utf-8")
    capsys.readouterr()
    assert run(results, doc, "--check") == 1
    assert "eventlog" in capsys.readouterr().err
    assert run(results, doc) == 0
    assert run(results, doc, "--check") == 0
    # prose edited outside the markers is the author's business, not the generator's
    doc.write_text(doc.read_text(encoding="utf-8") + "\nA new paragraph.\n", encoding="utf-8")
    assert run(results, doc, "--check") == 0


def test_new_results_make_the_check_fail_until_the_tables_are_rendered(files: tuple[Path, Path]) -> None:
    results, doc = files
    assert run(results, doc) == 0
    with results.open("a", encoding="utf-8") as out:
        out.write(
            line("peer", {"single_ours_eps": 2000, "single_theirs_eps": 1600, "peer_single_ratio": 1.25})
        )
    assert run(results, doc, "--check") == 1
    assert run(results, doc) == 0
    peer = inside(doc.read_text(encoding="utf-8"), "peer")
    assert "| `peer_single_ratio` | **1.25** | ≥ 1 | met |" in peer
    assert "| `peer_read_ratio` | – | ≥ 1 |  |" in peer, "a figure missing from the line is shown as missing"


def test_markers_missing_or_unknown_are_refused(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(document().replace("<!-- bench:audit -->", ""), encoding="utf-8")
    with pytest.raises(SystemExit, match="audit"):
        run(tmp_path / "none.jsonl", doc)
    doc.write_text(document() + "<!-- bench:nonsense -->\n<!-- /bench:nonsense -->\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="nonsense"):
        run(tmp_path / "none.jsonl", doc)


def test_the_runner_takes_the_last_json_object_of_the_output() -> None:
    out = ['progress {"not": json\n', '{"a": 1}\n', "a summary line\n", '{"b": 2}\n', "\n"]
    assert run_all.last_json_object(out) == {"b": 2}
    assert run_all.last_json_object(["no figures\n", "[1, 2]\n"]) is None


def test_the_performance_page_holds_what_the_results_file_gives() -> None:
    """docs/performance.md's generated sections are current with bench/results.jsonl."""
    assert tables.main(["--check"]) == 0, "run `python -m bench.tables` to regenerate docs/performance.md"


@pytest.mark.parametrize("name", run_all.BENCHES)
def test_every_bench_renders_even_from_a_line_missing_its_figures(name: str) -> None:
    """A line from an older or newer version of a benchmark renders: missing figures show as missing."""
    text = tables.table(name, {"bench": name, "measured_at": "2026-12-06T10:00:00Z", "figures": {}})
    assert text.startswith("| figure | measured | target | met? |")
    assert "| met |" not in text and "| not met |" not in text, "no verdict without a figure"
    assert "Measured 2026-12-06 10:00 UTC, outside git." in text


def test_the_workflow_table_gives_the_gate_ratio_and_memory_targets() -> None:
    figures = {
        "gate_transitions_per_sec_ours": 92.3, "gate_transitions_per_sec_bare": 157.9,
        "gate_transitions_per_sec_minimal": 271.4, "gate_ratio": 0.585, "update_p50_ratio": 1.7,
        "engagements": 20, "gates_each": 11, "open_engagements": 1000, "worker_kib_per_open_engagement": 224.0,
    }  # fmt: skip
    text = tables.table("workflow", {"bench": "workflow", "figures": figures})
    assert (
        "| gate transitions/s, 20 engagements × 11 gates: ours / bare / minimal | 92.3 / 157.9 / 271.4 |"
        in text
    )
    assert "| `gate_ratio` (ours / bare) | **0.585** | ≥ 0.8 | not met |" in text
    assert "| `update_p50_ratio` (ours / bare) | **1.7** | ≤ 1.5 (this page) | not met |" in text
    assert "open (KiB) | **224.0** | ≤ 100 | not met |" in text
