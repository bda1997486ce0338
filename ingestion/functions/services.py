"""What the triggers of one worker process share, built on first use and then cached for the process.

Nothing is built at import: the host indexes the app (imports function_app.py) before any setting is needed, and a
cold start then pays for the pipeline (model, index, clients) once, on the first invocation. The cache belongs to
the event loop it was built on (the worker has exactly one; tests and benchmarks start several).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from ingestion.functions.clients import StorageClients
from ingestion.pipeline import Pipeline
from ingestion.runs.live import LiveUpdates
from ingestion.runs.queue import POISON_SUFFIX, WorkQueue
from ingestion.runs.reindex import Reindexer, RunPolicy
from ingestion.runs.store import RunStore
from ingestion.settings import Settings
from ingestion.wiring import build_pipeline

BLOB_TRIGGER_POISON_QUEUE = "webjobs-blobtrigger-poison"


@dataclass
class Services:
    settings: Settings
    pipeline: Pipeline
    reindexer: Reindexer
    live: LiveUpdates
    _clients: StorageClients = field(repr=False)

    async def close(self) -> None:
        reindexer = self.reindexer
        for close in (reindexer.queue.close, reindexer.store.close, reindexer.source.close, self.pipeline.close):
            with contextlib.suppress(Exception):
                await close()
        await self._clients.close()


async def build_services(settings: Settings, *, pipeline: Pipeline | None = None) -> Services:
    """Build and prepare (index, table and queue created if missing) everything the triggers use."""
    clients = StorageClients(settings)
    pipeline = pipeline or build_pipeline(settings)
    source = clients.source()
    store = RunStore(clients.table(settings.runs_table))
    queue = WorkQueue(
        clients.queue(settings.reindex_queue),
        clients.queue(settings.reindex_queue + POISON_SUFFIX),
        watch=[clients.queue(BLOB_TRIGGER_POISON_QUEUE)],
    )
    policy = RunPolicy(
        max_dequeue_count=settings.reindex_max_dequeue_count, stall_seconds=settings.reindex_stall_seconds
    )
    reindexer = Reindexer(pipeline=pipeline, source=source, store=store, queue=queue, policy=policy)
    services = Services(
        settings, pipeline, reindexer, LiveUpdates(pipeline=pipeline, source=source, store=store), clients
    )
    try:
        await pipeline.index.ensure()
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


_cache: _Cache | None = None


async def get_services() -> Services:
    """This process's Services, built from ``Settings.from_env()`` on the first call (concurrent callers wait)."""
    global _cache
    loop = asyncio.get_running_loop()
    if _cache is None or _cache.loop is not loop:
        _cache = _Cache(loop, asyncio.Lock())
    cache = _cache
    if cache.services is None:
        async with cache.lock:
            if cache.services is None:
                cache.services = await build_services(Settings.from_env())
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
