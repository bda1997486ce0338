"""Full reindex runs as plain values: the run record, the per-document mark and the queue messages. No I/O here.

A run moves through these states (``RunStatus``); only the transitions drawn exist, each one an optimistic
(ETag-conditional) write of the run's header, so two writers can never both make the same transition::

    listing ──> running ──> finalizing ──> done
       │           │             │
       │           │             └──> running        (finalization failed: released for a retry)
       │           └──> finalizing ──> incomplete    (reconcile: stalled with documents unrecorded)
       └──> abandoned                                (reconcile: the listing never finished)

``expected`` is unknown (None) until the listing finishes. A run is *complete* once its recorded documents (done +
failed) reach ``expected``; done counts added, updated, unchanged and deleted documents.

A *build run* (``target_version`` set; the Functions app's migration runs) writes into a physical index of its own,
``index_name``, at that schema version instead of the main pipeline's; its document messages name that index, and
its finalization is the hook its ``builds.Builds`` supplies (a migration's cutover, see
ingestion/deployment/migration_runs.py). A build run that finalized without it (documents never recorded, or the
hook refused, e.g. the target failed verification) ends ``incomplete`` with the reason in its note. The JSON view
keeps the key ``migration`` for it (a public contract of ``GET /api/reindex``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from ingestion.errors import BadInputError

OUTCOME_COUNTERS = ("added", "updated", "unchanged", "deleted", "failed")
COUNTERS = (*OUTCOME_COUNTERS, "poisoned")
"""Per-run counters; ``poisoned`` is the part of ``failed`` whose message exhausted the host's retries."""

MESSAGE_VERSION = 1
_ID_CEILING_MS = 10**13  # inverted milliseconds keep run ids sorting newest first until the year 2286


class RunStatus(StrEnum):
    LISTING = "listing"
    RUNNING = "running"
    FINALIZING = "finalizing"
    DONE = "done"
    INCOMPLETE = "incomplete"
    ABANDONED = "abandoned"

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.DONE, RunStatus.INCOMPLETE, RunStatus.ABANDONED)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id(now: datetime) -> str:
    """``<inverted ms>-<random>``: ids sort newest first, and two runs started in the same millisecond differ."""
    millis = int(now.timestamp() * 1000)
    return f"{_ID_CEILING_MS - millis:013d}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: the header (status, times, expected) plus its counters summed over every shard."""

    run_id: str
    status: RunStatus
    trigger: str
    scope: str
    index_name: str
    started_at: datetime
    updated_at: datetime
    expected: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    listed_at: datetime | None = None
    finalize_started_at: datetime | None = None
    finished_at: datetime | None = None
    stale_deleted: int = 0
    note: str = ""
    target_version: int | None = None
    """Set for a migration run: the schema version ``index_name`` (the new index) is built at."""
    planned_live: str | None = None
    """A migration run's live index when it was planned (None: none, or a record older than this field): the cutover
    swaps the alias only if it still points there."""
    etag: str = ""

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    @property
    def done(self) -> int:
        return sum(self.count(name) for name in OUTCOME_COUNTERS if name != "failed")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def recorded(self) -> int:
        return self.done + self.failed

    @property
    def complete(self) -> bool:
        return self.expected is not None and self.recorded >= self.expected

    def stalled(self, now: datetime, stall_seconds: float) -> bool:
        """No progress (no header change, no document recorded) for ``stall_seconds`` in a non-terminal state."""
        return not self.status.terminal and now - self.updated_at > timedelta(seconds=stall_seconds)

    def as_dict(self, *, now: datetime, stall_seconds: float) -> dict[str, object]:
        return {
            "run": self.run_id,
            "status": self.status.value,
            "trigger": self.trigger,
            "scope": self.scope,
            "index": self.index_name,
            "started_at": _iso(self.started_at),
            "listed_at": _iso(self.listed_at),
            "finished_at": _iso(self.finished_at),
            "last_progress_at": _iso(self.updated_at),
            "expected": self.expected,
            "done": self.done,
            "failed": self.failed,
            "pending": None if self.expected is None else max(self.expected - self.recorded, 0),
            **{name: self.count(name) for name in COUNTERS if name != "failed"},
            "stale_deleted": self.stale_deleted,
            "stalled": self.stalled(now, stall_seconds),
            "note": self.note,
            "migration": self.migration,
        }

    @property
    def migration(self) -> dict[str, object] | None:
        """``{"target", "version"}`` of a migration run, else None."""
        if self.target_version is None:
            return None
        return {"target": self.index_name, "version": self.target_version}


