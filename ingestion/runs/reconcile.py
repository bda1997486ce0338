"""Make sure no run stays open forever, silently; and describe the runs for the status endpoint.

``reconcile`` (run by a frequent timer and before every new run) looks at the open runs:

* poisoned messages of running runs that no handler recorded (a hard crash on the last attempt) are recorded as
  failed documents, so the run can complete;
* a complete run still ``running`` (its finalizer crashed before claiming) is finalized;
* a ``listing`` run without progress for ``stall_seconds`` is abandoned (its listing message was lost or poisoned);
* a ``finalizing`` run whose claim is older than ``stall_seconds`` is reclaimed and finalized again (idempotent);
* a ``running`` run without progress for ``stall_seconds`` while the work queue is empty has lost messages: it is
  finalized as ``incomplete`` (the stale sweep still runs; the cutover hook does not).

Until reconcile acts, ``status`` shows such a run with ``stalled: true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from ingestion.errors import BadInputError, IngestionError, TransientError
from ingestion.keys import document_key
from ingestion.runs.records import (
    DocumentMark,
    DocumentMessage,
    DocumentsMessage,
    RunRecord,
    RunStatus,
    decode_message,
    new_run_id,
    utcnow,
)
from ingestion.runs.reindex import Reindexer

log = logging.getLogger(__name__)

RECENT_RUNS = 20
FULL_RUN_SLOT = "full-run"
"""The runs table's slot a full run started by ``start_or_join`` holds while it is open (a forced run holds none)."""
JOIN_ATTEMPTS = 20
JOIN_WAIT_SECONDS = 0.25
"""How long a caller that lost the slot waits for the winner's run to be recorded (it takes one table write)."""


async def start_run(
    reindexer: Reindexer, *, trigger: str, schema_version: int | None = None, prefix: str = ""
) -> RunRecord:
    """Reconcile the open runs (a failure there is logged, not fatal), then start a new run (a migration run to
    ``schema_version`` when given; a run over the names starting with ``prefix`` when given)."""
    await _reconcile_before_start(reindexer)
    return await reindexer.start(trigger=trigger, schema_version=schema_version, prefix=prefix)


async def start_or_join(reindexer: Reindexer, *, trigger: str) -> tuple[RunRecord, bool]:
    """Reconcile, then the open, non-stalled full (non-migration) run if there is one, else a new one; True if it
    was started.

    Atomic: a new run first claims FULL_RUN_SLOT (``RunStore.claim_slot``), so of two simultaneous callers exactly
    one starts a run and the other returns it. A run stalled for ``stall_seconds`` that reconcile could not close
    (work still queued) is neither joined nor does it hold the slot: a new run starts beside it."""
    await _reconcile_before_start(reindexer)
    store, stall = reindexer.store, reindexer.policy.stall_seconds
    joined = await _open_full_run(reindexer)
    if joined is not None:
        return joined, False
    run_id = new_run_id(utcnow())
    holder = await store.claim_slot(FULL_RUN_SLOT, run_id, stall_seconds=stall)
    if holder is not None:
        return await _starting_run(reindexer, holder), False
    try:
        return await reindexer.start(trigger=trigger, run_id=run_id), True
    except BaseException:
        with contextlib.suppress(IngestionError):
            await store.release_slot(FULL_RUN_SLOT, run_id)
        raise


async def _open_full_run(reindexer: Reindexer) -> RunRecord | None:
    now, stall = utcnow(), reindexer.policy.stall_seconds
    for run in await reindexer.store.recent(limit=RECENT_RUNS):
        full = run.target_version is None and run.scope == reindexer.source.scope
        if full and not run.status.terminal and not run.stalled(now, stall):
            return run
    return None


async def _starting_run(reindexer: Reindexer, run_id: str) -> RunRecord:
    """The run that holds FULL_RUN_SLOT, once recorded (its starter claimed the slot just before recording it)."""
    for _ in range(JOIN_ATTEMPTS):
        run = await reindexer.store.get(run_id)
        if run is not None:
            return run
        await asyncio.sleep(JOIN_WAIT_SECONDS)
    raise TransientError(f"run {run_id} is being started by another request; try again")


async def _reconcile_before_start(reindexer: Reindexer) -> None:
    try:
        await reconcile(reindexer)
    except IngestionError as error:
        log.error("reconcile before starting a run failed: %s", error)


