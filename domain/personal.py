"""Marking personal data in models, and listing where it sits.

Events name people only by opaque id. Free text that may hold personal data (reasons, notes, findings)
and the few plan fields that name people are annotated with `PersonalData`, e.g.
`Annotated[str | None, PersonalData(owner="person_id")]`. `personal_fields(model)` walks a model class
and returns every marked field's path (`plan.people[].display_name`), with the path of the person id
whose key should protect it, so the personal-data layer can encrypt exactly those fields.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema


@dataclass(frozen=True)
class PersonalData:
    """Annotation marking a field that may hold personal data.

    `owner` names a sibling field holding the id of the person the text belongs to (the voter for a
    vote's reason); None when the text has no single owner. The JSON Schema shows `"personal_data": true`.
    """

    owner: str | None = None

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["personal_data"] = True
        return json_schema


class PersonalField(NamedTuple):
    """Where personal data sits in a payload: `path` like `reason` or `plan.people[].display_name`
    (`[]` means every item of a list), and `owner`, the path of the id of the person it belongs to."""

    path: str
    owner: str | None


def personal_fields(model: type[BaseModel], prefix: str = "") -> tuple[PersonalField, ...]:
    """Every field of `model` (recursively through nested models and lists) marked `PersonalData`."""
    found: list[PersonalField] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        for meta in info.metadata:
            if isinstance(meta, PersonalData):
                owner = f"{prefix}{meta.owner}" if meta.owner else None
                found.append(PersonalField(path, owner))
        for nested, suffix in _nested_models(info.annotation):
            found.extend(personal_fields(nested, f"{path}{suffix}."))
    return tuple(found)


def _nested_models(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    """Models reachable from a field's type, with `[]` when reached through a list, tuple or dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    origin = get_origin(annotation)
    if origin is None:
        return []
    args = [a for a in get_args(annotation) if a is not Ellipsis]
    if origin in (Union, types.UnionType):
        return [found for arg in args for found in _nested_models(arg)]
    if origin in (tuple, list, set, frozenset, dict):
        items = args[-1:] if origin is dict else args
        return [(model, f"[]{suffix}") for arg in items for model, suffix in _nested_models(arg)]
    return [found for arg in args for found in _nested_models(arg)]
