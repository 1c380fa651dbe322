"""Where two JSON values differ, leaf by leaf: for plan amendments and for checking that the fold of the
log equals a workflow's state. Paths look like `phases[widen].min_dwell_days`: list items with an `id` or
`key` are indexed by it, others by position."""

from __future__ import annotations

from typing import Any


def differing_leaves(old: Any, new: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The leaves of the parts of ``old`` and ``new`` that differ, as ({path: old leaf}, {path: new leaf});
    equal subtrees are skipped, and a path only in one of them was added or removed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _differing(old, new, "", before, after)
    return before, after


def differing_paths(old: Any, new: Any) -> list[str]:
    """The sorted paths at which ``old`` and ``new`` hold different leaves."""
    before, after = differing_leaves(old, new)
    return sorted(p for p in before.keys() | after.keys() if before.get(p, _ABSENT) != after.get(p, _ABSENT))


_ABSENT = object()


def _differing(old: Any, new: Any, path: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    """The leaves of the parts of `old` and `new` that differ (equal subtrees are skipped)."""
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict) and old and new:
        for key in old.keys() | new.keys():
            child = f"{path}.{key}" if path else str(key)
            _differing(old.get(key, _ABSENT), new.get(key, _ABSENT), child, before, after)
        return
    if isinstance(old, list) and isinstance(new, list) and old and new:
        old_items, new_items = _labelled(old), _labelled(new)
        for label in old_items.keys() | new_items.keys():
            child = f"{path}[{label}]"
            _differing(old_items.get(label, _ABSENT), new_items.get(label, _ABSENT), child, before, after)
        return
    if old is not _ABSENT:
        _leaves(old, path, before)
    if new is not _ABSENT:
        _leaves(new, path, after)


def _labelled(items: list[Any]) -> dict[Any, Any]:
    return {_label(item, i): item for i, item in enumerate(items)}


def _label(item: Any, index: int) -> Any:
    return item.get("id", item.get("key", index)) if isinstance(item, dict) else index


def _leaves(value: Any, path: str = "", found: dict[str, Any] | None = None) -> dict[str, Any]:
    """Flatten a JSON value to {path: leaf}; list items with an `id` or `key` are indexed by it."""
    found = {} if found is None else found
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _leaves(item, f"{path}.{key}" if path else str(key), found)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            _leaves(item, f"{path}[{_label(item, i)}]", found)
    else:
        found[path] = value
    return found
