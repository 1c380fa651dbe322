"""The domain of co-production engagements: plans, people, events, state and rules. Pure Python and pydantic.

No I/O, no clocks (`now` is always a parameter), no randomness: the same code runs inside Temporal's
deterministic workflow sandbox, in the CLI and in the auditor's replay. Where to start reading:

- `domain.plan`: a plan as YAML -> `Plan` (`plan_from_yaml`, `plan_sha256`, `plan_diff`, `plan_json_schema`);
  its parts live in `people`, `training`, `phases`, `pace_policy`, `evaluation`, `decision_areas`,
  `recognition_policy`, and the cross-field checks in `plan_checks`.
- `domain.events`: the event catalogue and `event_to_record` / `event_from_record` / `event_from_json`;
  `domain.upcasters` for old schema versions; `domain.personal` for personal-data marking.
- `domain.state`: `EngagementState` (its parts in `engagement`), `apply` and `fold`; one handler per event
  in `domain.transitions`.
- `domain.rules`: eligibility, quorum, pace, indicators, ladder, recognition, schedule.
- `domain.errors`: what the domain refuses, and why.
"""

from domain.errors import DomainError, ImpossibleEvent, PlanError, RecordError
from domain.events import (
    DomainEvent,
    event_from_json,
    event_from_record,
    event_to_record,
    personal_data_paths,
)
from domain.plan import Plan, plan_from_yaml, plan_json_schema, plan_sha256
from domain.state import EMPTY_STATE, EngagementState, apply, fold
from domain.upcasters import UPCASTERS, Upcaster

__all__ = [
    "EMPTY_STATE",
    "UPCASTERS",
    "DomainError",
    "DomainEvent",
    "EngagementState",
    "ImpossibleEvent",
    "Plan",
    "PlanError",
    "RecordError",
    "Upcaster",
    "apply",
    "event_from_json",
    "event_from_record",
    "event_to_record",
    "fold",
    "personal_data_paths",
    "plan_from_yaml",
    "plan_json_schema",
    "plan_sha256",
]
