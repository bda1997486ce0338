"""The local index's FTS5 reads: the text (BM25) ranking and the exact-term phrase count, both trimmed alike.

A ``Principal`` restricts both to the chunks it may see (``local/acl.visible_clause``). The count feeds the
exact-term rule of hybrid search (``fusion.ExactTermRule``), so a trimmed query's fusion weight depends only on
visible chunks: otherwise how a user's results are ranked would tell whether a term occurs in documents they
cannot read. Without a principal (the operator view) both read the whole index.
"""

from __future__ import annotations

import sqlite3

from index_schemas.v1 import Field
from ingestion.acl import Principal
from ingestion.indexing.fusion import phrase
from ingestion.indexing.local.acl import visible_clause, visible_params
from ingestion.indexing.local.query import fts_query
from ingestion.indexing.local.schema import ROWID, LocalSchema, quote

EXACT_COUNT_LIMIT = 1000
"""``count_exact`` stops counting here by default (the exact-term rule only asks whether a term is rare)."""


def text_ranking(
    conn: sqlite3.Connection,
    schema: LocalSchema,
    text: str,
    *,
    depth: int,
    source_path: str | None,
    principal: Principal | None,
) -> list[tuple[int, float]]:
    """(row id, BM25 score, higher is better) of the best ``depth`` chunks matching any word of ``text``."""
    match = fts_query(text)
    if match is None:
        return []
    fts = schema.fts
    weights = ", ".join(str(w) for w in schema.bm25_weights)
    filters, params = "", [match]
    if source_path is not None:
        filters, params = f"AND c.{quote(Field.SOURCE_PATH)} = ?", [*params, source_path]
    if principal is not None:
        filters, params = f"{filters} AND {visible_clause('c')}", [*params, *visible_params(principal)]
    sql = (
        f"SELECT c.{ROWID}, bm25({fts}, {weights}) AS score FROM {fts} JOIN {schema.chunks} AS c "
        f"ON c.{ROWID} = {fts}.rowid WHERE {fts} MATCH ? {filters} ORDER BY score, c.{ROWID} LIMIT ?"
    )
    return [(rid, -score) for rid, score in conn.execute(sql, [*params, depth])]


def count_phrase(
    conn: sqlite3.Connection, schema: LocalSchema, term: str, *, limit: int, principal: Principal | None
) -> int:
    """How many chunks (counting stops at ``limit``) contain ``term`` as a phrase, of those ``principal`` may see."""
    fts = schema.fts
    if principal is None:
        sql = f"SELECT COUNT(*) FROM (SELECT rowid FROM {fts} WHERE {fts} MATCH ? LIMIT ?)"
        params: list[object] = [phrase(term), limit]
    else:
        sql = (
            f"SELECT COUNT(*) FROM (SELECT c.{ROWID} FROM {fts} JOIN {schema.chunks} AS c ON c.{ROWID} = {fts}.rowid "
            f"WHERE {fts} MATCH ? AND {visible_clause('c')} LIMIT ?)"
        )
        params = [phrase(term), *visible_params(principal), limit]
    (count,) = conn.execute(sql, params).fetchone()
    return int(count)
