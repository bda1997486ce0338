"""``IndexAdmin`` for the local SQLite store: versions, in-place upgrades, the alias and retention, in one file.

The file already lists its physical indexes (``indexes``: name, schema version, dimensions) and aliases (``aliases``);
this module adds ``index_meta``: each index's definition as JSON (the "live definition" drift is measured against),
its state (``building`` / ``ready``) and ``retired_at``. An index created by ``LocalIndex.ensure()`` alone has no
``index_meta`` row: it counts as ready, never retired, with its version's definition at the recorded dimensions.

Tables always derive from a registered version (``LocalIndex(version=N)`` rebuilds them from
``index_schemas.VERSIONS[N]``), so a definition whose fields differ from its version's is refused. Query-time parts
of a definition (scoring profiles, semantic configurations, vectorizers, CORS) are stored and diffed but have no
local effect. An in-place upgrade appends columns (null in existing rows) and, if the searchable fields change,
rebuilds the FTS table from the stored chunks, all in one transaction: readers see the old or the new schema.
Swapping the alias is one ``UPDATE``, so readers that resolve it see one index or the other, never neither; a
compare-and-swap (``set_alias(expected=...)``) reads and moves it in the same ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from index_schemas import VERSIONS, field_specs, parse_physical_name
from index_schemas.diff import diff_indexes
from index_schemas.names import is_valid_index_name
from index_schemas.types import IndexDefinition, definition_from_wire
from ingestion.errors import AliasConflict, ConfigurationError
from ingestion.indexing.admin import ANY, Expected, IndexState, PhysicalIndex
from ingestion.indexing.definitions import build_definition
from ingestion.indexing.local.db import SqliteFile, point_alias, resolve_alias, table_exists, transaction, translate
from ingestion.indexing.local.index import LocalIndex
from ingestion.indexing.local.schema import SHARED_DDL, LocalSchema

T = TypeVar("T")

META_DDL = """CREATE TABLE IF NOT EXISTS index_meta (
    name TEXT PRIMARY KEY, definition TEXT, state TEXT NOT NULL DEFAULT 'ready', retired_at TEXT)"""
_LIST_SQL = (
    "SELECT i.name, i.schema_version, i.dimensions, i.created_at, m.state, m.retired_at "
    "FROM indexes AS i LEFT JOIN index_meta AS m ON m.name = i.name"
)


class LocalIndexAdmin:
    """The physical indexes behind ``alias`` in the SQLite file at ``path`` (see ``admin.IndexAdmin``)."""

    propagation_seconds = 0.0

    def __init__(
        self, path: Path, alias: str, *, rrf_k: int = 60, vector_weight: float = 1.0, busy_timeout: float = 5.0
    ) -> None:
        if not is_valid_index_name(alias):
            raise ConfigurationError(f"{alias!r} is not a valid index alias")
        self.path = Path(path)
        self.alias = alias
        self._rrf_k = rrf_k
        self._vector_weight = vector_weight
        self._busy_timeout = busy_timeout
        context = f"local index admin {self.path}"
        self._file = SqliteFile(self.path, busy_ms=int(busy_timeout * 1000), context=context, on_open=_create_tables)

    # -- IndexAdmin ----------------------------------------------------------------------------------------------

    async def list_indexes(self) -> list[PhysicalIndex]:
        return await self._run("list indexes", self._list_sync)

    async def get_definition(self, name: str) -> IndexDefinition | None:
        return await self._run(f"read the definition of {name}", self._definition_sync, name)

    async def create_index(self, definition: IndexDefinition, *, version: int) -> PhysicalIndex:
        name = str(definition.name)
        dimensions = _checked_dimensions(definition, version)
        await self._run(f"create {name}", self._create_meta_sync, name, definition)
        index = LocalIndex(self.path, name, dimensions, version=version, busy_timeout=self._busy_timeout)
        try:
            await index.ensure()
        finally:
            await index.close()
        return PhysicalIndex(name, version, dimensions, IndexState.BUILDING, datetime.now(UTC))

    async def update_index(self, definition: IndexDefinition, *, version: int) -> PhysicalIndex:
        name = str(definition.name)
        _checked_dimensions(definition, version)
        await self._run(f"update {name}", self._update_sync, definition, version)
        found = next((i for i in await self.list_indexes() if i.name == name), None)
        if found is None:  # pragma: no cover - _update_sync checked it exists, in the same transaction
            raise ConfigurationError(f"local index {name} vanished while being updated")
        return found

    async def mark_ready(self, name: str) -> None:
        await self._run(f"mark {name} ready", self._write_meta_sync, name, state=IndexState.READY.value)

    async def delete_index(self, name: str) -> bool:
        return await self._run(f"delete {name}", self._delete_sync, name)

    async def get_alias(self) -> str | None:
        return await self._run(f"resolve alias {self.alias}", self._alias_sync)

    async def set_alias(self, name: str, *, expected: Expected = ANY) -> None:
        await self._run(f"point alias {self.alias} at {name}", self._set_alias_sync, name, expected)

    def open_index(self, index: PhysicalIndex) -> LocalIndex:
        return LocalIndex(
            self.path,
            index.name,
            index.dimensions,
            version=index.version,
            rrf_k=self._rrf_k,
            vector_weight=self._vector_weight,
            busy_timeout=self._busy_timeout,
        )

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)

    # -- worker-thread side --------------------------------------------------------------------------------------

    async def _run(self, what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await self._file.run(what, fn, *args, **kwargs)

    def _session(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.session()

    def _list_sync(self) -> list[PhysicalIndex]:
        with self._session() as conn:
            rows = conn.execute(_LIST_SQL).fetchall()
        found = [(parse_physical_name(self.alias, row[0]), _physical(row)) for row in rows]
        return [index for parsed, index in sorted((p, i) for p, i in found if p is not None)]

    def _definition_sync(self, name: str) -> IndexDefinition | None:
        with self._session() as conn:
            return _definition(conn, name)

    def _create_meta_sync(self, name: str, definition: IndexDefinition) -> None:
        with self._session() as conn, transaction(conn):
            if conn.execute("SELECT 1 FROM indexes WHERE name = ?", (name,)).fetchone():
                raise ConfigurationError(f"local index {name} already exists in {self.path}")
            conn.execute(
                "INSERT INTO index_meta (name, definition, state, retired_at) VALUES (?, ?, ?, NULL) "
                "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, state = excluded.state, "
                "retired_at = NULL",
                (name, json.dumps(definition.to_wire()), IndexState.BUILDING.value),
            )

    def _update_sync(self, definition: IndexDefinition, version: int) -> None:
        name = str(definition.name)
        with self._session() as conn, transaction(conn):
            current = _definition(conn, name)
            if current is None:
                raise ConfigurationError(f"local index {name} does not exist in {self.path}")
            rebuild = diff_indexes(current, definition).rebuild
            if rebuild:
                raise ConfigurationError(f"local index {name}: {rebuild[0].describe()} cannot be applied in place")
            try:
                statements = LocalSchema.for_index(definition).upgrade_ddl(LocalSchema.for_index(current))
            except ValueError as exc:
                raise ConfigurationError(f"local index {name}: {exc}") from exc
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "UPDATE indexes SET schema_version = ?, generation = generation + 1 WHERE name = ?", (version, name)
            )
            _write_meta(conn, name, definition=json.dumps(definition.to_wire()))

    def _write_meta_sync(self, name: str, **columns: object) -> None:
        with self._session() as conn, transaction(conn):
            _write_meta(conn, name, **columns)

    def _delete_sync(self, name: str) -> bool:
        with self._session() as conn, transaction(conn):
            pointing = [r[0] for r in conn.execute("SELECT alias FROM aliases WHERE index_name = ?", (name,))]
            if pointing:
                raise ConfigurationError(f"local index {name} is the target of alias {pointing[0]}: move it first")
            current = _definition(conn, name)
            if current is None:
                conn.execute("DELETE FROM index_meta WHERE name = ?", (name,))
                return False
            for statement in LocalSchema.for_index(current).drop_ddl():
                conn.execute(statement)
            conn.execute("DELETE FROM indexes WHERE name = ?", (name,))
            conn.execute("DELETE FROM index_meta WHERE name = ?", (name,))
        return True

    def _alias_sync(self) -> str | None:
        with self._session() as conn:
            return resolve_alias(conn, self.alias)

    def _set_alias_sync(self, name: str, expected: Expected) -> None:
        # BEGIN IMMEDIATE holds the write lock from the check to the update: atomic across processes.
        with self._session() as conn, transaction(conn):
            if not conn.execute("SELECT 1 FROM indexes WHERE name = ?", (name,)).fetchone():
                raise ConfigurationError(f"cannot point alias {self.alias} at {name}: no such local index")
            previous = resolve_alias(conn, self.alias)
            if expected is not ANY and previous != expected:
                raise AliasConflict(self.alias, expected=expected, found=previous, target=name)
            point_alias(conn, self.alias, name)
            if previous is not None and previous != name:
                _write_meta(conn, previous, retired_at=datetime.now(UTC).isoformat())
            _write_meta(conn, name, retired_at=None)

    def _close_sync(self) -> None:
        self._file.close_sync()


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in (*SHARED_DDL, META_DDL):
        conn.execute(statement)


def alias_target(path: Path, alias: str) -> tuple[str, int] | None:
    """``(name, version)`` of the index ``alias`` points at in the file, or None when there is no such alias (or no
    file). Reads the file without creating or changing it. A backend primitive: only ``deployment.target`` calls it
    (the fallback to the latest version when there is no alias lives there, once)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            name = resolve_alias(conn, alias) if table_exists(conn, "indexes") else None
            query = "SELECT schema_version FROM indexes WHERE name = ?"
            row = conn.execute(query, (name,)).fetchone() if name else None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise translate(exc, f"local index {path}: reading alias {alias} failed") from exc
    return (name, int(row[0])) if name and row else None


