"""Benchmark: replaying an engagement's events (parse + validate + fold) against raw `json.loads`.

Run from the repository root: `python -m bench.fold [--seed N] [--extra-tenants N] [--repeat N]`.

It generates a realistic year of one engagement (the housing example plan, its wider tenant group grown
by `--extra-tenants`, driven by the scripted scenario the domain tests use: sessions, trainings,
fortnightly check-ins, votes, holds, payments, ...), serialises every payload to JSON bytes as the event
store keeps them, then measures in the same run:

- raw:  `json.loads` of every payload;
- ours: `event_from_json` (parse + validate into a domain event, upcasting if needed) and `apply`, from
  the empty state to the final state: what `coproduce audit state` and the workflow's replay do;
- for context, the two halves of ours separately, and the dict path (`json.loads` + `event_from_record`).

Each figure is the best of `--repeat` runs. The last line is JSON with `fold_ratio` = ours/raw in events
per second (the aim is >= 0.3).
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import platform
import sys
import time
from collections.abc import Callable

from domain.events import event_from_json, event_from_record, event_to_record
from domain.people import Person
from domain.plan import Plan, plan_from_yaml
from domain.state import EMPTY_STATE, EngagementState, apply, fold
from tests.domain.plans import example_yaml
from tests.domain.scenario import scripted_history

Record = tuple[str, int, bytes]


def engagement_plan(extra_tenants: int) -> Plan:
    """The housing example plan with `extra_tenants` more tenants in its wider group."""
    plan = plan_from_yaml(example_yaml("housing-tenant-governance.yaml"), "housing-tenant-governance.yaml")
    extra = tuple(
        Person(
            id=f"w{i:03d}",
            display_name=f"Tenant {i}",
            constituency="service_user",
            roles=("tenant-panel-member",),
            cohort="wider",
        )
        for i in range(1, extra_tenants + 1)
    )
    return Plan.model_validate({**plan.model_dump(), "people": [*plan.model_dump()["people"], *extra]})


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of `repeat` timed runs, in seconds (garbage collected between runs, not during)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fold", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--extra-tenants", type=int, default=40, help="tenants added to the wider group")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)

    plan = engagement_plan(args.extra_tenants)
    events = scripted_history(plan, args.seed)
    records: list[Record] = [
        (kind, version, json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        for kind, version, payload in (event_to_record(event) for event in events)
    ]
    payload_bytes = sum(len(payload) for _, _, payload in records)
    n = len(records)

    def raw() -> None:
        for _, _, payload in records:
            json.loads(payload)

    def ours() -> EngagementState:
        state = EMPTY_STATE
        for kind, version, payload in records:
            state = apply(state, event_from_json(kind, version, payload))
        return state

    def validate_only() -> None:
        for kind, version, payload in records:
            event_from_json(kind, version, payload)

    parsed = [event_from_json(kind, version, payload) for kind, version, payload in records]

    def apply_only() -> None:
        state = EMPTY_STATE
        for event in parsed:
            state = apply(state, event)

    def dict_path() -> None:
        state = EMPTY_STATE
        for kind, version, payload in records:
            state = apply(state, event_from_record(kind, version, json.loads(payload)))

    final = ours()
    if final != fold(events) or final.status != "completed":
        print(
            "the replayed state differs from the generated one, or the engagement did not complete",
            file=sys.stderr,
        )
        return 1

    seconds = {
        name: best_of(args.repeat, run)
        for name, run in (
            ("raw", raw),
            ("ours", ours),
            ("validate", validate_only),
            ("apply", apply_only),
            ("dict_path", dict_path),
        )
    }
    per_sec = {name: n / value for name, value in seconds.items()}

    counts = collections.Counter(kind for kind, _, _ in records)
    print(f"engagement: {plan.title}; {len(plan.people)} people, {len(plan.phases)} phases, seed {args.seed}")
    print(
        f"events: {n:,} ({payload_bytes / 1024:,.0f} KiB of JSON payloads, {payload_bytes / n:.0f} bytes each)"
    )
    print("most frequent: " + ", ".join(f"{kind} {count}" for kind, count in counts.most_common(6)))
    print(f"best of {args.repeat} runs:")
    labels = {
        "raw": "raw json.loads",
        "ours": "ours: parse+validate+fold",
        "validate": "  of which parse+validate",
        "apply": "  of which fold (apply)",
        "dict_path": "dict path: loads+validate+fold",
    }
    for name, label in labels.items():
        print(f"  {label:32} {per_sec[name]:>12,.0f} events/s  {seconds[name] * 1e3:8.2f} ms")
    ratio = per_sec["ours"] / per_sec["raw"]
    print(f"fold_ratio (ours/raw): {ratio:.3f}  (aim: >= 0.3)")
    print(
        json.dumps(
            {
                "fold_ratio": round(ratio, 4),
                "events": n,
                "raw_per_sec": round(per_sec["raw"]),
                "ours_per_sec": round(per_sec["ours"]),
                "validate_per_sec": round(per_sec["validate"]),
                "apply_per_sec": round(per_sec["apply"]),
                "dict_path_per_sec": round(per_sec["dict_path"]),
                "payload_bytes": payload_bytes,
                "people": len(plan.people),
                "seed": args.seed,
                "repeat": args.repeat,
                "python": platform.python_version(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
