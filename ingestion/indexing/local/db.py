"""SQLite plumbing of the local index: opening the file, transactions, record rows, and error translation."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ingestion.errors import ConfigurationError, DocumentRejectedError, IngestionError, TransientError
from ingestion.models import DocumentRecord


def connect(path: Path, *, busy_ms: int, context: str) -> sqlite3.Connection:
    """Open ``path`` (creating its folder) in autocommit mode for explicit transactions, WAL, with ``busy_ms``.

    ``synchronous=NORMAL`` is the usual WAL setting: a power cut can lose the last commits but never corrupts the
    file, and a lost commit only means the document is indexed again on the next run.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{context}: cannot create {path.parent}: {exc}") from exc
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


def translate(exc: sqlite3.Error, context: str) -> IngestionError:
    """SQLite errors -> the pipeline's tree: busy, locked or I/O failures are transient, a constraint (or a trigger's
    RAISE) refuses the document, and a file that is not a usable database is a configuration problem."""
    message = f"{context}: {exc}"
    if isinstance(exc, sqlite3.OperationalError):
        return TransientError(message)
    if isinstance(exc, sqlite3.IntegrityError):
        return DocumentRejectedError(message)
    return ConfigurationError(message)