async def reconcile(reindexer: Reindexer) -> list[RunRecord]:
    """Act on every open run among the recent ones (see the module docstring); return what they became."""
    store = reindexer.store
    open_runs = [run for run in await store.recent(limit=RECENT_RUNS) if not run.status.terminal]
    if any(run.status is RunStatus.RUNNING for run in open_runs):
        await absorb_poison(reindexer, {run.run_id for run in open_runs if run.status is RunStatus.RUNNING})
    results = []
    for stale in open_runs:
        run = await store.get(stale.run_id)
        if run is not None:
            await _reconcile_one(reindexer, run)
            results.append(await store.get(run.run_id) or run)
    return results


async def _reconcile_one(reindexer: Reindexer, run: RunRecord) -> None:
    store, stall = reindexer.store, reindexer.policy.stall_seconds
    now = utcnow()
    if run.status is RunStatus.RUNNING and run.complete:
        await reindexer.finalize_if_complete(run)
    elif not run.stalled(now, stall):
        return
    elif run.status is RunStatus.LISTING:
        log.warning("run %s: listing never finished; abandoned", run.run_id)
        await store.update_header(run, status=RunStatus.ABANDONED, finished_at=now, note="listing never finished")
    elif run.status is RunStatus.FINALIZING and _claim_expired(run, stall):
        claimed = await store.update_header(run, finalize_started_at=now)
        if claimed is not None:
            log.warning("run %s: finalization did not finish; finalizing again", run.run_id)
            await reindexer.finalize(claimed, complete=run.complete)
    elif run.status is RunStatus.RUNNING and await reindexer.queue.approximate_count() == 0:
        claimed = await store.update_header(run, status=RunStatus.FINALIZING, finalize_started_at=now)
        if claimed is not None:
            log.warning("run %s: stalled with an empty queue; finalizing as incomplete", run.run_id)
            await reindexer.finalize(claimed, complete=False)


def _claim_expired(run: RunRecord, stall_seconds: float) -> bool:
    started = run.finalize_started_at or run.updated_at
    return utcnow() - started > timedelta(seconds=stall_seconds)


async def absorb_poison(reindexer: Reindexer, run_ids: set[str]) -> int:
    """Record as failed every document of a poisoned message of ``run_ids`` that is not recorded yet (a message of
    several documents: those its attempts recorded keep their outcome); return how many."""
    store, queue = reindexer.store, reindexer.queue
    recorded = 0
    for body in await queue.poison_messages():
        try:
            message = decode_message(body)
        except BadInputError:
            continue
        documents = message.split() if isinstance(message, DocumentsMessage) else [message]
        for document in documents:
            if not isinstance(document, DocumentMessage) or document.run_id not in run_ids:
                continue
            attempts = reindexer.policy.max_dequeue_count
            reason = f"{document.path}: moved to {queue.poison_name} after {attempts} failed attempts"
            mark = DocumentMark(document.path, "failed", error=reason, attempts=attempts, poisoned=True)
            if await store.record(document.run_id, document_key(document.source_id), mark):
                recorded += 1
    if recorded:
        log.warning("recorded %d poisoned documents found in %s", recorded, queue.poison_name)
    return recorded


async def status(reindexer: Reindexer, *, failures: int = 100) -> dict[str, object]:
    """Current and last runs (with their failed documents), the index, the queues and live-trigger failures."""
    store, queue, index = reindexer.store, reindexer.queue, reindexer.pipeline.index
    runs = await store.recent(limit=RECENT_RUNS)
    current = next((run for run in runs if not run.status.terminal), None)
    last = next((run for run in runs if run.status.terminal), None)
    stats = await index.stats()
    return {
        "index": {
            "name": stats.name,
            "schema_version": reindexer.pipeline.options.schema_version,
            "documents": stats.documents,
            "chunks": stats.chunks,
        },
        "current": await _view(reindexer, current, failures),
        "last": await _view(reindexer, last, failures),
        "open_runs": [run.run_id for run in runs if not run.status.terminal],
        "queues": await queue.counts(),
        "live_failures": await store.live_failures(limit=failures),
    }


async def _view(reindexer: Reindexer, run: RunRecord | None, failures: int) -> dict[str, object] | None:
    if run is None:
        return None
    view = run.as_dict(now=utcnow(), stall_seconds=reindexer.policy.stall_seconds)
    view["failures"] = await reindexer.store.failures(run.run_id, limit=failures) if run.failed else []
    return view