def _physical(row: tuple) -> PhysicalIndex:
    name, version, dimensions, created_at, state, retired_at = row
    return PhysicalIndex(
        name=name,
        version=int(version),
        dimensions=int(dimensions),
        state=IndexState(state or IndexState.READY.value),
        created_at=datetime.fromisoformat(created_at) if created_at else None,
        retired_at=datetime.fromisoformat(retired_at) if retired_at else None,
    )


def _definition(conn: sqlite3.Connection, name: str) -> IndexDefinition | None:
    row = conn.execute(
        "SELECT i.schema_version, i.dimensions, m.definition FROM indexes AS i "
        "LEFT JOIN index_meta AS m ON m.name = i.name WHERE i.name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None
    version, dimensions, stored = row
    if stored:
        return definition_from_wire(json.loads(stored))
    if version not in VERSIONS:
        raise ConfigurationError(f"local index {name} has schema v{version}, which this code does not define")
    return build_definition(version, name, dimensions)


def _write_meta(conn: sqlite3.Connection, name: str, **columns: object) -> None:
    conn.execute("INSERT INTO index_meta (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
    for column, value in columns.items():
        if column not in ("definition", "state", "retired_at"):
            raise ValueError(f"unknown index_meta column {column}")
        conn.execute(f"UPDATE index_meta SET {column} = ? WHERE name = ?", (value, name))


def _checked_dimensions(definition: IndexDefinition, version: int) -> int:
    """The vector dimensions of ``definition``, after checking its fields are those of registered ``version``."""
    vectors = [spec for spec in field_specs(definition) if spec.is_vector]
    if len(vectors) != 1 or vectors[0].dimensions is None:
        raise ConfigurationError(f"index {definition.name} needs exactly one vector field")
    dimensions = vectors[0].dimensions
    expected = build_definition(version, definition.name, dimensions)
    if field_specs(expected) != field_specs(definition):
        raise ConfigurationError(
            f"index {definition.name}: the local store builds tables from schema v{version}, whose fields differ"
        )
    return dimensions
