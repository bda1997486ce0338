"""The embedded default index: one SQLite file, FTS5 BM25 for text, exact cosine k-NN in numpy, RRF for hybrid.

``LocalIndex`` implements ``ingestion.indexing.base.Index``; its tables derive from the latest Azure AI Search
definition in ``index_schemas`` (see ``local/schema.py``), so both backends store and mean the same fields.

- One file can hold several physical indexes (``grounding-v1``, ``grounding-v2``...), each in its own tables, plus a
  shared ``aliases`` table. ``set_alias`` creates or moves an alias to this index and ``resolve_alias`` reads one;
  versions, in-place upgrades, alias swaps and retention are ``local/admin.LocalIndexAdmin``'s (the ``IndexAdmin``
  of ``ingestion/indexing/admin.py``). Each index has one schema ``version`` (default: ``index_schemas.LATEST``)
  whose definition its tables derive from; opening an index at another version than the file records fails.
- ``replace_document`` is one ``BEGIN IMMEDIATE`` transaction: upsert the chunks, delete the document's other chunks,
  write the record. Any failure rolls all of it back, so the previous version stays searchable and intact.
- Concurrency: one connection (``check_same_thread=False``) guarded by a ``threading.Lock`` (``db.SqliteFile``, which
  ``LocalIndexAdmin`` uses too); every call runs in a worker thread (``asyncio.to_thread``) and holds the lock only
  while it talks to SQLite. SQLite admits one writer at a time anyway, so connections per thread would only add
  ``SQLITE_BUSY`` waits between our own threads, and one connection makes "many asyncio tasks replacing documents at
  once" simply serial. Other processes (or other ``LocalIndex`` objects on the same file) are handled by WAL mode and
  ``busy_timeout``; a lock still held after the timeout is a TransientError.
- Vectors: the whole matrix is cached in memory as unit float32 rows (100k x 384 is ~150 MB) and scored with one
  matrix-vector product. Every write transaction bumps the index's ``generation`` in the ``indexes`` table, and a
  search rebuilds the cache when the stored generation differs, which also catches writes from other processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np

from index_schemas import LATEST, TO_DOCUMENT, VERSIONS
from index_schemas.names import is_valid_index_name
from index_schemas.v1 import Field
from ingestion.acl import Acl, Principal
from ingestion.errors import ConfigurationError
from ingestion.indexing.base import HIT_FIELDS, IndexStats, plan_search
from ingestion.indexing.definitions import build_definition
from ingestion.indexing.fusion import ExactTermRule, exact_terms, hybrid_vector_weight
from ingestion.indexing.local.acl import require_acl, visible_rows, write_acl
from ingestion.indexing.local.db import (
    SqliteFile,
    check_chunks,
    hit_from_row,
    point_alias,
    record_from_row,
    record_row,
    resolve_alias,
    table_exists,
    transaction,
)
from ingestion.indexing.local.query import VectorMatrix, prefix_upper_bound
from ingestion.indexing.local.schema import ROWID, SHARED_DDL, LocalSchema, decode_vector, quote
from ingestion.indexing.local.text import EXACT_COUNT_LIMIT, count_phrase, text_ranking
from ingestion.indexing.rrf import reciprocal_rank_fusion
from ingestion.models import DocumentRecord, IndexChunk, SearchHit, SearchMode

T = TypeVar("T")


class LocalIndex:
    """A physical index named ``name`` with ``dimensions``-long vectors, stored in the SQLite file at ``path``.

    ``version`` is the schema version (``index_schemas.VERSIONS``) its tables and documents follow; ``rrf_k`` is the
    RRF constant of HYBRID search and ``vector_weight`` the weight of its vector ranking (the text ranking weighs 1,
    as on Azure AI Search), replaced by ``exact_term_vector_weight`` (when given) for a query that names a rare
    exact term of the index (``fusion.ExactTermRule``); ``busy_timeout`` (seconds) is how long a write waits for
    another process's lock before failing with TransientError; ``page_size`` is how many records ``list_documents``
    reads per query. A bad name, version or dimensions raise ConfigurationError; nothing touches the file until the
    first call.
    """

    def __init__(
        self,
        path: Path,
        name: str,
        dimensions: int,
        *,
        version: int | None = None,
        rrf_k: int = 60,
        vector_weight: float = 1.0,
        exact_term_vector_weight: float | None = None,
        busy_timeout: float = 5.0,
        page_size: int = 500,
    ) -> None:
        if rrf_k < 0 or busy_timeout < 0 or page_size < 1 or not vector_weight > 0:
            raise ValueError("rrf_k and busy_timeout must be >= 0, vector_weight > 0 and page_size >= 1")
        self.version = LATEST if version is None else version
        if self.version not in VERSIONS:
            raise ConfigurationError(f"local index {name}: unknown index schema version {self.version}")
        # Validates the name and dimensions (ConfigurationError) and gives the field definitions.
        definition = build_definition(self.version, name, dimensions)
        self.path = Path(path)
        self.name = name
        self.settle_seconds = 0.0  # one SQLite file: a committed write is visible to the next read
        self.dimensions = dimensions
        self.rrf_k = rrf_k
        self.vector_weight = vector_weight
        self.exact_term_rule = None if exact_term_vector_weight is None else ExactTermRule(exact_term_vector_weight)
        self._schema = LocalSchema.for_index(definition)
        self._to_document = TO_DOCUMENT[self.version]
        self._upsert = self._schema.upsert_sql()
        self._file = SqliteFile(self.path, busy_ms=int(busy_timeout * 1000), context=f"local index {name}")
        self._page_size = page_size
        self._ready = False
        self._matrix: VectorMatrix | None = None

    # -- Index protocol ------------------------------------------------------------------------------------------

    async def ensure(self) -> None:
        await self._run("create", self._ensure_sync)

    async def get_document(self, parent_key: str) -> DocumentRecord | None:
        sql = f"SELECT {', '.join(self._schema.record_columns)} FROM {self._schema.documents} WHERE key = ?"
        row = await self._run("read a record", self._read, sql, (parent_key,), one=True)
        return record_from_row(row) if row else None

    async def get_vectors(self, parent_key: str) -> dict[str, np.ndarray]:
        sql = (
            f"SELECT {quote(Field.CHUNK_HASH)}, {quote(Field.EMBEDDING)} FROM {self._schema.chunks} "
            f"WHERE {quote(Field.PARENT_ID)} = ? ORDER BY {quote(Field.ORDINAL)}"
        )
        rows = await self._run("read vectors", self._read, sql, (parent_key,))
        return {chunk_hash: decode_vector(blob) for chunk_hash, blob in rows}

    async def replace_document(self, record: DocumentRecord, chunks: Sequence[IndexChunk]) -> None:
        if record.indexed_at is None:
            record = dataclasses.replace(record, indexed_at=datetime.now(UTC))
        rows = await asyncio.to_thread(self._encode, record, chunks)
        keys = [chunk.key for chunk in chunks]
        await self._run(f"write document {record.source_path}", self._replace_sync, record, rows, keys)

    async def update_acl(self, parent_key: str, acl: Acl) -> bool:
        require_acl(self._schema, index=self.name, version=self.version, what="an ACL update")
        return await self._run(f"update the ACL of {parent_key}", self._update_acl_sync, parent_key, acl)

    async def delete_document(self, parent_key: str) -> bool:
        return await self._run(f"delete document {parent_key}", self._delete_sync, parent_key)

    async def list_documents(self, *, prefix: str = "") -> AsyncIterator[DocumentRecord]:
        after: tuple[str, str] | None = None
        while True:
            rows = await self._run("list documents", self._page_sync, prefix, after)
            for row in rows:
                yield record_from_row(row)
            if len(rows) < self._page_size:
                return
            after = (rows[-1][1], rows[-1][0])

    async def search(
        self,
        text: str,
        *,
        vector: np.ndarray | None = None,
        mode: SearchMode = SearchMode.HYBRID,
        top: int = 5,
        source_path: str | None = None,
        principal: Principal | None = None,
    ) -> list[SearchHit]:
        mode, query, depth = plan_search(vector, mode=mode, top=top, dimensions=self.dimensions)
        if principal is not None:
            require_acl(self._schema, index=self.name, version=self.version, what="a trimmed query")
        by_text: list[tuple[int, float]] = []
        by_vector: list[tuple[int, float]] = []
        if mode is not SearchMode.VECTOR:
            by_text = await self._run(
                "text search", self._with_schema, text_ranking, text, depth=depth, source_path=source_path,
                principal=principal,
            )  # fmt: skip
        if query is not None:
            by_vector = await self._run("vector search", self._vector_sync, query, depth, source_path, principal)
        if mode is SearchMode.HYBRID:
            weight = await self.hybrid_vector_weight(text, principal)
            ranked = reciprocal_rank_fusion(
                [[r for r, _ in by_text], [r for r, _ in by_vector]], k=self.rrf_k, weights=[1.0, weight]
            )
        else:
            ranked = by_text if mode is SearchMode.TEXT else by_vector
        return await self._run("read hits", self._hits_sync, ranked[:top])

    async def hybrid_vector_weight(self, text: str, principal: Principal | None = None) -> float:
        """The vector ranking's RRF weight for a HYBRID query on ``text`` (``fusion.ExactTermRule``), counting only
        the chunks ``principal`` may see (``local/text.py``)."""
        rule = self.exact_term_rule
        terms = exact_terms(text) if rule is not None else []
        if rule is None or not terms:
            return self.vector_weight
        counts = await self.count_exact(terms, limit=rule.max_chunks + 1, principal=principal)
        return hybrid_vector_weight(self.vector_weight, rule, counts)

    async def count_exact(
        self, terms: Sequence[str], *, limit: int = EXACT_COUNT_LIMIT, principal: Principal | None = None
    ) -> list[int]:
        """Per term, how many chunks (counting stops at ``limit``) contain it as a phrase in a searchable field, of
        those ``principal`` may see (all of them without one)."""
        run, count = self._run, self._with_schema
        return [await run("count exact term", count, count_phrase, t, limit=limit, principal=principal) for t in terms]

    async def stats(self) -> IndexStats:
        documents, chunks = await self._run("count", self._stats_sync)
        return IndexStats(name=self.name, documents=documents, chunks=chunks)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)

    # -- aliases -------------------------------------------------------------------------------------------------

    async def set_alias(self, alias: str) -> None:
        """Point ``alias`` at this index, creating it or moving it from another index in the same file."""
        if not is_valid_index_name(alias) or alias == self.name:
            raise ConfigurationError(f"{alias!r} is not a valid alias for local index {self.name}")
        await self._run(f"set alias {alias}", self._set_alias_sync, alias)

    async def resolve_alias(self, alias: str) -> str | None:
        """The index name ``alias`` points at in this file, or None."""
        return await self._run(f"resolve alias {alias}", self._resolve_alias_sync, alias)

    # -- worker-thread side --------------------------------------------------------------------------------------

    async def _run(self, what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await self._file.run(what, fn, *args, **kwargs)

    @contextmanager
    def _session(self, *, require_index: bool = True) -> Iterator[sqlite3.Connection]:
        with self._file.session() as conn:
            if require_index and not self._ready:
                self._check_registered(conn)
            yield conn

    def _check_registered(self, conn: sqlite3.Connection) -> None:
        row = None
        if table_exists(conn, "indexes"):
            row = conn.execute(
                "SELECT prefix, schema_version, dimensions FROM indexes WHERE name = ?", (self.name,)
            ).fetchone()
        if row is None:
            raise ConfigurationError(
                f"local index {self.name} does not exist in {self.path}: nothing has been ingested into it yet "
                "(run python -m ingestion ingest; in code, ensure() creates it)"
            )
        self._check_compatible(row)
        self._ready = True

    def _check_compatible(self, row: tuple[str, int, int]) -> None:
        prefix, version, dimensions = row
        if dimensions != self.dimensions:
            raise ConfigurationError(
                f"local index {self.name} in {self.path} holds {dimensions}-dimension vectors, not {self.dimensions}: "
                "use a new index name (python -m ingestion schema migrate)"
            )
        if version != self.version or prefix != self._schema.prefix:
            raise ConfigurationError(
                f"local index {self.name} in {self.path} has schema v{version}, not v{self.version}"
            )

    def _ensure_sync(self) -> None:
        with self._session(require_index=False) as conn:
            with transaction(conn):
                for statement in SHARED_DDL:
                    conn.execute(statement)
                row = conn.execute(
                    "SELECT prefix, schema_version, dimensions FROM indexes WHERE name = ?", (self.name,)
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO indexes (name, prefix, schema_version, dimensions, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (self.name, self._schema.prefix, self.version, self.dimensions, datetime.now(UTC).isoformat()),
                    )
                else:
                    self._check_compatible(row)
                for statement in self._schema.ddl():
                    conn.execute(statement)
            self._ready = True

    def _read(self, sql: str, params: Sequence[object], *, one: bool = False) -> list[tuple] | tuple | None:
        with self._session() as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchone() if one else cursor.fetchall()

    def _encode(self, record: DocumentRecord, chunks: Sequence[IndexChunk]) -> list[tuple[object, ...]]:
        """Validate every chunk (ValueError before anything is written) and encode it as a row."""
        check_chunks(record, chunks, self.dimensions)
        return [self._schema.encode(self._to_document(record, chunk)) for chunk in chunks]

    def _replace_sync(self, record: DocumentRecord, rows: list[tuple[object, ...]], keys: list[str]) -> None:
        chunks, documents = self._schema.chunks, self._schema.documents
        columns = self._schema.record_columns
        placeholders = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        with self._session() as conn, transaction(conn):
            conn.executemany(self._upsert, rows)
            conn.execute(
                f"DELETE FROM {chunks} WHERE {quote(Field.PARENT_ID)} = ? "
                f"AND {quote(Field.ID)} NOT IN (SELECT value FROM json_each(?))",
                (record.key, json.dumps(keys)),
            )
            conn.execute(
                f"INSERT INTO {documents} ({', '.join(columns)}) VALUES ({placeholders}) "
                f"ON CONFLICT (key) DO UPDATE SET {updates}",
                record_row(record, acl=self._schema.tracks_acl),
            )
            self._bump_generation(conn)

    def _update_acl_sync(self, parent_key: str, acl: Acl) -> bool:
        with self._session() as conn, transaction(conn):
            updated = write_acl(conn, self._schema, parent_key, acl)
            if updated:
                self._bump_generation(conn)
        return updated

    def _delete_sync(self, parent_key: str) -> bool:
        with self._session() as conn, transaction(conn):
            removed = conn.execute(
                f"DELETE FROM {self._schema.chunks} WHERE {quote(Field.PARENT_ID)} = ?", (parent_key,)
            ).rowcount
            removed += conn.execute(f"DELETE FROM {self._schema.documents} WHERE key = ?", (parent_key,)).rowcount
            if removed:
                self._bump_generation(conn)
        return removed > 0

    def _bump_generation(self, conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE indexes SET generation = generation + 1 WHERE name = ?", (self.name,))

    def _page_sync(self, prefix: str, after: tuple[str, str] | None) -> list[tuple]:
        where, params = ["source_id >= ?"], [prefix]
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            where.append("source_id < ?")
            params.append(upper)
        if after is not None:
            where.append("(source_id, key) > (?, ?)")
            params.extend(after)
        sql = (
            f"SELECT {', '.join(self._schema.record_columns)} FROM {self._schema.documents} "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY source_id, key LIMIT ?"
        )
        return self._read(sql, [*params, self._page_size])

    def _with_schema(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``fn(conn, schema, *args, **kwargs)`` in a session (for the readers of ``local/text.py``)."""
        with self._session() as conn:
            return fn(conn, self._schema, *args, **kwargs)

    def _vector_sync(
        self, query: np.ndarray, depth: int, source_path: str | None, principal: Principal | None
    ) -> list[tuple[int, float]]:
        with self._session() as conn:
            matrix = self._current_matrix(conn)
            allowed = None if principal is None else visible_rows(conn, self._schema, principal, ROWID)
        return matrix.nearest(query, depth, source_path=source_path, allowed=allowed)

    def _current_matrix(self, conn: sqlite3.Connection) -> VectorMatrix:
        with transaction(conn, mode="DEFERRED"):
            (generation,) = conn.execute("SELECT generation FROM indexes WHERE name = ?", (self.name,)).fetchone()
            if self._matrix is not None and self._matrix.generation == generation:
                return self._matrix
            chunks = self._schema.chunks
            (count,) = conn.execute(f"SELECT COUNT(*) FROM {chunks}").fetchone()
            rows = conn.execute(
                f"SELECT {ROWID}, {quote(Field.SOURCE_PATH)}, {quote(Field.EMBEDDING)} FROM {chunks} ORDER BY {ROWID}"
            )
            self._matrix = VectorMatrix.load(rows, count=count, dimensions=self.dimensions, generation=generation)
        return self._matrix

    def _hits_sync(self, ranked: list[tuple[int, float]]) -> list[SearchHit]:
        if not ranked:
            return []
        columns = ", ".join(quote(c) for c in HIT_FIELDS)
        sql = f"SELECT {ROWID}, {columns} FROM {self._schema.chunks} WHERE {ROWID} IN (SELECT value FROM json_each(?))"
        rows = {row[0]: row[1:] for row in self._read(sql, (json.dumps([rid for rid, _ in ranked]),))}
        return [hit_from_row(rows[rid], score) for rid, score in ranked if rid in rows]

    def _stats_sync(self) -> tuple[int, int]:
        with self._session() as conn:
            (documents,) = conn.execute(f"SELECT COUNT(*) FROM {self._schema.documents}").fetchone()
            (chunks,) = conn.execute(f"SELECT COUNT(*) FROM {self._schema.chunks}").fetchone()
        return documents, chunks

    def _set_alias_sync(self, alias: str) -> None:
        with self._session() as conn, transaction(conn):
            point_alias(conn, alias, self.name)

    def _resolve_alias_sync(self, alias: str) -> str | None:
        with self._session(require_index=False) as conn:
            return resolve_alias(conn, alias)

    def _close_sync(self) -> None:
        self._file.close_sync(then=self._forget_state)

    def _forget_state(self) -> None:
        self._ready = False
        self._matrix = None
