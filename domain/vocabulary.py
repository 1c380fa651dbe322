"""The shared vocabulary: constituencies, cohorts, the ladder of co-production, activity types, ids and times.

Plans, events, state and rules all speak these words, so each word is defined once, here. Closed sets of
words are `Literal` types (with a tuple of their values for ordering and messages); identifiers and
timestamps are constrained types that pydantic checks in its Rust core.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetPydanticSchema, StringConstraints
from pydantic_core import core_schema

Constituency = Literal["service_user", "carer", "staff", "decision_maker", "partner", "facilitator"]
CONSTITUENCIES: tuple[Constituency, ...] = get_args(Constituency)

# Who takes part at a given moment: a plan starts with an initial group, then may widen to a larger one.
Cohort = Literal["initial", "wider"]

# The Think Local Act Personal ladder of co-production, bottom rung first.
Rung = Literal[
    "coercion", "educating", "informing", "consultation", "engagement", "co-design", "co-production"
]
RUNGS: tuple[Rung, ...] = get_args(Rung)
_RUNG_INDEX = {rung: i for i, rung in enumerate(RUNGS)}


def rung_index(rung: Rung) -> int:
    """Position of a rung on the ladder: 0 for coercion up to 6 for co-production."""
    return _RUNG_INDEX[rung]


def rung_group(rung: Rung) -> Literal["doing to", "doing for", "doing with"]:
    """The three groups councils use to explain the ladder (coercing/educating are 'doing to', ...)."""
    index = rung_index(rung)
    if index <= 1:
        return "doing to"
    return "doing for" if index <= 4 else "doing with"


ActivityType = Literal[
    "assessment", "training", "group_work", "policy_and_procedure", "research", "focus_group", "review"
]
ACTIVITY_TYPES: tuple[ActivityType, ...] = get_args(ActivityType)

Direction = Literal["up", "down"]

# Ids are short, lower-case slugs ("t07", "shared-decisions", "tenant_attendance"). People's ids must be
# opaque: never build them from names, because ids travel in every event and every log line.
IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ENGAGEMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
EngagementId = Annotated[str, StringConstraints(pattern=ENGAGEMENT_ID_PATTERN)]
Sha256Hex = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
# What each pattern asks for, in words: a refusal says this, never the regular expression.
PATTERN_RULES: dict[str, str] = {
    IDENTIFIER_PATTERN: "is not an id: use lower-case letters, digits, '-' and '_', up to 64 characters",
    ENGAGEMENT_ID_PATTERN: "is not an engagement id: use letters, digits, '.', ':', '-' and '_', up to 128 characters",
    SHA256_PATTERN: "is not a SHA-256 hash: use 64 lower-case hexadecimal digits",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _printable(value: str) -> str:
    """Text people read: no control characters (a NUL cannot even be stored; ESC would drive the
    reader's terminal), and no lone UTF-16 surrogate (it is not a character, and cannot be stored as
    UTF-8). Tabs and line breaks are fine."""
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"contains the control character U+{ord(found.group()):04X} (remove it)")
    found = _SURROGATE.search(value)
    if found:
        raise ValueError(
            f"contains U+{ord(found.group()):04X}, half of a UTF-16 surrogate pair and no character (remove it)"
        )
    return value


ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(_printable)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), AfterValidator(_printable)
]
# Optional prose in a plan (an organisation's context, a role's description): may be empty.
Description = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_printable)]

# Bounded numbers for plans: an engagement runs for months, so ten years is a generous ceiling, and a
# bound keeps date arithmetic and canonical JSON (integers within 2**53) from overflowing.
MAX_DAYS = 3650
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
PositiveDays = Annotated[int, Field(ge=1, le=MAX_DAYS)]
Count = Annotated[int, Field(ge=1, le=10_000)]


# An aware timestamp in UTC (offset 0), checked by pydantic's Rust core: a naive time or one with another
# offset is refused, so the same instant always serialises the same way ("...Z").
UtcDatetime = Annotated[
    datetime, GetPydanticSchema(lambda _type, _handler: core_schema.datetime_schema(tz_constraint=0))
]


class DomainModel(BaseModel):
    """Base of every plan part, event and state record: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


_Record = TypeVar("_Record", bound=DomainModel)


def iso(moment: datetime | None) -> str:
    """A timestamp as people read it in messages: 2025-03-01T10:00Z (minutes, UTC)."""
    return "(unknown)" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def day(moment: datetime | None) -> str:
    """A timestamp's date, for messages: 2025-03-01."""
    return "(unknown)" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d")


_new_object = object.__new__
_set_attribute = object.__setattr__
_ALL_FIELDS: dict[type[BaseModel], set[str]] = {}


def evolve(record: _Record, changes: dict[str, Any]) -> _Record:
    """A copy of a frozen record with `changes` applied, sharing every other field (nothing is validated).

    Like `record.model_copy(update=changes)` for our models (no private attributes, no extras) at half
    the cost; the fold calls it once or twice per event, so it matters. The copy counts every field as
    set (`model_fields_set`), which only `exclude_unset` dumps look at.
    """
    cls = type(record)
    copied = _new_object(cls)
    values = record.__dict__.copy()
    values.update(changes)
    _set_attribute(copied, "__dict__", values)
    fields = _ALL_FIELDS.get(cls)
    if fields is None:
        fields = _ALL_FIELDS[cls] = set(cls.model_fields)
    _set_attribute(copied, "__pydantic_fields_set__", fields)
    _set_attribute(copied, "__pydantic_extra__", None)
    _set_attribute(copied, "__pydantic_private__", None)
    return copied


def record(cls: type[_Record], values: dict[str, Any]) -> _Record:
    """Build a state record from values that are already valid (they come from a validated event),
    without validating them again: the fold builds thousands of small records and this is about twice
    as fast as `cls(**values)`. Every field must be given; the tests check each use against `cls(...)`.
    """
    made = _new_object(cls)
    _set_attribute(made, "__dict__", values)
    fields = _ALL_FIELDS.get(cls)
    if fields is None:
        fields = _ALL_FIELDS[cls] = set(cls.model_fields)
    _set_attribute(made, "__pydantic_fields_set__", fields)
    _set_attribute(made, "__pydantic_extra__", None)
    _set_attribute(made, "__pydantic_private__", None)
    return made
