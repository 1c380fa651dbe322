"""Pydantic's complaints about values, put into sentences a person can act on.

A value refused by a model (an update's input, a typed request from the command line, a domain event
being made) is reported as one sentence per problem, naming the field and saying what it must be:
"comfort must be a whole number, not true", "person_id 'T01' is not an id: use lower-case letters,
digits, '-' and '_', up to 64 characters". Never pydantic's own report: no error codes, no URLs, no
regular expressions, and never more than a short excerpt of what was sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from domain.vocabulary import PATTERN_RULES

SHOWN_CHARACTERS = 40  # a refusal quotes at most this much of a value


def field_path(loc: Sequence[str | int]) -> str:
    """A field's path as people write it: ``phases[2].gate.quorum`` (empty for the whole value)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            path += f".{part}" if path else str(part)
    return path


def shown(value: Any) -> str:
    """A short, printable excerpt of a value, written as JSON writes it (``true``, ``'T01'``, ``4.5``)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 6.0 is the 6 a person wrote (a float field keeps it as 6.0)
    if isinstance(value, int | float):
        text = str(value)
        return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "..."
    if isinstance(value, str):
        return f"'{_printable_excerpt(value)}'"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__}"


def _printable_excerpt(text: str) -> str:
    excerpt = text[:SHOWN_CHARACTERS]
    escaped = "".join(
        c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else f"\\u{ord(c):04x}" for c in excerpt
    )
    return escaped + ("..." if len(text) > SHOWN_CHARACTERS else "")


def problem_sentence(error: ErrorDetails, *, field: str | None = None) -> str:
    """One problem pydantic found, as a sentence naming the field (``field`` overrides its path)."""
    name = field if field is not None else field_path(error["loc"]) or "the value"
    kind = error["type"]
    value = error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    got = shown(value)
    match kind:
        case "missing":
            return f"{name} is required"
        case "extra_forbidden":
            return f"{name} is not a known field here (check the spelling)"
        case "int_type" | "int_parsing" | "int_from_float":
            number = repr(value) if isinstance(value, float) else got  # 4.0 is not a whole number in JSON
            return f"{name} must be a whole number, not {number}"
        case "float_type" | "float_parsing":
            return f"{name} must be a number, not {got}"
        case "finite_number":
            return f"{name} must be a finite number, not {got}"
        case "bool_type" | "bool_parsing":
            return f"{name} must be true or false, not {got}"
        case "string_type":
            return f"{name} must be text, not {got}"
        case "string_unicode":
            return f"{name} is not text: it holds half of a UTF-16 surrogate pair (send UTF-8 text)"
        case "string_pattern_mismatch":
            rule = PATTERN_RULES.get(str(ctx.get("pattern")), "is not in the expected form")
            return f"{name} {got} {rule}"
        case "string_too_short":
            least = int(ctx.get("min_length", 1))
            if least == 1:
                return f"{name} must not be blank"
            return f"{name} must have at least {least:,} characters"
        case "string_too_long":
            most = int(ctx.get("max_length", 0))
            length = len(value) if isinstance(value, str) else 0
            return f"{name} has {length:,} characters, more than the {most:,} allowed"
        case "too_short":
            least, actual = int(ctx.get("min_length", 1)), int(ctx.get("actual_length", 0))
            if actual == 0:
                return f"{name} is empty: give at least {least}"
            return f"{name} has {actual} item{'s' * (actual != 1)}, fewer than the {least} needed"
        case "too_long":
            most, actual = int(ctx.get("max_length", 0)), ctx.get("actual_length")
            have = f"has {actual} items" if actual is not None else "has too many items"
            return f"{name} {have}, more than the {most} allowed"
        case "tuple_type" | "list_type" | "set_type" | "frozen_set_type" | "iterable_type":
            return f"{name} must be a list, not {got}"
        case "dict_type" | "model_type" | "model_attributes_type" | "dataclass_type":
            return f"{name} must be an object (a mapping of fields to values), not {got}"
        case "literal_error" | "enum":
            return f"{name} must be {ctx.get('expected', 'one of the allowed values')}, not {got}"
        case "greater_than":
            return f"{name} must be greater than {shown(ctx.get('gt'))}, not {got}"
        case "greater_than_equal":
            return f"{name} must be at least {shown(ctx.get('ge'))}, not {got}"
        case "less_than":
            return f"{name} must be less than {shown(ctx.get('lt'))}, not {got}"
        case "less_than_equal":
            return f"{name} must be at most {shown(ctx.get('le'))}, not {got}"
        case "date_type" | "date_parsing" | "date_from_datetime_parsing" | "date_from_datetime_inexact":
            return f"{name} must be a date that exists, written YYYY-MM-DD, not {got}"
        case "datetime_type" | "datetime_parsing" | "datetime_from_date_parsing" | "timezone_aware":
            return f"{name} must be a time written like 2025-03-01T10:00:00Z, not {got}"
        case "json_invalid":
            return f"{name} is not valid JSON"
        case "value_error" | "assertion_error":
            reason = str(ctx.get("error") or error["msg"]).removeprefix("Value error, ")
            return f"{name} {reason}" if reason[:1].islower() else f"{name}: {reason}"
        case _:
            message = error["msg"]
            return f"{name}: {message[:1].lower()}{message[1:]}"


def validation_sentence(exc: ValidationError, *, prefix: str = "", first_only: bool = False) -> str:
    """Every problem of a refused value, one clause each, in one sentence (``prefix`` goes before
    each field path, e.g. ``plan.``); or only the first, where the others follow from it."""
    clauses: list[str] = []
    for error in exc.errors()[:1] if first_only else exc.errors():
        path = field_path(error["loc"])
        clause = problem_sentence(error, field=f"{prefix}{path}" if path else prefix.rstrip(".") or None)
        if clause not in clauses:
            clauses.append(clause)
    if len(clauses) <= 2:
        return ", and ".join(clauses)
    return "; ".join(clauses[:-1]) + f"; and {clauses[-1]}"
