"""Full reindex runs fanned out over a storage queue, counted durably, finalized exactly once.

    start:     create the run (status listing) and enqueue ONE listing message
    listing:   enumerate the source, enqueue document messages (``documents_per_message`` documents each), then set
               ``expected`` to the number of documents (-> running)
    document:  bring the document up to date (the pipeline skips unchanged ones), then record it in the run with one
               atomic table transaction (document mark + counter); the write that makes the run complete claims it.
               The documents of one message are processed concurrently, each exactly as a message of its own would
               be: one invocation keeps several documents in flight, so that they share embedding and indexing
               requests (a Functions instance runs a bounded number of invocations at once)
    finalize:  the claimant (running -> finalizing, ETag-conditional: one winner) deletes index documents whose source
               is gone, calls the cutover hook, and records the run done

Why a listing *message* rather than listing in the timer: the host retries a failed queue message (a timer is never
retried), the HTTP route answers at once, and the listing gets the queue function's timeout.

Crashes and redelivery. Processing a document is idempotent (unchanged documents are skipped), and its mark is
created only if absent, in the same transaction as the counter update: a redelivered message finds the mark and
counts nothing. A crash after the index write but before the record simply redelivers the message (then recorded as
unchanged). A crash after the record but before finalizing is caught by the redelivered message, which still checks
completion; a crash during finalization leaves the run ``finalizing`` until ``reconcile`` reclaims it.

Poison. Bad input is recorded as a failed document and the message completes (no retry). Transient errors are
raised so the host retries (for a message of several documents, once all of them have been processed: those that
succeeded are recorded, and the retry finds them unchanged and counts nothing); on the last attempt
(``dequeue_count >= max_dequeue_count``, equal to host.json's ``maxDequeueCount``) the failing document is recorded
as failed *before* re-raising, so the run still completes when the host moves the message to ``<queue>-poison``.
``reconcile`` also records the documents of poisoned messages it finds (a hard crash on the last attempt never
reached our handler).

Overlapping runs each count in their own partition; both may finalize; the stale sweep re-checks every candidate
against the source just before deleting it, so a document created after the sweep's listing is never removed.

Build runs (``start(schema_version=N)``, planned by the ``builds.Builds`` the deployment supplies: the Functions app's
migration runs, ingestion/deployment/migration_runs.py) write into an index of their own instead of the main
pipeline's, and their finalize hook decides what finishing means (a migration verifies and swaps the alias); a
refused finalization ends the run ``incomplete``.

A run can be narrowed to the documents under a blob-name prefix (``start(prefix=P)``: an immediate refresh of part
of the container, e.g. after ACL metadata changed there, which raises no event): its ``scope`` is the source's scope
plus ``P``, and its listing and stale sweep cover that prefix only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

from ingestion import telemetry
from ingestion.errors import BadInputError, IngestionError, MigrationRefused
from ingestion.keys import document_key
from ingestion.models import DocumentResult, Outcome
from ingestion.pipeline import Pipeline
from ingestion.runs.builds import Builds
from ingestion.runs.current import CurrentPipeline, current_of
from ingestion.runs.queue import WorkQueue
from ingestion.runs.records import (
    COUNTERS,
    DocumentMark,
    DocumentMessage,
    DocumentsMessage,
    ListMessage,
    RunRecord,
    RunStatus,
    decode_message,
    encode_message,
    new_run_id,
    utcnow,
)
from ingestion.runs.store import RunStore
from ingestion.sources.base import Source, in_scope

log = logging.getLogger(__name__)

WRITTEN = ("added", "updated", "unchanged")
"""Outcomes after which the document is in the index the run writes to."""

FinalizeHook = Callable[[RunRecord], Awaitable[str | None]]
"""Called when a complete run finalizes, after the stale sweep and before the run is recorded: None to record it
``done``, else the reason it could not finish (the run is recorded ``incomplete`` with that note). It must be
idempotent, because a finalization that crashed is run again by ``reconcile``; raising releases the run so that a
later attempt finalizes it. The default, ``Reindexer.cutover``, is the build run's ``Builds.finalize``."""


@dataclass(frozen=True)
class RunPolicy:
    max_dequeue_count: int = 5
    """The host's ``maxDequeueCount`` (host.json): the attempt at which a failure is final."""
    stall_seconds: float = 3600.0
    """A non-terminal run without progress for this long is stalled: reconcile acts on it."""
    documents_per_message: int = 4
    """Documents per queue message (``REINDEX_DOCUMENTS_PER_MESSAGE``); a message of one is a DocumentMessage, of
    more a DocumentsMessage."""


