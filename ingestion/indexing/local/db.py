"""SQLite plumbing of the local index: the file's owner, transactions, record rows, chunk checks, error translation."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np

from ingestion.errors import ConfigurationError, DocumentRejectedError, IngestionError, TransientError
from ingestion.models import DocumentRecord, IndexChunk, SearchHit

T = TypeVar("T")


class SqliteFile:
    """The one owner of a connection to the SQLite file at ``path``, for ``LocalIndex`` and ``LocalIndexAdmin`` alike.

    One connection (``check_same_thread=False``) guarded by a ``threading.Lock``, opened on first use (``on_open``
    then runs in a transaction, e.g. to create shared tables); ``run`` calls a function in a worker thread and
    translates SQLite errors with ``context`` (the subject of every error message)."""

    def __init__(
        self, path: Path, *, busy_ms: int, context: str, on_open: Callable[[sqlite3.Connection], None] | None = None
    ) -> None:
        self.path, self.context = Path(path), context
        self._busy_ms, self._on_open = busy_ms, on_open
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    async def run(self, what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except sqlite3.Error as exc:
            raise translate(exc, f"{self.context}: {what} failed") from exc

    @contextmanager
    def session(self) -> Iterator[sqlite3.Connection]:
        """The connection, held under the lock for the block (opened on first use)."""
        with self._lock:
            if self._conn is None:
                conn = connect(self.path, busy_ms=self._busy_ms, context=self.context)
                try:
                    if self._on_open is not None:
                        with transaction(conn):
                            self._on_open(conn)
                except BaseException:
                    conn.close()
                    raise
                self._conn = conn
            yield self._conn

    def close_sync(self, then: Callable[[], None] | None = None) -> None:
        """Close the connection (a later session opens it again); ``then`` runs under the same lock."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            if then is not None:
                then()


def connect(path: Path, *, busy_ms: int, context: str) -> sqlite3.Connection:
    """Open ``path`` (creating its folder) in autocommit mode for explicit transactions, WAL, with ``busy_ms``.

    ``synchronous=NORMAL`` is the usual WAL setting: a power cut can lose the last commits but never corrupts the
    file, and a lost commit only means the document is indexed again on the next run.
    """
    if path.is_dir():
        raise ConfigurationError(f"{context}: {path} is a folder; LOCAL_INDEX_PATH must name the index file in it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{context}: cannot create {path.parent}: {exc.strerror}") from exc
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        _use_wal(conn, busy_ms=busy_ms)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection, *, busy_ms: int) -> None:
    """Switch a new file to WAL (the mode persists in the file). Two connections opening a fresh file at once can get
    SQLITE_BUSY from the switch without the busy handler being called, so that one case is retried until busy_ms."""
    deadline = time.monotonic() + busy_ms / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


@contextmanager
def transaction(conn: sqlite3.Connection, *, mode: str = "IMMEDIATE") -> Iterator[None]:
    """BEGIN, then COMMIT, or ROLLBACK on any error. IMMEDIATE takes the write lock up front, so a database another
    process keeps busy fails (after busy_timeout) before any work is done; DEFERRED is for consistent reads."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def point_alias(conn: sqlite3.Connection, alias: str, index_name: str) -> None:
    """Create ``alias`` or move it to ``index_name``, in the caller's transaction. An alias is never an index name."""
    if conn.execute("SELECT 1 FROM indexes WHERE name = ?", (alias,)).fetchone():
        raise ConfigurationError(f"alias {alias} is already the name of an index")
    conn.execute(
        "INSERT INTO aliases (alias, index_name) VALUES (?, ?) "
        "ON CONFLICT (alias) DO UPDATE SET index_name = excluded.index_name",
        (alias, index_name),
    )


def resolve_alias(conn: sqlite3.Connection, alias: str) -> str | None:
    if not table_exists(conn, "aliases"):
        return None
    row = conn.execute("SELECT index_name FROM aliases WHERE alias = ?", (alias,)).fetchone()
    return row[0] if row else None


def record_from_row(row: tuple) -> DocumentRecord:
    """A record from a row of ``LocalSchema.record_columns`` (with or without the trailing ``acl_hash``)."""
    key, source_id, source_path, content_hash, fingerprint, chunk_count, indexed_at = row[:7]
    return DocumentRecord(
        key=key,
        source_id=source_id,
        source_path=source_path,
        content_version=content_hash,
        fingerprint=fingerprint,
        chunk_count=chunk_count,
        indexed_at=datetime.fromisoformat(indexed_at) if indexed_at else None,
        acl_hash=row[7] if len(row) > 7 else None,
    )


def hit_from_row(row: tuple, score: float) -> SearchHit:
    """A chunk row of ``indexing.base.HIT_FIELDS`` as a search hit with ``score``."""
    key, parent, path, title, content, ordinal, page_start, page_end = row
    return SearchHit(
        key=key,
        parent_key=parent,
        source_path=path,
        title=title or "",
        content=content or "",
        score=score,
        ordinal=ordinal or 0,
        page_start=page_start,
        page_end=page_end,
    )


def record_row(record: DocumentRecord, *, acl: bool = False) -> tuple[object, ...]:
    """``record`` in ``schema.RECORD_COLUMNS`` order, plus its ``acl_hash`` when ``acl``."""
    indexed_at = record.indexed_at.isoformat() if record.indexed_at else None
    return (
        record.key,
        record.source_id,
        record.source_path,
        record.content_version,
        record.fingerprint,
        record.chunk_count,
        indexed_at,
    ) + ((record.acl_hash,) if acl else ())


def check_chunks(record: DocumentRecord, chunks: Sequence[IndexChunk], dimensions: int) -> None:
    """ValueError naming the document unless every chunk belongs to ``record``, has a unique key and a finite vector
    of ``dimensions`` numbers."""
    seen: set[str] = set()
    for chunk in chunks:
        if chunk.parent_key != record.key:
            raise ValueError(
                f"document {record.source_path}: chunk {chunk.key} has parent key {chunk.parent_key}, not {record.key}"
            )
        if chunk.key in seen:
            raise ValueError(f"document {record.source_path}: chunk key {chunk.key} appears twice")
        seen.add(chunk.key)
        vector = np.asarray(chunk.vector)
        if vector.shape != (dimensions,) or vector.dtype.kind not in "fiu" or not np.isfinite(vector).all():
            raise ValueError(
                f"document {record.source_path}: chunk {chunk.key} needs a finite vector of {dimensions} "
                f"numbers, got shape {vector.shape}"
            )


def translate(exc: sqlite3.Error, context: str) -> IngestionError:
    """SQLite errors -> the pipeline's tree: busy, locked or I/O failures are transient, a constraint (or a trigger's
    RAISE) refuses the document, and a file that is not a usable database is a configuration problem."""
    message = f"{context}: {exc}"
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
        return ConfigurationError(f"{message} (check LOCAL_INDEX_PATH: a file path in a folder you can write to)")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return TransientError(f"{message}: another process (another run?) holds the index; try again when it is done")
    if isinstance(exc, sqlite3.OperationalError):
        return TransientError(message)
    if isinstance(exc, sqlite3.IntegrityError):
        return DocumentRejectedError(message)
    return ConfigurationError(message)
