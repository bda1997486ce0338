"""Index definitions in the fake Azure AI Search service: what ``create`` and ``create_or_update`` accept.

Definitions are the REST JSON the SDK sends (``SearchIndex`` serialised by azure-search-documents 12.0.0) and are
validated as the service does (see search_store for the rules); an update may add fields and change semantic or
vector settings, but changing or removing an existing field, or the algorithm or compression of a profile an existing
vector field uses, is a 400 (that needs a rebuild).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from tests.fakes.search_store import Index, ServiceError, valid_name

MAX_DIMENSIONS = 4096
_IMMUTABLE = ("type", "key", "searchable", "filterable", "sortable", "facetable", "dimensions", "analyzer")


def validate_definition(body: Mapping[str, Any]) -> None:
    name = str(body.get("name") or "")
    if not valid_name(name):
        raise ServiceError(
            400, f"The request is invalid. Details: index name '{name}' is not valid.", code="InvalidName"
        )
    fields = body.get("fields") or []
    names = [str(f.get("name")) for f in fields]
    duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
    if duplicates:
        raise ServiceError(400, f"The request is invalid. Details: duplicate field names: {', '.join(duplicates)}.")
    keys = [f for f in fields if f.get("key")]
    if len(keys) != 1 or keys[0].get("type") != "Edm.String":
        raise ServiceError(
            400, "The request is invalid. Details: the index must have exactly one Edm.String key field."
        )
    profiles = _validate_profiles(body.get("vectorSearch") or {})
    for spec in fields:
        if spec.get("type") == "Collection(Edm.Single)":
            dimensions = spec.get("dimensions")
            if not isinstance(dimensions, int) or not 1 <= dimensions <= MAX_DIMENSIONS:
                raise ServiceError(
                    400,
                    f"The request is invalid. Details: The vector field '{spec['name']}' must have the property "
                    f"'dimensions' set (1-{MAX_DIMENSIONS}).",
                )
            if spec.get("vectorSearchProfile") not in profiles:
                raise ServiceError(
                    400, f"The request is invalid. Details: vector field '{spec['name']}' names an unknown profile."
                )
    semantic_fields = set(names)
    for config in (body.get("semantic") or {}).get("configurations") or []:
        prioritized = config.get("prioritizedFields") or {}
        used = [(prioritized.get("titleField") or {}).get("fieldName")]
        used += [f.get("fieldName") for f in prioritized.get("prioritizedContentFields") or []]
        used += [f.get("fieldName") for f in prioritized.get("prioritizedKeywordsFields") or []]
        unknown = [u for u in used if u is not None and u not in semantic_fields]
        if unknown:
            raise ServiceError(400, f"The request is invalid. Details: semantic field '{unknown[0]}' is not a field.")


def _validate_profiles(vector_search: Mapping[str, Any]) -> set[str]:
    """The profile names; 400 when a profile names an algorithm, vectorizer or compression the index lacks."""
    known = {
        part: {str(item.get("name")) for item in vector_search.get(collection) or []}
        for part, collection in (
            ("algorithm", "algorithms"),
            ("vectorizer", "vectorizers"),
            ("compression", "compressions"),
        )
    }
    names: set[str] = set()
    for profile in vector_search.get("profiles") or []:
        names.add(str(profile.get("name")))
        for part, defined in known.items():
            wanted = profile.get(part)
            if (wanted is not None or part == "algorithm") and wanted not in defined:
                raise ServiceError(
                    400,
                    f"The request is invalid. Details: vector profile '{profile.get('name')}' names an unknown "
                    f"{part} '{wanted}'.",
                )
    return names


def check_update(old: Index, body: Mapping[str, Any]) -> None:
    """An update may add fields; changing or removing one, or the algorithm or compression of a profile an existing
    vector field uses, needs a new index (400)."""
    _check_profiles_in_use(old, body)
    new_fields = {str(f.get("name")): f for f in body.get("fields") or []}
    for name, spec in old.fields.items():
        if name not in new_fields:
            raise ServiceError(
                400, f"The request is invalid. Details: Existing field(s) '{name}' cannot be deleted from the index."
            )
        changed = [a for a in _IMMUTABLE if _attribute(spec, a) != _attribute(new_fields[name], a)]
        if changed:
            raise ServiceError(
                400,
                f"The request is invalid. Details: Existing field '{name}' cannot be changed ({changed[0]}). "
                "Create a new index instead.",
                code="OperationNotAllowed",
            )


def _check_profiles_in_use(old: Index, body: Mapping[str, Any]) -> None:
    def profiles(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        return {str(p.get("name")): p for p in (definition.get("vectorSearch") or {}).get("profiles") or []}

    before, after = profiles(old.definition), profiles(body)
    in_use = {str(f.get("vectorSearchProfile")) for f in old.fields.values() if f.get("vectorSearchProfile")}
    for name in sorted(in_use & before.keys()):
        for part in ("algorithm", "compression"):
            if before[name].get(part) != after.get(name, {}).get(part):
                raise ServiceError(
                    400,
                    f"The request is invalid. Details: the {part} of vector profile '{name}' cannot be changed "
                    "while a vector field uses it. Create a new index instead.",
                    code="OperationNotAllowed",
                )


def _attribute(spec: Mapping[str, Any], name: str) -> Any:
    value = spec.get(name)
    return bool(value) if name in ("key", "searchable", "filterable", "sortable", "facetable") else value
