"""A rebuild with zero downtime: fill a new physical index by a full reindex, verify it, then swap the alias.

1. *Plan*: the live index, the target version's definition and the changes between them. The target is
   ``<alias>-v<N>``, or ``<alias>-v<N>-r<K>`` when that name is taken (a rebuild of a version: new dimensions). An
   unfinished build (state ``building``) of the same version and definition is *resumed*; any other unfinished build
   is deleted first (one migration at a time).
2. *Build*: the pipeline writes every document of the source into the target, at the target's schema version,
   copying vectors from the live index wherever the chunk hash matches (``Pipeline.reuse_from``): a migration that
   only changes non-vector fields embeds nothing. Documents are recorded one by one, so a run that dies part-way
   resumes where it stopped: the next ``migrate`` skips what the target already holds.
3. *Verify*: the target holds exactly the listed documents that did not fail; its chunk count matches its records;
   no more than ``max_failures`` documents failed; the live index holds no documents outside the source's scope
   (they would be lost) unless allowed; a vector query and a text query on one indexed document find it.
4. *Swap*: the alias moves to the target in one step, *only if it still points at the live index of the plan*
   (a compare-and-swap: ``IndexAdmin.set_alias(expected=...)``); the target is then marked ready and the previous
   index retired and kept for ``rollback`` until retention passes (``lifecycle.collect_garbage``, run at the end).

Readers query the alias throughout and only ever see the old index or the new, verified one. Any failure before the
swap (an exception, a kill, a failed verification) leaves the alias untouched and the target ``building``; so does
an alias that someone else moved meanwhile (another migration, a rollback): ``MigrationResult.conflict`` says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from index_schemas import physical_name
from index_schemas.diff import SchemaDiff, diff_indexes
from ingestion.deployment.lifecycle import SchemaConfig, collect_garbage
from ingestion.deployment.target import default_version, find_live
from ingestion.errors import AliasConflict, ConfigurationError
from ingestion.indexing.admin import IndexAdmin, IndexState, PhysicalIndex
from ingestion.indexing.base import Index, IndexStats
from ingestion.jsonview import as_json
from ingestion.models import DocumentRecord, RunResult, SearchMode
from ingestion.pipeline import Pipeline, ResultCallback
from ingestion.sources.base import Source, in_scope

PipelineFactory = Callable[[Index, int, Index | None], Pipeline]
"""``(target index, schema version, live index or None) -> Pipeline`` writing into the target, reusing from live."""
SMOKE_WORDS = 12
SETTLE_POLL_SECONDS = 0.2


@dataclass
class MigrationPlan:
    alias: str
    version: int
    target: str
    live: PhysicalIndex | None = None
    resume: PhysicalIndex | None = None
    stale: list[PhysicalIndex] = field(default_factory=list)
    changes: SchemaDiff | None = None
    up_to_date: bool = False

    def as_dict(self) -> dict[str, object]:
        abandon = [index.name for index in self.stale]
        return as_json(self, rename={"stale": "abandon"}, resume=self.resume is not None, abandon=abandon)


async def plan_migration(
    admin: IndexAdmin, config: SchemaConfig, *, version: int | None = None, force: bool = False
) -> MigrationPlan:
    """What ``migrate`` would do; ``up_to_date`` when the live index already is ``version`` (default:
    ``lifecycle.default_version``) with no drift."""
    indexes = await admin.list_indexes()
    live = await find_live(admin, indexes)
    version = default_version(live) if version is None else version
    config.definition(version, physical_name(admin.alias, version))  # unknown version: fail before anything
    plan = MigrationPlan(alias=admin.alias, version=version, target="", live=live)
    if live is not None:
        current = await admin.get_definition(live.name)
        plan.changes = diff_indexes(current, config.definition(version, live.name))
        if not plan.changes and live.version == version and not force:
            plan.target, plan.up_to_date = live.name, True
            return plan
    for index in indexes:
        if index.state is not IndexState.BUILDING or (live is not None and index.name == live.name):
            continue
        if plan.resume is None and index.version == version and not await _drifted(admin, config, index):
            plan.resume = index
        else:
            plan.stale.append(index)
    taken = {index.name for index in indexes if index not in plan.stale}
    plan.target = plan.resume.name if plan.resume else _free_name(admin.alias, version, taken)
    return plan


async def _drifted(admin: IndexAdmin, config: SchemaConfig, index: PhysicalIndex) -> bool:
    current = await admin.get_definition(index.name)
    return current is None or bool(diff_indexes(current, config.definition(index.version, index.name)))


def _free_name(alias: str, version: int, taken: set[str]) -> str:
    rebuild = 1
    while (name := physical_name(alias, version, rebuild=rebuild)) in taken:
        rebuild += 1
    return name


@dataclass
class Verification:
    listed: int
    failed: int
    documents: int
    chunks: int
    recorded_chunks: int
    live_documents: int | None
    outside_scope: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, **as_json(self)}


@dataclass
class MigrationResult:
    plan: MigrationPlan
    run: RunResult
    verification: Verification
    swapped: bool = False
    deleted: list[str] = field(default_factory=list)
    conflict: AliasConflict | None = None
    """Set when verification passed but the alias no longer pointed at ``plan.live``: not swapped."""

    def as_dict(self) -> dict[str, object]:
        if self.swapped:
            alias_target = self.plan.target
        elif self.conflict is not None:
            alias_target = self.conflict.found
        else:
            alias_target = self.plan.live.name if self.plan.live else None
        conflict = str(self.conflict) if self.conflict is not None else None
        return as_json(self, skip=("deleted", "conflict"), alias_target=alias_target, conflict=conflict,
                       deleted=self.deleted)  # fmt: skip


async def migrate(
    admin: IndexAdmin,
    config: SchemaConfig,
    plan: MigrationPlan,
    *,
    source: Source,
    pipeline_for: PipelineFactory,
    max_failures: int = 0,
    allow_outside_scope: bool = False,
    on_result: ResultCallback | None = None,
) -> MigrationResult:
    """Build (or resume) ``plan.target`` from ``source``, verify it, and swap the alias if it passed."""
    target = await prepare_target(admin, config, plan)
    live_index = admin.open_index(plan.live) if plan.live is not None else None
    pipeline = pipeline_for(admin.open_index(target), plan.version, live_index)
    try:
        run = await pipeline.run(source, sync_deletes=True, on_result=on_result)
        verification = await verify(
            pipeline.index,
            run,
            live=live_index,
            scope=source.scope,
            max_failures=max_failures,
            allow_outside_scope=allow_outside_scope,
        )
    finally:
        await pipeline.close()
        if live_index is not None:
            await live_index.close()
    result = MigrationResult(plan, run, verification)
    if not verification.ok:
        return result
    try:
        result.deleted = await cut_over(admin, config, target.name, live=plan.live)
    except AliasConflict as conflict:
        result.conflict = conflict
        return result
    result.swapped = True
    return result


async def prepare_target(admin: IndexAdmin, config: SchemaConfig, plan: MigrationPlan) -> PhysicalIndex:
    """Delete the plan's abandoned builds and create its target (state ``building``), or return the one it resumes."""
    if plan.up_to_date:
        raise ConfigurationError(f"{plan.target} already is schema v{plan.version}: nothing to migrate")
    for stale in plan.stale:
        await admin.delete_index(stale.name)
    if plan.resume is not None:
        return plan.resume
    return await admin.create_index(config.definition(plan.version, plan.target), version=plan.version)


