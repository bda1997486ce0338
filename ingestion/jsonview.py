"""One way to turn the result dataclasses into the JSON the commands print (``--json``) and the HTTP routes return.

``as_json(obj)`` walks ``obj``'s dataclass fields in declaration order and converts each value with ``json_value``
(datetimes to ISO 8601, enums to their value, nested results through their own ``as_dict``). A class whose JSON
differs from its fields says only how: ``rename`` (field -> key, kept in place), ``skip`` (fields left out), and
keyword ``values`` that replace a key's value in place or, for a key no field gives, are appended in the order given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any


def json_value(value: Any) -> Any:
    """``value`` as plain JSON data."""
    if value is None or (isinstance(value, bool | int | float | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_json(value)
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [json_value(item) for item in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def as_json(
    obj: Any, *, rename: Mapping[str, str] | None = None, skip: Iterable[str] = (), **values: Any
) -> dict[str, object]:
    """The JSON of dataclass ``obj`` (see the module docstring)."""
    rename, skipped = rename or {}, set(skip)
    result: dict[str, object] = {}
    for spec in dataclasses.fields(obj):
        if spec.name in skipped:
            continue
        key = rename.get(spec.name, spec.name)
        result[key] = json_value(values[key] if key in values else getattr(obj, spec.name))
    for key, value in values.items():
        if key not in result:
            result[key] = json_value(value)
    return result
