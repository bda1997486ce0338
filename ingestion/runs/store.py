"""Run records in an Azure Storage table (or Azurite), written with optimistic concurrency.

Layout: one partition per run (PartitionKey = run id) holding

    RowKey ``a``            the header: status, trigger, scope, index, times, expected, note, target version
    RowKey ``c00``..``c15`` counter shards: added, updated, unchanged, deleted, failed, poisoned, updated_at
    RowKey ``m-<doc key>``  one mark per processed document: outcome, error, attempts

and one partition ``live`` with the last failure of each document the blob/event triggers could not index, and one
partition ``locks`` with one entity per named slot, naming the run that holds it (see ``claim_slot``: the deployment
keeps migration runs to one at a time with it).

Recording a document is ONE entity-group transaction in the run's partition: *create* the document's mark (fails if
it exists) and *replace* one counter shard under its ETag (fails if another writer got there first). Both happen or
neither does, so a redelivered message can never count twice, and a crash between the two is impossible. Sharding the
counter spreads concurrent writers over 16 entities; completion sums the shards (one query of 17 entities).

Every header change is ETag-conditional as well: ``update_header`` returns None when someone else changed the header
since it was read, and the caller re-reads and decides again. SDK errors are translated here, once, into
ingestion.errors (throttling and 5xx are transient, refused credentials are configuration).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from ingestion.cloud.storage_errors import translate_storage_error
from ingestion.errors import IngestionError, TransientError
from ingestion.runs.records import COUNTERS, DocumentMark, RunRecord, RunStatus, utcnow

HEADER = "a"
SHARD_PREFIX = "c"
MARK_PREFIX = "m-"
LIVE_PARTITION = "live"
LOCK_PARTITION = "locks"
LOCK_GRACE = timedelta(minutes=10)
"""A claim whose run record does not exist (yet) is respected this long: the claim is taken before the run is
recorded, and a starter that died in between must not hold the slot forever."""
DEFAULT_SHARDS = 16
_RECORD_ATTEMPTS = 40
_NO_EXPECTED = -1
_NO_VERSION = 0  # schema versions start at 1


class RunStore:
    """Run headers, counter shards and document marks in one table; see the module docstring for the layout."""

    def __init__(self, table: TableClient, *, shards: int = DEFAULT_SHARDS) -> None:
        if not 1 <= shards <= 99:
            raise ValueError("shards must be between 1 and 99 (one transaction holds the header and every shard)")
        self._table = table
        self._shards = shards

    async def ensure(self) -> None:
        """Create the table if it does not exist. Idempotent."""
        try:
            await self._table.create_table()
        except ResourceExistsError:
            return
        except (AzureError, TimeoutError) as error:
            raise _translate(error, "creating the runs table") from error

    async def create(self, run: RunRecord) -> RunRecord:
        """Write a new run's header and zeroed shards atomically; return it with its header ETag."""
        shards = [
            ("create", self._shard_entity(run.run_id, index, {}, run.updated_at)) for index in range(self._shards)
        ]
        operations: list[Any] = [("create", _header_entity(run)), *shards]
        results = await self._submit(operations, f"creating run {run.run_id}")
        return replace(run, etag=results[0]["etag"])

    async def get(self, run_id: str) -> RunRecord | None:
        """The run's header with its shards summed, or None when there is no such run."""
        query = "PartitionKey eq @run and RowKey lt @marks"
        entities = await self._query(query, {"run": run_id, "marks": "m"}, f"reading run {run_id}")
        header = next((entity for entity in entities if entity["RowKey"] == HEADER), None)
        if header is None:
            return None
        return _run_from(header, [entity for entity in entities if entity["RowKey"].startswith(SHARD_PREFIX)])

    async def update_header(self, run: RunRecord, **changes: Any) -> RunRecord | None:
        """Replace the header with ``run`` plus ``changes`` if nobody changed it since ``run`` was read; else None."""
        updated = replace(run, **changes, updated_at=utcnow())
        try:
            metadata = await self._table.update_entity(
                _header_entity(updated),
                mode=UpdateMode.REPLACE,
                etag=run.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        except (AzureError, TimeoutError) as error:
            raise _translate(error, f"updating run {run.run_id}") from error
        return replace(updated, etag=metadata["etag"])

    async def record(self, run_id: str, document_key: str, mark: DocumentMark) -> bool | None:
        """Mark the document processed and count it, atomically. False (and nothing written) if it was already;
        None when there is no such run."""
        index = int(hashlib.sha256(document_key.encode("utf-8")).hexdigest()[:8], 16) % self._shards
        row = f"{SHARD_PREFIX}{index:02d}"
        mark_entity = {"PartitionKey": run_id, "RowKey": MARK_PREFIX + document_key, **_mark_fields(mark)}
        for attempt in range(_RECORD_ATTEMPTS):
            shard = await self._get_entity(run_id, row, f"reading run {run_id}")
            if shard is None:
                return None
            counts = {name: int(shard.get(name, 0)) for name in COUNTERS}
            counts[mark.outcome] += 1
            counts["poisoned"] += int(mark.poisoned)
            update = self._shard_entity(run_id, index, counts, utcnow())
            condition = {"mode": UpdateMode.REPLACE, "etag": shard.metadata["etag"]}
            operations = [("create", mark_entity), ("update", update, {**condition, "match_condition": _IF_MATCH})]
            try:
                await self._table.submit_transaction(operations)
                return True
            except TableTransactionError as error:
                if error.error_code == "EntityAlreadyExists":
                    return False
                if error.status_code != 412:
                    raise _translate(error, f"recording {mark.source_path} in run {run_id}") from error
            except (AzureError, TimeoutError) as error:
                raise _translate(error, f"recording {mark.source_path} in run {run_id}") from error
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # another writer won this shard: retry
        raise TransientError(f"run {run_id}: counter shard {row} too contended to record {mark.source_path}")

    async def outcome(self, run_id: str, document_key: str) -> str | None:
        """The outcome the run recorded for the document, or None when it recorded none."""
        mark = await self._get_entity(run_id, MARK_PREFIX + document_key, f"reading run {run_id}")
        return None if mark is None else str(mark.get("outcome", ""))

    async def failures(self, run_id: str, *, limit: int = 100) -> list[dict[str, object]]:
        """Failed documents of a run (at most ``limit``): source, error, attempts, poisoned."""
        query = "PartitionKey eq @run and RowKey ge @low and RowKey lt @high and outcome eq 'failed'"
        parameters = {"run": run_id, "low": MARK_PREFIX, "high": "m."}
        entities = await self._query(query, parameters, f"reading failures of run {run_id}", limit=limit)
        return [_failure(entity) for entity in entities]

    async def recent(self, *, limit: int = 20) -> list[RunRecord]:
        """The newest ``limit`` runs, newest first (run ids sort that way)."""
        headers = await self._query("RowKey eq @header", {"header": HEADER}, "listing runs", limit=limit)
        runs = [await self.get(header["PartitionKey"]) for header in headers]
        return [run for run in runs if run is not None]

    async def claim_slot(self, slot: str, run_id: str) -> str | None:
        """Claim the named ``slot`` for ``run_id``: None when claimed, else the id of the run holding it.

        A conditional create, or (when the holder's run has ended, or never got recorded within LOCK_GRACE) an
        ETag-conditional replace: of two concurrent claimers exactly one wins. Nothing needs releasing after a run,
        since a finished holder no longer counts, except a claim whose run is never recorded (``release_slot``).
        """
        what = f"claiming the {slot} slot"
        entity = {"PartitionKey": LOCK_PARTITION, "RowKey": slot, "run_id": run_id, "claimed_at": utcnow()}
        for _ in range(_RECORD_ATTEMPTS):
            try:
                await self._table.create_entity(entity)
                return None
            except ResourceExistsError:
                pass
            except (AzureError, TimeoutError) as error:
                raise _translate(error, what) from error
            held = await self._get_entity(LOCK_PARTITION, slot, f"reading the {slot} slot")
            if held is None:
                continue  # released meanwhile: create again
            holder = str(held.get("run_id", ""))
            if holder == run_id:
                return None
            run = await self.get(holder)
            if run is not None and not run.status.terminal:
                return holder
            if run is None and utcnow() - held["claimed_at"] < LOCK_GRACE:
                return holder
            try:
                await self._table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=held.metadata["etag"], match_condition=_IF_MATCH
                )
                return None
            except (ResourceModifiedError, ResourceNotFoundError):
                continue  # another claimer got there first: look again
            except (AzureError, TimeoutError) as error:
                raise _translate(error, what) from error
        raise TransientError(f"{what}: too much contention")

    async def release_slot(self, slot: str, run_id: str) -> None:
        """Give ``slot`` back if ``run_id`` still holds it (a claim whose run never started)."""
        held = await self._get_entity(LOCK_PARTITION, slot, f"reading the {slot} slot")
        if held is None or held.get("run_id") != run_id:
            return
        try:
            await self._table.delete_entity(
                LOCK_PARTITION, slot, etag=held.metadata["etag"], match_condition=_IF_MATCH
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return
        except (AzureError, TimeoutError) as error:
            raise _translate(error, f"releasing the {slot} slot") from error

    async def set_live_failure(self, document_key: str, mark: DocumentMark) -> None:
        entity = {"PartitionKey": LIVE_PARTITION, "RowKey": document_key, **_mark_fields(mark)}
        try:
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except (AzureError, TimeoutError) as error:
            raise _translate(error, f"recording the failure of {mark.source_path}") from error

    async def clear_live_failure(self, document_key: str) -> None:
        try:
            await self._table.delete_entity(LIVE_PARTITION, document_key)  # no error when it is not there
        except (AzureError, TimeoutError) as error:
            raise _translate(error, "clearing a recorded failure") from error

    async def live_failures(self, *, limit: int = 100) -> list[dict[str, object]]:
        entities = await self._query("PartitionKey eq @live", {"live": LIVE_PARTITION}, "reading failures", limit=limit)
        return [_failure(entity) for entity in entities]

    async def close(self) -> None:
        await self._table.close()

    # -- helpers ----------------------------------------------------------------------------------------------------

    def _shard_entity(self, run_id: str, index: int, counts: Mapping[str, int], at: datetime) -> dict[str, Any]:
        values = {name: int(counts.get(name, 0)) for name in COUNTERS}
        return {"PartitionKey": run_id, "RowKey": f"{SHARD_PREFIX}{index:02d}", **values, "updated_at": at}

    async def _get_entity(self, partition: str, row: str, subject: str) -> Any:
        try:
            return await self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        except (AzureError, TimeoutError) as error:
            raise _translate(error, subject) from error

    async def _query(
        self, query: str, parameters: dict[str, Any], subject: str, *, limit: int | None = None
    ) -> list[Any]:
        found: list[Any] = []
        try:
            async for entity in _entities(self._table.query_entities(query, parameters=parameters)):
                found.append(entity)
                if limit is not None and len(found) >= limit:
                    break
        except (AzureError, TimeoutError) as error:
            raise _translate(error, subject) from error
        return found

    async def _submit(self, operations: list[Any], subject: str) -> list[Mapping[str, Any]]:
        try:
            return await self._table.submit_transaction(operations)
        except (AzureError, TimeoutError) as error:
            raise _translate(error, subject) from error


_IF_MATCH = MatchConditions.IfNotModified


async def _entities(pages: Any) -> AsyncIterator[Any]:
    async for entity in pages:
        yield entity


def _header_entity(run: RunRecord) -> dict[str, Any]:
    return {
        "PartitionKey": run.run_id,
        "RowKey": HEADER,
        "status": run.status.value,
        "trigger": run.trigger,
        "scope": run.scope,
        "index_name": run.index_name,
        "started_at": run.started_at,
        "updated_at": run.updated_at,
        "expected": _NO_EXPECTED if run.expected is None else run.expected,
        "listed_at": run.listed_at,
        "finalize_started_at": run.finalize_started_at,
        "finished_at": run.finished_at,
        "stale_deleted": run.stale_deleted,
        "note": run.note,
        "target_version": _NO_VERSION if run.target_version is None else run.target_version,
        "planned_live": run.planned_live or "",
    }


def _run_from(header: Mapping[str, Any], shards: list[Mapping[str, Any]]) -> RunRecord:
    counts = {name: sum(int(shard.get(name, 0)) for shard in shards) for name in COUNTERS}
    progress = [header["updated_at"], *(shard["updated_at"] for shard in shards if "updated_at" in shard)]
    expected = int(header.get("expected", _NO_EXPECTED))
    target_version = int(header.get("target_version", _NO_VERSION))  # absent in records older than build runs
    return RunRecord(
        run_id=header["PartitionKey"],
        status=RunStatus(header["status"]),
        trigger=header.get("trigger", ""),
        scope=header.get("scope", ""),
        index_name=header.get("index_name", ""),
        started_at=header["started_at"],
        updated_at=max(progress),
        expected=None if expected == _NO_EXPECTED else expected,
        counts=counts,
        listed_at=header.get("listed_at"),
        finalize_started_at=header.get("finalize_started_at"),
        finished_at=header.get("finished_at"),
        stale_deleted=int(header.get("stale_deleted", 0)),
        note=header.get("note", ""),
        target_version=None if target_version == _NO_VERSION else target_version,
        planned_live=header.get("planned_live") or None,
        etag=header.metadata["etag"],
    )


def _mark_fields(mark: DocumentMark) -> dict[str, Any]:
    return {
        "source_path": mark.source_path,
        "outcome": mark.outcome,
        "error": mark.error,
        "attempts": mark.attempts,
        "poisoned": mark.poisoned,
        "at": utcnow(),
    }


def _failure(entity: Mapping[str, Any]) -> dict[str, object]:
    at = entity.get("at")
    return {
        "source": entity.get("source_path", ""),
        "error": entity.get("error") or "unknown error",
        "attempts": int(entity.get("attempts", 1)),
        "poisoned": bool(entity.get("poisoned", False)),
        "at": at.isoformat() if at is not None else None,
    }


def _translate(error: Exception, subject: str) -> IngestionError:
    """One Table SDK error as an ingestion error (``cloud.storage_errors``)."""
    return translate_storage_error(error, subject=subject, service="table", transient=frozenset({409, 412}))