class Reindexer:
    """Starts, processes, finalizes and reconciles full reindex runs of one source into the pipeline's index."""

    def __init__(
        self,
        *,
        pipeline: Pipeline | CurrentPipeline,
        source: Source,
        store: RunStore,
        queue: WorkQueue,
        policy: RunPolicy = RunPolicy(),
        on_finalized: FinalizeHook | None = None,
        builds: Builds | None = None,
    ) -> None:
        self.current = current_of(pipeline)
        self.source = source
        self.store = store
        self.queue = queue
        self.policy = policy
        self.on_finalized = on_finalized or self.cutover
        self.builds = builds
        """Plans build runs and supplies their pipelines and finalize hook; None: this deployment runs none."""

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline writing into the live index now (``CurrentPipeline``: follows the alias)."""
        return self.current.pipeline

    async def start(
        self, *, trigger: str, schema_version: int | None = None, prefix: str = "", run_id: str | None = None
    ) -> RunRecord:
        """Record a new run and enqueue its listing message; returns the run (status ``listing``).

        With ``schema_version``, a build run into an index of its own at that version, as ``builds`` plans it (which
        raises if it cannot start: for a migration, unregistered version, nothing to migrate, another one open). With
        ``prefix``, a run over the documents whose name starts with it (not with ``schema_version``: a build covers
        the whole source). ``run_id``: the id chosen beforehand (to claim a slot with it), else a new one."""
        if prefix and schema_version is not None:
            raise MigrationRefused("a build run covers the whole source: no prefix", conflict=False)
        scope = self.source.scope + prefix
        if prefix and self._source_for(scope) is None:
            raise MigrationRefused(f"this source cannot be narrowed to a prefix ({self.source.scope})", conflict=False)
        now = utcnow()
        run_id = run_id or new_run_id(now)
        index_name, target_version, planned_live = self.pipeline.index.name, None, None
        if schema_version is not None:
            if self.builds is None:
                raise MigrationRefused("this deployment does not run migrations", conflict=False)
            plan = await self.builds.plan(run_id, schema_version)
            index_name, target_version, planned_live = plan.index_name, plan.version, plan.planned_live
        run = RunRecord(
            run_id=run_id,
            status=RunStatus.LISTING,
            trigger=trigger,
            scope=scope,
            index_name=index_name,
            started_at=now,
            updated_at=now,
            target_version=target_version,
            planned_live=planned_live,
        )
        try:
            run = await self.store.create(run)
        except BaseException:
            if self.builds is not None and schema_version is not None:  # never recorded: give its claim back at once
                with contextlib.suppress(IngestionError):
                    await self.builds.release(run_id)
            raise
        try:
            await self.queue.send(encode_message(ListMessage(run.run_id)))
        except IngestionError as error:
            with contextlib.suppress(IngestionError):
                await self.store.update_header(run, status=RunStatus.ABANDONED, note=f"not started: {error}")
            raise
        log.info("run %s started by %s", run.run_id, trigger)
        return run

    async def handle(self, body: bytes | str, *, dequeue_count: int) -> DocumentResult | None:
        """Process one queue message. Raises only what the host should retry (transient and configuration errors)."""
        try:
            message = decode_message(body)
        except BadInputError as error:
            log.error("dropped a malformed reindex message: %s", error)  # retrying cannot fix it
            return None
        if isinstance(message, ListMessage):
            await self.list_run(message.run_id, last_attempt=dequeue_count >= self.policy.max_dequeue_count)
            return None
        if isinstance(message, DocumentsMessage):
            await self.process_all(message, dequeue_count=dequeue_count)
            return None
        return await self.process(message, dequeue_count=dequeue_count)

    # -- listing ----------------------------------------------------------------------------------------------------

    async def list_run(self, run_id: str, *, last_attempt: bool = False) -> RunRecord | None:
        run = await self.store.get(run_id)
        if run is None or run.status is not RunStatus.LISTING:
            log.info("run %s: listing skipped (run is %s)", run_id, run.status if run else "missing")
            return run
        counted = [0]
        try:
            await self.queue.send_all(self._document_messages(run, counted))
            expected = counted[0]
        except Exception as error:
            if last_attempt:
                await self._abandon(run, f"listing failed: {_reason(error)}")
            raise
        while run is not None and run.status is RunStatus.LISTING:
            listed = await self.store.update_header(
                run, status=RunStatus.RUNNING, expected=expected, listed_at=utcnow()
            )
            if listed is not None:
                log.info("run %s: %d documents enqueued", run_id, expected)
                break
            run = await self.store.get(run_id)
        run = await self.store.get(run_id)  # documents may all be done already: whoever completes it finalizes
        await self.finalize_if_complete(run)
        return run

    def _source_for(self, scope: str) -> Source | None:
        """The source listing ``scope``: the whole source, or a narrowed view of it; None when neither fits."""
        if scope == self.source.scope:
            return self.source
        narrow = getattr(self.source, "narrow", None)
        if narrow is None or not scope.startswith(self.source.scope) or not self.source.scope.endswith("/"):
            return None
        return narrow(scope[len(self.source.scope) :])

    async def _document_messages(self, run: RunRecord, counted: list[int]) -> AsyncIterator[str]:
        """The run's document messages; ``counted[0]`` becomes the number of documents they carry."""
        index = run.index_name if run.target_version is not None else None
        source = self._source_for(run.scope)
        if source is None:
            raise BadInputError(f"run {run.run_id}: scope {run.scope} is not within the source {self.source.scope}")
        size = max(1, self.policy.documents_per_message)
        batch: list[tuple[str, str]] = []

        def message() -> str:
            if len(batch) == 1:
                [(source_id, path)] = batch
                return encode_message(DocumentMessage(run.run_id, source_id, path, index, run.target_version))
            return encode_message(DocumentsMessage(run.run_id, tuple(batch), index, run.target_version))

        async for item in source.list():
            batch.append((item.source_id, item.path))
            counted[0] += 1
            if len(batch) == size:
                yield message()
                batch = []
        if batch:
            yield message()

    async def _abandon(self, run: RunRecord, note: str) -> None:
        with contextlib.suppress(IngestionError):
            await self.store.update_header(run, status=RunStatus.ABANDONED, note=note, finished_at=utcnow())

    # -- one document -----------------------------------------------------------------------------------------------

    async def process(self, message: DocumentMessage, *, dequeue_count: int) -> DocumentResult | None:
        key = document_key(message.source_id)
        try:
            with telemetry.bind(run_id=message.run_id):
                result = await self._ingest(message)
        except Exception as error:
            if dequeue_count >= self.policy.max_dequeue_count:
                await self._give_up(message, key, dequeue_count, error)
            raise
        # A redelivered message re-ingests (cheap: the pipeline skips unchanged documents) and counts nothing.
        counted = await self.store.record(message.run_id, key, _mark(result, attempts=dequeue_count))
        if counted is None:
            log.warning("message for unknown run %s: %s ingested, not recorded", message.run_id, message.path)
            return result
        if not counted:
            log.info("run %s: %s was already recorded (redelivered message)", message.run_id, message.path)
        await self.finalize_if_complete(await self.store.get(message.run_id))
        return result

    async def process_all(self, message: DocumentsMessage, *, dequeue_count: int) -> None:
        """Process each document of ``message`` concurrently, as ``process`` does one; once all are done, raise the
        first error any of them raised (the host retries the whole message; recorded documents count nothing)."""
        outcomes = await asyncio.gather(
            *(self.process(one, dequeue_count=dequeue_count) for one in message.split()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _ingest(self, message: DocumentMessage) -> DocumentResult:
        if not in_scope(message.source_id, self.source.scope):
            error = f"{message.path}: not a document of {self.source.scope}"
            return DocumentResult(message.path, Outcome.FAILED, error=error)
        try:
            pipeline = await self._pipeline_for(message.index, message.version)
        except BadInputError as error:  # the build run's index is gone: retrying cannot help
            return DocumentResult(message.path, Outcome.FAILED, error=f"{message.path}: {error}")
        item = await self.source.get(message.source_id)
        if item is None:  # gone since the listing: make sure the index forgets it too
            result = await pipeline.delete(message.source_id, source_path=message.path)
            # A build run counts it as deleted whether or not its index held it: verification expects it absent.
            return replace(result, outcome=Outcome.DELETED) if message.index is not None else result
        return await pipeline.ingest(self.source, item, raise_transient=True)

    async def _pipeline_for(self, index: str | None, version: int | None) -> Pipeline:
        """The main pipeline, or for a build run's ``index`` the pipeline writing into it at ``version``."""
        if index is None:
            return self.pipeline
        if self.builds is None or version is None:
            raise BadInputError(f"a build run's message for {index}, but this deployment runs no builds")
        return await self.builds.pipeline(self.pipeline, index, version)

    async def _give_up(self, message: DocumentMessage, key: str, attempts: int, error: BaseException) -> None:
        """Last attempt failed: record the document as failed so the run can complete, then the host poisons it."""
        reason = f"{message.path}: gave up after {attempts} attempts: {_reason(error)}"
        mark = DocumentMark(message.path, "failed", error=reason, attempts=attempts, poisoned=True)
        try:
            await self.store.record(message.run_id, key, mark)
            await self.finalize_if_complete(await self.store.get(message.run_id))
        except IngestionError as record_error:  # reconcile finds the poisoned message later
            log.error("run %s: could not record %s as failed: %s", message.run_id, message.path, record_error)

    # -- finalization -----------------------------------------------------------------------------------------------

    async def finalize_if_complete(self, run: RunRecord | None) -> bool:
        """Claim and finalize ``run`` if it is running and complete; True if this call finalized it."""
        while run is not None and run.status is RunStatus.RUNNING and run.complete:
            claimed = await self.store.update_header(run, status=RunStatus.FINALIZING, finalize_started_at=utcnow())
            if claimed is not None:
                await self.finalize(claimed, complete=True)
                return True
            run = await self.store.get(run.run_id)  # someone else changed the header: decide again
        return False

    async def finalize(self, run: RunRecord, *, complete: bool) -> RunRecord | None:
        """Finalize a run this caller has claimed (status ``finalizing``): sweep, hook, record it done."""
        refused = None
        try:
            swept = await self._sweep(run)
            if complete:
                refused = await self.on_finalized(await self._after_sweep(run, swept))
            if complete and refused is None and run.target_version is not None:
                swept += await self._sweep(run)  # deletions that reached only the old index during the build
        except BaseException:
            with contextlib.suppress(IngestionError):  # release the claim: the next attempt finalizes it
                await self.store.update_header(run, status=RunStatus.RUNNING, finalize_started_at=None)
            raise
        deleted = len(swept)
        status = RunStatus.DONE if complete and refused is None else RunStatus.INCOMPLETE
        note = run.note if complete else f"finalized with {self._pending(run)} documents never recorded"
        note = refused or note
        done = await self.store.update_header(
            run, status=status, finished_at=utcnow(), stale_deleted=deleted, note=note
        )
        if done is None:
            log.warning("run %s: finalized, but another worker changed the record meanwhile", run.run_id)
        else:
            telemetry.record_run(
                run.run_id,
                started=run.started_at,
                finished=done.finished_at or utcnow(),
                status=status.value,
                trigger=run.trigger,
                counts={**{name: done.count(name) for name in COUNTERS}, "stale_deleted": deleted},
            )
            log.info(
                "run %s %s: %d done, %d failed, %d stale deleted", run.run_id, status, run.done, run.failed, deleted
            )
        return done

    async def cutover(self, run: RunRecord) -> str | None:
        """The default finalize hook: a build run's ``Builds.finalize`` (a migration verifies and swaps the alias)."""
        if run.target_version is None or self.builds is None:
            return None
        return await self.builds.finalize(run, main=self.pipeline, source=self.source)

    @staticmethod
    def _pending(run: RunRecord) -> int:
        return max((run.expected or 0) - run.recorded, 0)

    async def _after_sweep(self, run: RunRecord, swept: list[str]) -> RunRecord:
        """``run`` as the cutover hook must see it: a document this build run wrote and the sweep then deleted
        (its source is gone) counts as deleted, so that verification does not expect it in the new index."""
        if run.target_version is None or not swept:
            return run
        written = [key for key in swept if await self.store.outcome(run.run_id, key) in WRITTEN]
        return replace(run, counts={**run.counts, "deleted": run.count("deleted") + len(written)})

    async def _sweep(self, run: RunRecord) -> list[str]:
        """Delete index documents under the source's scope whose source no longer exists; return their keys."""
        scope, source = run.scope, self._source_for(run.scope)
        if source is None:
            log.warning("run %s: scope %s is not the source's (%s): no sweep", run.run_id, scope, self.source.scope)
            return []
        try:
            pipeline = await self._pipeline_for(
                run.index_name if run.target_version is not None else None, run.target_version
            )
        except BadInputError as error:  # the build run's index is gone: nothing to sweep
            log.warning("run %s: no sweep: %s", run.run_id, error)
            return []
        indexed = [doc async for doc in pipeline.index.list_documents(prefix=scope)]  # snapshot the index first
        present = {item.source_id async for item in source.list()}  # then the source: a failure deletes nothing
        deleted: list[str] = []
        for doc in indexed:
            if doc.source_id in present or not in_scope(doc.source_id, scope):
                continue
            if await self.source.get(doc.source_id) is not None:  # created after the listing above
                continue
            result = await pipeline.delete(doc.source_id, source_path=doc.source_path)
            if result.outcome is Outcome.DELETED:
                deleted.append(doc.key)
        return deleted


def _mark(result: DocumentResult, *, attempts: int) -> DocumentMark:
    return DocumentMark(result.source_path, result.outcome.value, error=result.error, attempts=attempts)


def _reason(error: BaseException) -> str:
    return str(error) if isinstance(error, IngestionError) else f"internal error: {type(error).__name__}"
