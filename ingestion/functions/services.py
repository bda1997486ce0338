"""What the triggers of one worker process share, built on first use and then cached for the process.

Nothing is built at import: the host indexes the app (imports function_app.py) before any setting is needed, and a
cold start then pays for the pipeline (model, index, clients) once, on the first invocation. The cache belongs to
the event loop it was built on (the worker has exactly one; tests and benchmarks start several).

The main pipeline writes into the alias's target; the reindexer and live updates share it through one
``CurrentPipeline``. When a migration run swaps the alias, ``AliasFollower`` swaps in a pipeline on the new target,
reusing the embedder; the old index is closed with the Services. The process that swapped follows at once; every
other process checks the alias when it first builds its Services and then at most every ``ALIAS_CHECK_SECONDS``, when
a trigger asks for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from ingestion.deployment.migration_runs import Migrations
from ingestion.deployment.target import find_live
from ingestion.errors import IngestionError
from ingestion.functions.clients import StorageClients
from ingestion.functions.invocation import HOST_JSON
from ingestion.indexing.admin import IndexAdmin
from ingestion.indexing.base import Index
from ingestion.pipeline import Pipeline
from ingestion.runs.builds import derive_pipeline
from ingestion.runs.current import CurrentPipeline
from ingestion.runs.live import LiveUpdates
from ingestion.runs.queue import POISON_SUFFIX, WorkQueue
from ingestion.runs.reindex import Reindexer, RunPolicy
from ingestion.runs.store import RunStore
from ingestion.settings import Settings
from ingestion.wiring import build_admin, build_index, build_pipeline, build_schema_config

log = logging.getLogger(__name__)

BLOB_TRIGGER_POISON_QUEUE = "webjobs-blobtrigger-poison"
ALIAS_CHECK_SECONDS = 5.0
"""How often, at most, a worker asks whether the alias moved (one GET of the alias; far less than one document's
cracking and embedding): after another instance's migration swaps it, this is how long writes may still reach the
retired index."""


class AliasFollower:
    """Points the shared main pipeline at the alias's target after a migration's swap (``await follower()``),
    reusing the embedder. Asks the index admin (the async client the migration uses): one GET when nothing moved."""

    def __init__(self, settings: Settings, current: CurrentPipeline, admin: IndexAdmin) -> None:
        self.settings, self.current, self.admin = settings, current, admin
        self.retired: list[Index] = []
        """Indexes left behind: a concurrent invocation may still be using them, so they close with the Services."""

    async def __call__(self) -> Pipeline:
        old = self.current.pipeline
        target = await self.admin.get_alias()
        if target is None or target == old.index.name:  # the usual case: one GET, nothing moved
            return old
        live = await find_live(self.admin)
        if live is None or live.name == old.index.name:
            return old
        index = build_index(self.settings, dimensions=old.embedder.dimensions, name=live.name, version=live.version)
        self.current.swap(derive_pipeline(old, index, version=live.version))
        self.retired.append(old.index)
        return self.current.pipeline


@dataclass
class Services:
    settings: Settings
    current: CurrentPipeline
    reindexer: Reindexer
    live: LiveUpdates
    follow_alias: AliasFollower
    _clients: StorageClients = field(repr=False)

    @property
    def pipeline(self) -> Pipeline:
        """The main pipeline, writing into the alias's target (``follow_alias`` moves it after a swap)."""
        return self.current.pipeline

    async def close(self) -> None:
        reindexer = self.reindexer
        closers = [reindexer.queue.close, reindexer.store.close, reindexer.source.close, self.pipeline.close]
        closers += [index.close for index in self.follow_alias.retired]
        if reindexer.builds is not None:
            closers.append(reindexer.builds.close)
        for close in closers:
            with contextlib.suppress(Exception):
                await close()
        await self._clients.close()


async def build_services(settings: Settings, *, pipeline: Pipeline | None = None) -> Services:
    """Build and prepare (index, table and queue created if missing) everything the triggers use."""
    clients = StorageClients(settings)
    current = CurrentPipeline(pipeline or build_pipeline(settings))
    source = clients.source()
    store = RunStore(clients.table(settings.runs_table))
    queue = WorkQueue(
        clients.queue(settings.reindex_queue),
        clients.queue(settings.reindex_queue + POISON_SUFFIX),
        watch=[clients.queue(BLOB_TRIGGER_POISON_QUEUE)],
    )
    policy = RunPolicy(
        max_dequeue_count=settings.reindex_max_dequeue_count,
        stall_seconds=settings.reindex_stall_seconds,
        documents_per_message=settings.reindex_documents_per_message,
    )
    follower = AliasFollower(settings, current, build_admin(settings))
    migrations = Migrations(
        admin=follower.admin,
        config=build_schema_config(settings, dimensions=current.pipeline.embedder.dimensions),
        follow_alias=follower,
        store=store,
        max_failures=settings.schema_migration_max_failures,
    )
    reindexer = Reindexer(
        pipeline=current, source=source, store=store, queue=queue, policy=policy, builds=migrations
    )
    live = LiveUpdates(pipeline=current, source=source, store=store)
    services = Services(settings, current, reindexer, live, follower, clients)
    try:
        await current.pipeline.index.ensure()
        await store.ensure()
        await queue.ensure()
    except BaseException:
        await services.close()
        raise
    return services


@dataclass
class _Cache:
    loop: asyncio.AbstractEventLoop
    lock: asyncio.Lock
    services: Services | None = None
    alias_checked: float = field(default_factory=time.monotonic)


_cache: _Cache | None = None


async def get_services() -> Services:
    """This process's Services, built from ``Settings.from_env()`` (and host.json's ``functionTimeout``) on the first
    call (concurrent callers wait)."""
    global _cache
    loop = asyncio.get_running_loop()
    if _cache is None or _cache.loop is not loop:
        _cache = _Cache(loop, asyncio.Lock())
    cache = _cache
    if cache.services is None:
        async with cache.lock:
            if cache.services is None:
                cache.services = await build_services(Settings.from_env(host_json=HOST_JSON))
                cache.alias_checked = -ALIAS_CHECK_SECONDS  # check at once: it may have moved since wiring read it
    if time.monotonic() - cache.alias_checked > ALIAS_CHECK_SECONDS:
        cache.alias_checked = time.monotonic()
        try:
            await cache.services.follow_alias()  # another process may have swapped it (a migration run)
        except IngestionError as error:
            log.warning("could not check the index alias (keeping %s): %s", cache.services.pipeline.index.name, error)
    return cache.services


async def close_services() -> None:
    """Close and forget the cached Services (the next get_services builds anew, e.g. after settings changed)."""
    global _cache
    cache, _cache = _cache, None
    if cache is not None and cache.services is not None and cache.loop is asyncio.get_running_loop():
        await cache.services.close()


def set_services(services: Services) -> None:
    """Use ``services`` in this process (on the running loop) instead of building them from the environment.

    For hosts that embed the handlers with a pipeline of their own: bench/reindex.py, and tests that inject faults.
    """
    global _cache
    _cache = _Cache(asyncio.get_running_loop(), asyncio.Lock(), services)
