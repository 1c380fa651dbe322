"""Run every benchmark and keep one JSON line each in ``bench/results.jsonl``.

    python -m bench.run_all [--only NAME,...] [--out FILE] [--args NAME='--opt value ...']

Runs each benchmark module (``python -m bench.NAME``) as a subprocess of its own, in the order of
``BENCHES`` (the order ``make bench`` always had), streams its output to this terminal, takes the last
line of its stdout that is a JSON object (every benchmark prints its figures that way, last) and
appends one line to the results file:

    {"bench": "eventlog", "measured_at": "2026-12-07T10:00:00Z", "commit": "02614b6", "dirty": false,
     "load_average": [1.2, 2.4], "args": [], "seconds": 95.1, "figures": {...}}

``load_average`` is the one-minute load average before and after the benchmark: other work on the
machine slows ours and the raw baseline unevenly, so a figure says how busy the machine was. ``commit``
is the short hash of ``HEAD`` (null outside git), ``dirty`` whether the working tree held uncommitted
changes other than the results file. ``args`` are the arguments given to the benchmark (``--args``;
none in ``make bench``), so a run at smaller sizes is never mistaken for a full one.

A benchmark that fails (non-zero exit, or no JSON line) is reported with its exit code, nothing is
written for it, and the run goes on with the next; the runner exits non-zero at the end if any failed.
The results file is committed to git, so the figures keep their history; ``python -m bench.tables``
renders the tables of ``docs/performance.md`` from its latest line of each benchmark.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.jsonl"
BENCHES = (
    "eventlog",
    "peer",
    "fold",
    "workflow",
    "scale_out",
    "privacy",
    "web",
    "portfolio",
    "master_key_rotation",
    "audit",
)


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commit() -> tuple[str | None, bool | None]:
    """The short hash of HEAD and whether the tree has changes besides the results files (None outside git)."""
    head = git("rev-parse", "--short", "HEAD")
    if head is None:
        return None, None
    status = git("status", "--porcelain", "--", ".", ":(exclude)bench/results*.jsonl")
    return head, (bool(status) if status is not None else None)


def last_json_object(lines: Sequence[str]) -> dict[str, Any] | None:
    """The last line that is a JSON object, or None."""
    for line in reversed(lines):
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def run_one(name: str, extra: Sequence[str]) -> tuple[int, dict[str, Any] | None, float]:
    """Run ``python -m bench.NAME``, echoing its output; its exit code, its figures and its seconds."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # stream, and keep output printed before an os._exit
    command = [sys.executable, "-m", f"bench.{name}", *extra]
    started = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, errors="replace", bufsize=1
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
        code = child.wait()
    return code, last_json_object(lines), time.perf_counter() - started


def record(name: str, figures: dict[str, Any], extra: Sequence[str], **context: Any) -> dict[str, Any]:
    """The results line of one benchmark."""
    return {
        "bench": name,
        "measured_at": context["measured_at"],
        "commit": context["commit"],
        "dirty": context["dirty"],
        "load_average": context["load_average"],
        "args": list(extra),
        "seconds": round(context["seconds"], 1),
        "figures": figures,
    }


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_all",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="benchmarks, in order: " + ", ".join(BENCHES),
    )
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all, in order)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="results file (default: bench/results.jsonl)"
    )
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="arguments for one benchmark, e.g. --args 'fold=--repeat 5' (recorded in its line)",
    )
    args = parser.parse_args(argv)
    chosen = BENCHES
    if args.only:
        chosen = tuple(n.strip() for n in args.only.split(",") if n.strip())
        unknown = [n for n in chosen if n not in BENCHES]
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
        chosen = tuple(n for n in BENCHES if n in chosen)  # always the make bench order
    extras: dict[str, list[str]] = {}
    for item in args.args:
        name, sep, text = item.partition("=")
        if not sep or name not in BENCHES:
            parser.error(f"--args wants NAME=ARGS with NAME one of {', '.join(BENCHES)}: {item!r}")
        extras[name] = shlex.split(text)
    args.chosen, args.extras = chosen, extras
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    failed: list[tuple[str, int]] = []
    written: list[str] = []
    for name in args.chosen:
        extra = args.extras.get(name, [])
        print(f"=== bench.{name} {shlex.join(extra)}".rstrip(), flush=True)
        head, dirty = commit()
        measured_at, load_before = utc_now(), os.getloadavg()[0]
        code, figures, seconds = run_one(name, extra)
        if code != 0 or figures is None:
            why = " (no JSON line on its stdout)" if code == 0 else ""
            code = code or 1
            print(
                f"=== bench.{name} FAILED with exit code {code}{why}; going on", file=sys.stderr, flush=True
            )
            failed.append((name, code))
            continue
        line = record(
            name,
            figures,
            extra,
            measured_at=measured_at,
            commit=head,
            dirty=dirty,
            load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],
            seconds=seconds,
        )
        with out.open("a", encoding="utf-8") as results:
            results.write(json.dumps(line, ensure_ascii=False) + "\n")
        written.append(name)
        print(f"=== bench.{name}: {seconds:.0f} s, one line appended to {out}", flush=True)
    print(f"=== {len(written)} benchmark(s) recorded in {out}: {', '.join(written) or 'none'}")
    if failed:
        print("=== failed: " + ", ".join(f"{n} (exit code {c})" for n, c in failed), file=sys.stderr)
        return 1
    print("=== render the tables with: python -m bench.tables")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
