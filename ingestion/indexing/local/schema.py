"""SQLite tables for one physical index, derived from its Azure AI Search definition so both backends mean the same.

For each field of the definition (``index_schemas.field_specs``):

- the key field becomes a ``TEXT NOT NULL UNIQUE`` column. The table's PRIMARY KEY is an ``INTEGER PRIMARY KEY``
  (``rid``) because FTS5 links rows by integer rowid, and only an aliased rowid is guaranteed to survive ``VACUUM``;
- searchable strings become columns of an external-content FTS5 table kept in step by triggers (the tokenizer follows
  the fields' analyzer; the triggers skip the FTS work when an upsert leaves the text as it was);
- filterable single values get a b-tree index; collections are stored as JSON text (``groups``: not indexed);
- the vector field is a BLOB of little-endian float32; DateTimeOffset is ISO 8601 text.

Document records live in their own table. Table names are ``ix_<slug>_<hash>_<kind>`` where ``slug`` is the index
name with ``-`` turned into ``_`` and ``hash`` 8 hex digits of its SHA-256, so ``a-b`` and ``a_b`` never share tables.
Two shared tables sit beside them: ``indexes`` (name, table prefix, schema version, dimensions, write generation) and
``aliases`` (alias -> index name).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from index_schemas import FieldSpec, field_specs
from index_schemas.types import IndexDefinition

ROWID = "rid"
# bm25() weight per FTS column; unlisted columns weigh 1.0. The heading path is short and dense, so a hit there
# says a little more than one in the body.
TEXT_WEIGHTS = {"title": 2.0}
# standard.lucene lowercases and splits on Unicode word boundaries without folding accents.
TOKENIZERS = {
    None: "unicode61 remove_diacritics 0",
    "standard.lucene": "unicode61 remove_diacritics 0",
    "standardasciifolding.lucene": "unicode61 remove_diacritics 2",
}
_SQL_TYPES = {
    "Edm.String": "TEXT",
    "Edm.Int32": "INTEGER",
    "Edm.Int64": "INTEGER",
    "Edm.Boolean": "INTEGER",
    "Edm.Double": "REAL",
    "Edm.DateTimeOffset": "TEXT",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SHARED_DDL = (
    """CREATE TABLE IF NOT EXISTS indexes (
        name TEXT PRIMARY KEY, prefix TEXT NOT NULL UNIQUE, schema_version INTEGER NOT NULL,
        dimensions INTEGER NOT NULL, generation INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS aliases (
        alias TEXT PRIMARY KEY, index_name TEXT NOT NULL REFERENCES indexes(name))""",
)
RECORD_COLUMNS = ("key", "source_id", "source_path", "content_hash", "fingerprint", "chunk_count", "indexed_at")
ACL_RECORD_COLUMN = "acl_hash"
"""The record column a schema that tracks ACLs (a field of that name: v3 on) adds to RECORD_COLUMNS."""


def quote(identifier: str) -> str:
    """Double-quote a column or table name (``end`` and ``start`` are SQL keywords); refuse anything unexpected."""
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"unsafe SQL identifier {identifier!r}")
    return f'"{identifier}"'


def table_prefix(index_name: str) -> str:
    digest = hashlib.sha256(index_name.encode("utf-8")).hexdigest()[:8]
    return f"ix_{re.sub(r'[^a-z0-9_]', '_', index_name)}_{digest}"


@dataclass(frozen=True)
class LocalSchema:
    prefix: str
    fields: tuple[FieldSpec, ...]

    @classmethod
    def for_index(cls, index: IndexDefinition) -> LocalSchema:
        schema = cls(prefix=table_prefix(index.name), fields=tuple(field_specs(index)))
        if len([f for f in schema.fields if f.key]) != 1 or len([f for f in schema.fields if f.is_vector]) != 1:
            raise ValueError(f"index {index.name} needs exactly one key field and one vector field")
        if not schema.text_fields:
            raise ValueError(f"index {index.name} has no searchable text field")
        if len({f.analyzer for f in schema.text_fields}) != 1 or schema.text_fields[0].analyzer not in TOKENIZERS:
            raise ValueError(f"index {index.name}: searchable fields need one shared, supported analyzer")
        return schema

    @property
    def chunks(self) -> str:
        return quote(f"{self.prefix}_chunks")

    @property
    def fts(self) -> str:
        return quote(f"{self.prefix}_fts")

    @property
    def documents(self) -> str:
        return quote(f"{self.prefix}_documents")

    @property
    def tracks_acl(self) -> bool:
        return any(f.name == ACL_RECORD_COLUMN for f in self.fields)

    @property
    def record_columns(self) -> tuple[str, ...]:
        """The document record table's columns: RECORD_COLUMNS, plus ``acl_hash`` when the schema tracks ACLs."""
        return RECORD_COLUMNS + ((ACL_RECORD_COLUMN,) if self.tracks_acl else ())

    @property
    def key(self) -> FieldSpec:
        return next(f for f in self.fields if f.key)

    @property
    def vector(self) -> FieldSpec:
        return next(f for f in self.fields if f.is_vector)

    @property
    def text_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.searchable and not f.is_vector and f.type == "Edm.String")

    @property
    def bm25_weights(self) -> tuple[float, ...]:
        return tuple(TEXT_WEIGHTS.get(f.name, 1.0) for f in self.text_fields)

    def ddl(self) -> list[str]:
        """Statements that create this index's tables, FTS triggers and column indexes (all IF NOT EXISTS)."""
        columns = [f"{ROWID} INTEGER PRIMARY KEY"] + [_column(f) for f in self.fields]
        text = [quote(f.name) for f in self.text_fields]
        tokenizer = TOKENIZERS[self.text_fields[0].analyzer]
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.chunks} ({', '.join(columns)})",
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.fts} USING fts5({', '.join(text)}, "
            f"content={self.chunks}, content_rowid={ROWID!r}, tokenize={tokenizer!r})",
            f"CREATE TABLE IF NOT EXISTS {self.documents} (key TEXT PRIMARY KEY, source_id TEXT NOT NULL, "
            "source_path TEXT NOT NULL, content_hash TEXT NOT NULL, fingerprint TEXT NOT NULL, "
            "chunk_count INTEGER NOT NULL, indexed_at TEXT"
            + (f", {ACL_RECORD_COLUMN} TEXT)" if self.tracks_acl else ")"),
            f"CREATE INDEX IF NOT EXISTS {quote(self.prefix + '_documents_source')} "
            f"ON {self.documents} (source_id, key)",
        ]
        statements += self._triggers(text)
        for spec in self.fields:
            if spec.filterable and not (spec.key or spec.collection or spec.is_vector):
                name = quote(f"{self.prefix}_chunks_{spec.name}")
                statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {self.chunks} ({quote(spec.name)})")
        return statements

    def upgrade_ddl(self, old: LocalSchema) -> list[str]:
        """Statements that turn ``old``'s tables (same index) into this schema's, for in-place changes only.

        New columns are appended (``ALTER TABLE ... ADD COLUMN``, null in existing rows) with their b-tree indexes;
        when the searchable text fields change, the FTS table and its triggers are recreated and rebuilt from the
        chunks. ValueError for anything else (a removed or retyped field needs a new index).
        """
        before = {f.name: f for f in old.fields}
        for spec in before.values():
            now = next((f for f in self.fields if f.name == spec.name), None)
            if now is None or (now.type, now.collection, now.dimensions, now.key) != (
                spec.type, spec.collection, spec.dimensions, spec.key,
            ):  # fmt: skip
                raise ValueError(f"field {spec.name} was removed or retyped: that needs a new index")
        added = [f for f in self.fields if f.name not in before]
        if any(f.key or f.is_vector for f in added):
            raise ValueError("a new key or vector field needs a new index in the local store")
        statements = [f"ALTER TABLE {self.chunks} ADD COLUMN {_column(f)}" for f in added]
        if self.tracks_acl and not old.tracks_acl:
            statements.append(f"ALTER TABLE {self.documents} ADD COLUMN {ACL_RECORD_COLUMN} TEXT")
        if [f.name for f in self.text_fields] != [f.name for f in old.text_fields]:
            statements += [f"DROP TRIGGER IF EXISTS {self._trigger(e)}" for e in ("ai", "ad", "au")]
            statements.append(f"DROP TABLE IF EXISTS {self.fts}")
        statements += self.ddl()
        if [f.name for f in self.text_fields] != [f.name for f in old.text_fields]:
            statements.append(f"INSERT INTO {self.fts} ({self.fts}) VALUES ('rebuild')")
        return statements

    def drop_ddl(self) -> list[str]:
        """Statements that remove this index's tables (their triggers and column indexes go with them)."""
        return [f"DROP TABLE IF EXISTS {table}" for table in (self.fts, self.chunks, self.documents)]

    def _triggers(self, text: list[str]) -> list[str]:
        fts_table = self.fts
        old = ", ".join(["old." + c for c in text])
        new = ", ".join(["new." + c for c in text])
        columns = ", ".join(text)
        delete_old = f"INSERT INTO {fts_table} ({fts_table}, rowid, {columns}) VALUES ('delete', old.{ROWID}, {old});"
        insert_new = f"INSERT INTO {fts_table} (rowid, {columns}) VALUES (new.{ROWID}, {new});"
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in text)
        return [
            f"CREATE TRIGGER IF NOT EXISTS {self._trigger('ai')} AFTER INSERT ON {self.chunks} BEGIN {insert_new} END",
            f"CREATE TRIGGER IF NOT EXISTS {self._trigger('ad')} AFTER DELETE ON {self.chunks} BEGIN {delete_old} END",
            f"CREATE TRIGGER IF NOT EXISTS {self._trigger('au')} AFTER UPDATE ON {self.chunks} WHEN {changed} "
            f"BEGIN {delete_old} {insert_new} END",
        ]

    def _trigger(self, event: str) -> str:
        return quote(f"{self.prefix}_fts_{event}")

    def upsert_sql(self) -> str:
        names = [quote(f.name) for f in self.fields]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != quote(self.key.name))
        return (
            f"INSERT INTO {self.chunks} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT ({quote(self.key.name)}) DO UPDATE SET {updates}"
        )

    def encode(self, document: Mapping[str, object]) -> tuple[object, ...]:
        """One search document (``TO_DOCUMENT`` output) as a row in ``upsert_sql`` column order."""
        return tuple(encode_value(spec, document.get(spec.name)) for spec in self.fields)


def encode_value(spec: FieldSpec, value: object) -> object:
    if value is None:
        return None
    if spec.is_vector:
        return np.ascontiguousarray(value, dtype="<f4").tobytes()
    if spec.collection:
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def _column(spec: FieldSpec) -> str:
    if spec.is_vector:
        sql_type = "BLOB NOT NULL"
    elif spec.collection:
        sql_type = "TEXT"
    else:
        sql_type = _SQL_TYPES.get(spec.type)
        if sql_type is None:
            raise ValueError(f"field {spec.name}: type {spec.type} has no local column type")
    if spec.key:
        sql_type += " NOT NULL UNIQUE"
    return f"{quote(spec.name)} {sql_type}"
