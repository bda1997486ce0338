"""The one place an ``index_schemas`` definition becomes the SDK's ``SearchIndex`` and back.

Both directions go through the REST shape (``IndexDefinition.to_wire``), which the SDK's model reads and writes
unchanged (azure-search-documents 12: ``SearchIndex(wire).as_dict() == wire``).
"""

from __future__ import annotations

from azure.search.documents.indexes.models import SearchIndex

from index_schemas.types import IndexDefinition, definition_from_wire


def to_search_index(definition: IndexDefinition) -> SearchIndex:
    return SearchIndex(definition.to_wire())


def from_search_index(index: SearchIndex) -> IndexDefinition:
    return definition_from_wire(index.as_dict())