async def cut_over(admin: IndexAdmin, config: SchemaConfig, target: str, *, live: PhysicalIndex | None) -> list[str]:
    """Step 4 for a verified ``target``: move the alias to it if it still points at ``live`` (the index readers used
    when the migration was planned; None: no alias and no index), retiring ``live``; then mark ``target`` ready and
    collect garbage. Returns the names ``gc`` deleted.

    ``AliasConflict`` when the alias points elsewhere (someone else moved it): the alias is untouched and the target
    stays ``building``. Idempotent: running it again once the alias points at ``target`` changes nothing but the
    state (ready) and the garbage collection."""
    current = await admin.get_alias()
    if current != target:
        if live is not None and live.name != target and current is None:
            # the fallback index readers used (no alias yet): aliased first, so it is retired (and kept) like any other
            await admin.set_alias(live.name, expected=None)
        await admin.set_alias(target, expected=live.name if live is not None else None)
    await admin.mark_ready(target)
    return await collect_garbage(admin, config)


async def abort(admin: IndexAdmin) -> list[str]:
    """Delete every unfinished build (state ``building``) that the alias does not point at."""
    live = await admin.get_alias()
    deleted = []
    for index in await admin.list_indexes():
        if index.state is IndexState.BUILDING and index.name != live and await admin.delete_index(index.name):
            deleted.append(index.name)
    return deleted