@dataclass(frozen=True)
class DocumentMark:
    """That one document of a run was processed, and how. Written at most once per run and document."""

    source_path: str
    outcome: str
    error: str | None = None
    attempts: int = 1
    poisoned: bool = False

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOME_COUNTERS:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.poisoned and self.outcome != "failed":
            raise ValueError("only a failed document can be poisoned")


@dataclass(frozen=True)
class ListMessage:
    """Enumerate the source for ``run_id`` and enqueue its document messages (DocumentMessage, DocumentsMessage)."""

    run_id: str


@dataclass(frozen=True)
class DocumentMessage:
    """Bring one document up to date for ``run_id``; in ``index`` at schema ``version`` for a migration run."""

    run_id: str
    source_id: str
    path: str
    index: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class DocumentsMessage:
    """Bring several documents up to date for ``run_id`` in one invocation (``(source_id, path)`` pairs), each as a
    DocumentMessage would: one invocation then keeps several documents in flight, so that they share embedding and
    indexing requests (a Functions instance has a bounded number of invocations, one message each)."""

    run_id: str
    documents: tuple[tuple[str, str], ...]
    index: str | None = None
    version: int | None = None

    def split(self) -> list[DocumentMessage]:
        return [DocumentMessage(self.run_id, sid, path, self.index, self.version) for sid, path in self.documents]


Message = ListMessage | DocumentMessage | DocumentsMessage


def encode_message(message: Message) -> str:
    """The message as JSON text (the queue client base64-encodes it, as the Functions host expects)."""
    if isinstance(message, ListMessage):
        return json.dumps({"v": MESSAGE_VERSION, "kind": "list", "run": message.run_id})
    body: dict[str, object]
    if isinstance(message, DocumentsMessage):
        body = {"v": MESSAGE_VERSION, "kind": "documents", "run": message.run_id}
        body["documents"] = [{"source_id": sid, "path": path} for sid, path in message.documents]
    else:
        body = {"v": MESSAGE_VERSION, "kind": "document", "run": message.run_id}
        body = {**body, "source_id": message.source_id, "path": message.path}
    if message.index is not None:
        body = {**body, "index": message.index, "schema_version": message.version}
    return json.dumps(body, ensure_ascii=False)


def decode_message(body: bytes | str) -> Message:
    """Parse a message body (already base64-decoded by the host); BadInputError for anything malformed."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadInputError("reindex message: not JSON") from None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
        raise BadInputError(f"reindex message: not a version {MESSAGE_VERSION} message")
    run_id, kind = data.get("run"), data.get("kind")
    if not isinstance(run_id, str) or not run_id:
        raise BadInputError("reindex message: no run id")
    if kind == "list":
        return ListMessage(run_id)
    source_id, path = data.get("source_id"), data.get("path")
    index, version = data.get("index"), data.get("schema_version")
    migration = (index, version) == (None, None) or (isinstance(index, str) and index and type(version) is int)
    if kind == "document" and isinstance(source_id, str) and source_id and isinstance(path, str) and migration:
        return DocumentMessage(run_id, source_id, path, index, version)
    documents = _documents(data.get("documents"))
    if kind == "documents" and documents and migration:
        return DocumentsMessage(run_id, documents, index, version)
    raise BadInputError(f"reindex message for run {run_id}: unknown kind or missing document")


def _documents(value: object) -> tuple[tuple[str, str], ...] | None:
    """The ``documents`` of a message, or None unless it is a non-empty list of ``{source_id, path}`` objects."""
    if not isinstance(value, list) or not value:
        return None
    pairs = []
    for entry in value:
        sid, path = (entry.get("source_id"), entry.get("path")) if isinstance(entry, dict) else (None, None)
        if not (isinstance(sid, str) and sid and isinstance(path, str)):
            return None
        pairs.append((sid, path))
    return tuple(pairs)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
