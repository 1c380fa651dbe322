"""Building a typed request from loose values, with one sentence when a value is wrong.

Entrances parse what people type (options, form fields, files) into the workflow's message types; a
value pydantic refuses becomes a ``UserError`` naming the field and saying what it must be
(``domain.sentences``), never a multi-line report.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.sentences import validation_sentence

from .errors import UserError

M = TypeVar("M", bound=BaseModel)


def request(cls: type[M], **values: Any) -> M:
    """``cls(**values)``, or a ``UserError`` saying which field is wrong and why."""
    try:
        return cls(**values)
    except ValidationError as exc:
        raise UserError(validation_sentence(exc)) from None
