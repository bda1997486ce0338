"""Migration runs: a full reindex run that builds a new index schema version beside the live index, then cuts over.

``Migrations`` is the ``runs.builds.Builds`` the Functions app hands its ``Reindexer``: the durable fan-out does the
per-document work, and this module supplies the plan and the finalize hook, using the same steps as ``schema
migrate`` (``migrate.plan_migration`` -> ``prepare_target`` -> build -> ``verify`` -> ``cut_over``, which retires the
old index and runs gc).

    start      claim the migration slot (``MIGRATION_SLOT`` in the runs table: one migration run at a time, taken
               atomically), then plan exactly as ``schema migrate`` does and create or resume the target
               ``<alias>-v<N>[-r<K>]`` in state ``building``; refused (``MigrationRefused``) for an unregistered
               version, when the live index already is that version, or while another migration run is open
    documents  every document message names the target; a pipeline on the target at version N writes it, copying
               vectors from the live index wherever the chunk hash matches (``reuse_from``, as ``schema migrate``).
               One such pipeline per target and process, sharing the main pipeline's embedder, cracker and chunker
    finalize   the cutover hook (``cut_over``): verify the target (``migrate.verify``), then ``migrate.cut_over``
               (alias swap, ready, the old index retired, gc) — only if the alias still points at the live index the
               target was verified against (the one its pipeline reuses vectors from); the process's main pipeline
               follows the alias, and a catch-up pass re-ingests, into the new index, every document modified since
               the run started

Queries use the alias throughout, and blob events keep writing into the live index (the main pipeline) until the
swap: a document changed during the run reaches the old index at once and the new one through its run message (if it
was processed after the change) or through the catch-up pass. A failed verification leaves the alias untouched and
the target ``building``; the run ends ``incomplete`` with the problems in its note, and the next migration run to the
same version resumes the target (``schema migrate --abort`` deletes it). An alias moved meanwhile by someone else
(another migration, a rollback: ``errors.AliasConflict``) ends the run the same way, the conflict in its note.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from index_schemas import VERSIONS
from ingestion.deployment import migrate
from ingestion.deployment.lifecycle import SchemaConfig
from ingestion.deployment.target import find_live
from ingestion.errors import AliasConflict, BadInputError, IngestionError, MigrationRefused
from ingestion.indexing.admin import IndexAdmin
from ingestion.models import Outcome, RunResult
from ingestion.pipeline import Pipeline
from ingestion.runs.builds import BuildPlan, derive_pipeline
from ingestion.runs.records import RunRecord
from ingestion.runs.store import RunStore
from ingestion.sources.base import Source

log = logging.getLogger(__name__)

CATCH_UP_MARGIN = timedelta(minutes=5)
"""The catch-up pass also re-ingests documents modified this long before the run started (clock skew between the
storage service and the Functions host); an unchanged document costs one index read."""
MIGRATION_SLOT = "migration"
"""The runs table's slot a migration run holds from its start until it ends (``RunStore.claim_slot``)."""


