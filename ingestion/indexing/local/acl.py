"""Access control in the local SQLite store: the trimming clause and the ACL-only update (``ingestion/acl.py``).

``oids`` and ``groups`` are JSON arrays in the chunk rows (``local/schema.py``: collections are JSON text). A chunk is
visible to a ``Principal`` when ``groups`` holds ``*`` or one of the principal's groups, or ``oids`` holds its oid,
the same rule as the Azure AI Search filter ``Principal.odata_filter``. A NULL column (a document written before the
schema tracked ACLs) matches nothing: such a chunk is hidden from every trimmed query.
"""

from __future__ import annotations

import json
import sqlite3

from index_schemas.v1 import Field
from index_schemas.v3 import Field as AclField
from ingestion.acl import PUBLIC, Acl, Principal, require_acl_fields
from ingestion.indexing.local.schema import ACL_RECORD_COLUMN, LocalSchema, quote


def require_acl(schema: LocalSchema, *, index: str, version: int, what: str) -> None:
    """``require_acl_fields`` for a local schema."""
    require_acl_fields(schema.tracks_acl, index=index, version=version, what=what)


def visible_clause(alias: str) -> str:
    """SQL true when the chunk row ``alias`` is visible; parameters: ``visible_params(principal)``."""
    groups, oids = quote(Field.GROUPS), quote(AclField.OIDS)
    return (
        f"(EXISTS (SELECT 1 FROM json_each({alias}.{groups}) AS g WHERE g.value IN (SELECT value FROM json_each(?))) "
        f"OR EXISTS (SELECT 1 FROM json_each({alias}.{oids}) AS o WHERE o.value = ?))"
    )


def visible_params(principal: Principal) -> list[object]:
    return [json.dumps([PUBLIC, *principal.groups]), principal.oid]


def visible_rows(conn: sqlite3.Connection, schema: LocalSchema, principal: Principal, rowid: str) -> list[int]:
    """Row ids of every chunk ``principal`` may see."""
    sql = f"SELECT c.{rowid} FROM {schema.chunks} AS c WHERE {visible_clause('c')}"
    return [rid for (rid,) in conn.execute(sql, visible_params(principal))]


def write_acl(conn: sqlite3.Connection, schema: LocalSchema, parent_key: str, acl: Acl) -> bool:
    """Set every chunk's ACL fields and the record's ``acl_hash`` (in the caller's transaction); False if the
    document has no record."""
    digest = acl.digest()
    updated = conn.execute(
        f"UPDATE {schema.documents} SET {ACL_RECORD_COLUMN} = ? WHERE key = ?", (digest, parent_key)
    ).rowcount
    if not updated:
        return False
    conn.execute(
        f"UPDATE {schema.chunks} SET {quote(Field.GROUPS)} = ?, {quote(AclField.OIDS)} = ?, "
        f"{quote(AclField.ACL_HASH)} = ? WHERE {quote(Field.PARENT_ID)} = ?",
        (json.dumps(list(acl.groups), ensure_ascii=False), json.dumps(list(acl.oids), ensure_ascii=False), digest,
         parent_key),
    )  # fmt: skip
    return True