async def verify(
    index: Index,
    run: RunResult,
    *,
    live: Index | None,
    scope: str,
    max_failures: int,
    allow_outside_scope: bool,
) -> Verification:
    """Check a freshly built ``index`` against the run that built it (see the module docstring, step 3).

    The last writes of the build may not be visible yet (Azure AI Search is near-real-time): the counts are read
    again until they add up or ``index.settle_seconds`` pass, so a build is never failed for being read too early."""
    expected = run.documents - run.failed
    stats, recorded = await _observe_settled(index, expected)
    live_documents, outside = None, 0
    if live is not None:
        sources = [record.source_id async for record in live.list_documents()]
        live_documents, outside = len(sources), sum(1 for s in sources if not in_scope(s, scope))
    check = Verification(
        listed=run.documents,
        failed=run.failed,
        documents=stats.documents,
        chunks=stats.chunks,
        recorded_chunks=sum(record.chunk_count for record in recorded),
        live_documents=live_documents,
        outside_scope=outside,
    )
    if check.documents != run.documents - run.failed:
        check.problems.append(
            f"{index.name} holds {check.documents} documents; the source listed {run.documents}, {run.failed} failed"
        )
    if check.chunks != check.recorded_chunks:
        check.problems.append(f"{index.name} holds {check.chunks} chunks; its records count {check.recorded_chunks}")
    if run.failed > max_failures:
        check.problems.append(f"{run.failed} documents failed (at most {max_failures} allowed: --max-failures)")
    if outside and not allow_outside_scope:
        check.problems.append(
            f"the live index holds {outside} documents outside {scope} that the new index would not have "
            "(--allow-outside-scope to accept)"
        )
    if live_documents and not check.documents:
        check.problems.append(f"{index.name} is empty but the live index holds {live_documents} documents")
    if recorded and (problem := await smoke_query(index, recorded[0].key, recorded[0].source_path)):
        check.problems.append(problem)
    return check


async def _observe_settled(index: Index, expected: int) -> tuple[IndexStats, list[DocumentRecord]]:
    """The index's counts and records, read until they add up (``expected`` documents, as many chunks as the records
    count) or ``index.settle_seconds`` have passed; then the last reading."""
    deadline = time.monotonic() + index.settle_seconds
    while True:
        stats = await index.stats()
        recorded = [record async for record in index.list_documents()]
        consistent = stats.documents == len(recorded) == expected and stats.chunks == sum(
            record.chunk_count for record in recorded
        )
        if consistent or time.monotonic() >= deadline:
            return stats, recorded
        await asyncio.sleep(SETTLE_POLL_SECONDS)


async def smoke_query(index: Index, key: str, source_path: str) -> str | None:
    """None when a vector query with one of the document's own vectors, and a text query with words of the chunk it
    finds, both find the document; else what failed."""
    vectors = await index.get_vectors(key)
    if not vectors:
        return f"smoke query: {source_path} has no vectors in {index.name}"
    vector = next(iter(vectors.values()))
    hits = await index.search("", vector=vector, mode=SearchMode.VECTOR, top=1, source_path=source_path)
    if not hits or hits[0].parent_key != key:
        return f"smoke query: a vector query for {source_path} did not find it in {index.name}"
    words = " ".join(f"{hits[0].title} {hits[0].content}".split()[:SMOKE_WORDS])
    if words and not await index.search(words, mode=SearchMode.TEXT, top=1, source_path=source_path):
        return f"smoke query: a text query for {source_path} did not find it in {index.name}"
    return None
