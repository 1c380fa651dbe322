"""The plan: a bespoke engagement written as YAML, validated, hashed and compared.

`plan_from_yaml(text, source)` turns YAML into a `Plan` or raises `PlanError` listing every problem at
once, each as `<source>: <field.path>: <what is wrong>`: first the structure (types, required and
unknown fields), then, once the structure holds, the cross-references (unknown ids, unsatisfiable
gates, ...; see `plan_checks`). A `Plan` built any other way (e.g. from JSON by a data converter) runs
the same cross-reference checks. `plan_sha256` hashes a canonical form; `plan_diff` compares two plans
for `plan_amended`; `plan_json_schema` is the format for editors.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import date
from functools import cached_property
from typing import Any, Literal, Self

import yaml
from pydantic import Field, JsonValue, ValidationError, ValidationInfo, model_validator

from domain.change_policy import ChangePolicy
from domain.decision_areas import DecisionArea
from domain.differences import differing_leaves
from domain.errors import PlanError, PlanProblem
from domain.evaluation import EvaluationStrategy, FollowUp, Indicator, Milestone
from domain.pace_policy import PacePolicy
from domain.people import Person, Role
from domain.personal import personal_fields
from domain.phases import Phase
from domain.plan_checks import FIRST_PLAN_DAY, LAST_PLAN_DAY, date_problem, plan_problems
from domain.recognition_policy import RecognitionPolicy
from domain.retention import RetentionPolicy
from domain.training import TrainingModule, TrainingPolicy
from domain.vocabulary import Description, DomainModel, Identifier, ShortText

# Validation context that checks a plan's structure but not its cross-references. Reading events back
# from the log uses it: a plan was fully checked when its engagement started, and checks added in later
# versions must never stop an old engagement from replaying.
STRUCTURE_ONLY_KEY = "structure_only"
STRUCTURE_ONLY: dict[str, bool] = {STRUCTURE_ONLY_KEY: True}

Sector = Literal["charity", "public_service", "social_care", "health", "housing", "other"]


class Organisation(DomainModel):
    """The client organisation an engagement belongs to. ``id`` names it across engagements (who may
    read them, whose witness cosigns); left out, it is made from the name (``key``)."""

    name: ShortText
    sector: Sector
    context: Description = ""
    id: Identifier | None = None

    @property
    def key(self) -> str:
        """The organisation's id: ``id`` when the plan gives one, else the name as a slug
        ("Riverside Housing Association" is ``riverside-housing-association``)."""
        if self.id:
            return self.id
        latin = unicodedata.normalize("NFKD", self.name).encode("ascii", "ignore").decode().lower()
        slug = re.sub(r"[^a-z0-9]+", "-", latin).strip("-")[:64].rstrip("-")
        return slug or "organisation-" + hashlib.sha256(self.name.encode()).hexdigest()[:12]


class Plan(DomainModel):
    """A whole engagement plan. Sequences are tuples and every part is frozen: a plan never changes,
    an amendment makes a new one."""

    format_version: Literal[1] = 1
    title: ShortText
    organisation: Organisation
    starts_on: date
    ends_on: date
    roles: tuple[Role, ...] = Field(min_length=1)
    people: tuple[Person, ...] = Field(min_length=1)
    training: TrainingPolicy = TrainingPolicy()
    phases: tuple[Phase, ...]
    pace: PacePolicy = PacePolicy()
    evaluation: EvaluationStrategy
    decision_areas: tuple[DecisionArea, ...] = ()
    recognition: RecognitionPolicy = RecognitionPolicy()
    # Who may change the engagement and who co-signs a weakening change (domain.change_policy); left
    # out, the rules plans had before it (anyone amends, one facilitator overrides a hold).
    changes: ChangePolicy | None = None
    follow_up: FollowUp | None = None
    # When participants are forgotten after the engagement completes (domain.retention); left out,
    # nobody is forgotten but at someone's request, as before.
    retention: RetentionPolicy | None = None

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Self:
        if info.context and info.context.get(STRUCTURE_ONLY_KEY):
            return self
        problems = plan_problems(self)
        if problems:
            raise ValueError("; ".join(f"{p.path}: {p.message}" for p in problems))
        return self

    # Lookups by id, built once per plan (plans are immutable).
    @cached_property
    def people_by_id(self) -> dict[str, Person]:
        return {person.id: person for person in self.people}

    @cached_property
    def phases_by_id(self) -> dict[str, Phase]:
        return {phase.id: phase for phase in self.phases}

    @cached_property
    def phase_index(self) -> dict[str, int]:
        return {phase.id: i for i, phase in enumerate(self.phases)}

    @cached_property
    def modules_by_id(self) -> dict[str, TrainingModule]:
        return {module.id: module for module in self.training.modules}

    @cached_property
    def indicators_by_key(self) -> dict[str, Indicator]:
        return {indicator.key: indicator for indicator in self.evaluation.indicators}

    @cached_property
    def milestones_by_id(self) -> dict[str, Milestone]:
        return {milestone.id: milestone for milestone in self.evaluation.milestones}

    @cached_property
    def areas_by_id(self) -> dict[str, DecisionArea]:
        return {area.id: area for area in self.decision_areas}

    @cached_property
    def role_ids(self) -> frozenset[str]:
        return frozenset(role.id for role in self.roles)


# --- reading YAML -------------------------------------------------------------------------------------


class _PlanLoader(yaml.SafeLoader):
    """A safe YAML loader that remembers keys given twice in one mapping (plain PyYAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[PlanProblem] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                self.duplicates.append(
                    PlanProblem(
                        f"line {key_node.start_mark.line + 1}", f"key '{key}' appears twice in one mapping"
                    )
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_impossible_date(self, node: yaml.ScalarNode) -> Any:
        """A date YAML recognises but the calendar does not have (2025-02-30): kept as its text, so
        that validating the plan names the field it is in ("starts_on: '2025-02-30' is not ...")."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return str(node.value)


_PlanLoader.add_constructor("tag:yaml.org,2002:timestamp", _PlanLoader.construct_impossible_date)


def plan_from_yaml(text: str, source: str) -> Plan:
    """Validate a plan written as YAML. `source` names it in messages (usually the file name)."""
    loader = _PlanLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(source, [PlanProblem(where, f"is not valid YAML: {problem}")]) from None
    except ValueError as exc:  # a value YAML parses but Python cannot hold, e.g. the date 2025-02-30
        raise PlanError(source, [PlanProblem("(document)", f"holds an impossible value: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise PlanError(source, loader.duplicates)
    if not isinstance(data, dict):
        kind = "nothing" if data is None else type(data).__name__
        raise PlanError(source, [PlanProblem("(top)", f"a plan is a YAML mapping of sections, got {kind}")])
    try:
        plan = Plan.model_validate(data, context=STRUCTURE_ONLY)
    except ValidationError as exc:
        raise PlanError(source, [_problem_from_pydantic(error) for error in exc.errors()]) from None
    problems = plan_problems(plan)
    if problems:
        raise PlanError(source, problems)
    return plan


def _problem_from_pydantic(error: Any) -> PlanProblem:
    path = ""
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            path += f".{part}" if path else str(part)
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a known field here (check the spelling)"
    elif kind == "string_pattern_mismatch":
        message = f"must be a lower-case id made of letters, digits, '-' and '_' (got {value!r})"
    elif kind == "value_error":  # our own validators' sentences (no control characters, ...): no echo
        message = str((error.get("ctx") or {}).get("error") or error["msg"]).removeprefix("Value error, ")
    elif kind in ("date_parsing", "date_from_datetime_parsing") and isinstance(value, str):
        detail = (error.get("ctx") or {}).get("error", "")
        message = f"is not a date that exists{f' ({detail})' if detail else ''}; write it YYYY-MM-DD (got {value!r})"
    else:
        message = error["msg"][0].lower() + error["msg"][1:]
        if isinstance(value, str | int | float | bool) and kind not in ("string_too_long",):
            message += f" (got {value!r})"
    return PlanProblem(path or "(top)", message)


# --- schema, hashing, differences ---------------------------------------------------------------------


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format (draft 2020-12), for editors and `coproduce plan schema`."""
    schema = Plan.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "coproduce plan"}


def canonical_plan_json(plan: Plan) -> str:
    """The canonical text of a plan: its JSON form without fields left at their default value, with
    sorted keys, no spaces and UTF-8 characters kept. Leaving defaults out keeps a plan's hash stable when
    a later version of the format adds a field with a default."""
    return json.dumps(
        plan.model_dump(mode="json", exclude_defaults=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def plan_sha256(plan: Plan) -> str:
    """SHA-256 (hex) of `canonical_plan_json(plan)`: the identity of a plan version."""
    return hashlib.sha256(canonical_plan_json(plan).encode("utf-8")).hexdigest()


class PlanChange(DomainModel):
    """One leaf that differs between two plans. Paths index lists by id (`phases[widen].min_dwell_days`);
    personal values (people's names) are shown as `(personal data)`."""

    path: str
    change: Literal["added", "removed", "changed"]
    before: JsonValue = None
    after: JsonValue = None


PERSONAL_VALUE = "(personal data)"
_PERSONAL_PLAN_PATHS = frozenset(field.path for field in personal_fields(Plan))
_INDEX = re.compile(r"\[[^\]]*\]")


def plan_diff(old: Plan, new: Plan) -> tuple[PlanChange, ...]:
    """What changed from `old` to `new`, leaf by leaf, sorted by path."""
    before, after = differing_leaves(old.model_dump(mode="json"), new.model_dump(mode="json"))
    changes: list[PlanChange] = []
    for path in sorted(before.keys() | after.keys()):
        if path in before and path in after and before[path] == after[path]:
            continue
        personal = _INDEX.sub("[]", path) in _PERSONAL_PLAN_PATHS
        old_value = PERSONAL_VALUE if personal and path in before else before.get(path)
        new_value = PERSONAL_VALUE if personal and path in after else after.get(path)
        change = "added" if path not in before else "removed" if path not in after else "changed"
        changes.append(PlanChange(path=path, change=change, before=old_value, after=new_value))
    return tuple(changes)


def plan_pseudonymised(plan: Plan) -> Plan:
    """The plan as the workflow and the log hold it: each person's name replaced by their id, and no
    contact details (names and contact details live in the people register, which can forget them)."""
    if all(p.display_name == p.id and p.contact is None for p in plan.people):
        return plan
    data = plan.model_dump(mode="json", exclude_defaults=True)
    for person in data["people"]:
        person["display_name"] = person["id"]
        person.pop("contact", None)
    return Plan.model_validate(data)


def plan_rescheduled(plan: Plan, starts_on: date) -> Plan:
    """The same plan moved in time to start on `starts_on`: its end and every dated milestone move by the
    same number of days. For starting a plan written for other dates, and for simulations."""
    shift = starts_on - plan.starts_on
    try:
        ends_on = plan.ends_on + shift
    except OverflowError:
        ends_on = date.max
    for day in (starts_on, ends_on):
        if date_problem(day) is not None:
            raise PlanError(
                "the plan",
                [
                    PlanProblem(
                        "starts_on",
                        f"moved to start on {starts_on.isoformat()}, the plan would end "
                        f"{'after the year 9999' if ends_on == date.max else 'on ' + ends_on.isoformat()}; "
                        f"choose a start date that keeps it within {FIRST_PLAN_DAY.isoformat()} to "
                        f"{LAST_PLAN_DAY.isoformat()}",
                    )
                ],
            )
    data = plan.model_dump()  # rebuilt and re-validated, so no cached lookup keeps the old dates
    data["starts_on"] = starts_on
    data["ends_on"] = ends_on
    for milestone in data["evaluation"]["milestones"]:
        if milestone["due_on"] is not None:
            milestone["due_on"] += shift
    return Plan.model_validate(data)