class Migrations:
    """Plans migration runs (holding the migration slot), keeps one pipeline per target, and cuts over when a run
    finalizes: the ``runs.builds.Builds`` of the Functions app."""

    def __init__(
        self,
        *,
        admin: IndexAdmin,
        config: SchemaConfig,
        follow_alias: Callable[[], Awaitable[Pipeline]],
        store: RunStore | None = None,
        max_failures: int = 0,
    ) -> None:
        self.admin = admin
        self.config = config
        self.store = store
        """Where the migration slot is claimed; None: no slot (a single caller, as in tests of the cutover alone)."""
        self.follow_alias = follow_alias
        """Called after a swap: points the process's main pipeline at the alias's new target and returns it."""
        self.max_failures = max_failures
        self._pipelines: dict[str, Pipeline] = {}

    @staticmethod
    def check_version(version: object) -> int:
        """``version``, or MigrationRefused (a bad request) unless it is a registered schema version."""
        if type(version) is not int or version not in VERSIONS:
            known = ", ".join(map(str, sorted(VERSIONS)))
            raise MigrationRefused(f"schema_version must be a registered version ({known}), not {version!r}",
                                   conflict=False)  # fmt: skip
        return version

    async def plan(self, run_id: str, version: object) -> BuildPlan:
        """Claim the migration slot for ``run_id`` (one migration run at a time, atomically), then plan and create or
        resume the target; MigrationRefused (and the slot given back) when it cannot start."""
        number = self.check_version(version)
        holder = await self.store.claim_slot(MIGRATION_SLOT, run_id) if self.store is not None else None
        if holder is not None and self.store is not None:
            busy = await self.store.get(holder)
            state = f"to {busy.index_name} is still {busy.status}" if busy is not None else "is starting"
            raise MigrationRefused(f"migration run {holder} {state}", conflict=True)
        try:
            target, live = await self.prepare(number)
        except BaseException:
            with contextlib.suppress(IngestionError):
                await self.release(run_id)
            raise
        return BuildPlan(target, number, live)

    async def release(self, run_id: str) -> None:
        """Give the migration slot back (a run that was planned but never recorded)."""
        if self.store is not None:
            await self.store.release_slot(MIGRATION_SLOT, run_id)

    async def prepare(self, version: int) -> tuple[str, str | None]:
        """Plan a migration to ``version`` and create or resume its target; the target's name and the live index's
        (the one the alias must still point at when the run cuts over; None when nothing is live)."""
        self.check_version(version)
        plan = await migrate.plan_migration(self.admin, self.config, version=version)
        if plan.up_to_date:
            raise MigrationRefused(f"{plan.target} already is schema v{version}: nothing to migrate", conflict=True)
        target = await migrate.prepare_target(self.admin, self.config, plan)
        for stale in (*plan.stale, target):  # a resumed target: its pipeline is derived again, from today's live index
            await self._forget(stale.name)
        log.info("migration to v%d: %s %s", version, "resuming" if plan.resume else "building", target.name)
        return target.name, plan.live.name if plan.live is not None else None

    async def pipeline(self, main: Pipeline, target: str, version: int) -> Pipeline:
        """The pipeline writing into ``target`` at ``version`` and reusing vectors from the live index."""
        pipeline = self._pipelines.get(target)
        if pipeline is None:
            indexes = await self.admin.list_indexes()
            found = next((index for index in indexes if index.name == target), None)
            if found is None:
                raise BadInputError(f"migration target {target} no longer exists (aborted?)")
            live = await find_live(self.admin, indexes)
            reuse = self.admin.open_index(live) if live is not None and live.name != target else None
            pipeline = self._pipelines.setdefault(
                target, derive_pipeline(main, self.admin.open_index(found), version=version, reuse_from=reuse)
            )
        return pipeline

    async def finalize(self, run: RunRecord, *, main: Pipeline, source: Source) -> str | None:
        """The ``Builds`` finalize hook: ``cut_over``."""
        return await self.cut_over(run, main=main, source=source)

    async def cut_over(self, run: RunRecord, *, main: Pipeline, source: Source) -> str | None:
        """The finalize hook of a complete migration run: verify, swap, follow the alias, catch up.

        None when the alias points at the run's target afterwards; else why not (the alias is untouched). Idempotent:
        once the alias points at the target, running it again only repeats gc and the catch-up."""
        if run.target_version is None:
            return None
        if await self.admin.get_alias() != run.index_name:
            indexes = await self.admin.list_indexes()
            if all(index.name != run.index_name for index in indexes):
                return f"not swapped: {run.index_name} no longer exists (aborted?)"
            target = await self.pipeline(main, run.index_name, run.target_version)
            listed = (run.expected or 0) - run.count(Outcome.DELETED.value)  # gone since the listing: not in target
            check = await migrate.verify(
                target.index,
                RunResult(documents=listed, failed=run.failed),
                live=target.reuse_from,
                scope=source.scope,
                max_failures=self.max_failures,
                allow_outside_scope=False,
            )
            if not check.ok:
                log.error("run %s: %s not swapped: %s", run.run_id, run.index_name, "; ".join(check.problems))
                return f"not swapped, {run.index_name} kept building: " + "; ".join(check.problems)
            # The live index when the run was planned (older records: the one the target reused vectors from): the
            # swap requires the alias still on it.
            planned = run.planned_live or (target.reuse_from.name if target.reuse_from is not None else None)
            live = next((index for index in indexes if index.name == planned), None)
            try:
                deleted = await migrate.cut_over(self.admin, self.config, run.index_name, live=live)
            except AliasConflict as conflict:
                log.error("run %s: %s not swapped: %s", run.run_id, run.index_name, conflict)
                await self._forget(run.index_name)  # a run resuming it derives its pipeline from the new live index
                return f"not swapped, {run.index_name} kept building: {conflict}"
            log.info("run %s: alias %s -> %s; gc deleted %s", run.run_id, self.admin.alias, run.index_name, deleted)
        main = await self.follow_alias()
        caught = await self.catch_up(run, main=main, source=source)
        log.info("run %s: catch-up re-ingested %d documents changed during the migration", run.run_id, caught)
        return None

    async def catch_up(self, run: RunRecord, *, main: Pipeline, source: Source) -> int:
        """Re-ingest into ``main`` (now on the new index) every document modified since the run started; how many
        were added or updated. Documents deleted meanwhile are left to the stale sweep that follows."""
        since = run.started_at - CATCH_UP_MARGIN
        changed = 0
        async for item in source.list():
            if item.last_modified >= since:
                result = await main.ingest(source, item, raise_transient=True)
                changed += result.outcome in (Outcome.ADDED, Outcome.UPDATED)
        return changed

    async def _forget(self, target: str) -> None:
        pipeline = self._pipelines.pop(target, None)
        if pipeline is not None:
            await _close_indexes(pipeline)

    async def close(self) -> None:
        for target in list(self._pipelines):
            await self._forget(target)
        await self.admin.close()


async def _close_indexes(pipeline: Pipeline) -> None:
    """Close what a derived pipeline owns: its indexes (the embedder and cracker belong to the main pipeline)."""
    for index in (pipeline.index, pipeline.reuse_from):
        if index is not None:
            with contextlib.suppress(Exception):
                await index.close()
