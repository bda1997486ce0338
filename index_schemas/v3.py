"""Index schema version 3: v2 plus document-level access control (``oids``) and the digest that keeps it current.

============== ========================== =============================================================================
field          type                       attributes and meaning
============== ========================== =============================================================================
(v2 fields)                               unchanged, see ``index_schemas/v2.py``; v1's ``groups`` (filterable, not
                                          retrievable) now always holds the document's resolved ACL groups, with the
                                          sentinel ``*`` for a public document (``ingestion/acl.py``)
oids           Collection(Edm.String)     filterable, not retrievable. User object ids allowed to see the chunk
acl_hash       Edm.String                 Digest of ``oids`` + ``groups`` (``Acl.digest``); chunk 0's is the recorded
                                          one: a different digest with the same content is an ACL-only change, written
                                          as a ``merge`` of ``oids``, ``groups`` and ``acl_hash`` (no re-embedding)
============== ========================== =============================================================================

Both are field additions, IN PLACE on Azure AI Search. v3 is nevertheless released through ``schema migrate --to 3``
(a new index, swapped in when complete): documents of a v1/v2 index carry no ``oids`` and their ``groups`` no public
sentinel, so an in-place upgrade would serve trimmed queries wrong until every document was rewritten; a migration
fills the new index completely first, copying every vector (zero tokens embedded).

The vector field keeps v1's ``stored: true``: a partial ``merge`` on Azure AI Search silently drops a vector that is
not stored unless it is sent again, and the ACL-only update merges without vectors.

Released versions are frozen: v3 is built from ``v2.build``.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from index_schemas import v1, v2
from index_schemas.documents import ChunkLike, RecordLike
from index_schemas.params import SchemaParams
from index_schemas.types import IndexDefinition, IndexField

VERSION = 3


class Field(StrEnum):
    """The field names v3 adds to v2's (``v2.Field``) and v1's (``v1.Field``)."""

    OIDS = "oids"
    ACL_HASH = "acl_hash"


def build(params: SchemaParams) -> IndexDefinition:
    """The v3 index definition for ``params``: v2's, plus ``oids`` and ``acl_hash`` after ``groups``."""
    index = v2.build(params)
    fields = list(index.fields)
    position = [field.name for field in fields].index(v1.Field.GROUPS) + 1
    fields[position:position] = [
        IndexField(Field.OIDS, "Collection(Edm.String)", filterable=True, retrievable=False),
        IndexField(Field.ACL_HASH, "Edm.String"),
    ]
    return replace(index, fields=tuple(fields))


def to_document(record: RecordLike, chunk: ChunkLike) -> dict[str, object]:
    """The v3 search document for one chunk: v2's, plus ``oids`` and the record's ``acl_hash``."""
    return {**v2.to_document(record, chunk), Field.OIDS: list(chunk.oids), Field.ACL_HASH: record.acl_hash}
