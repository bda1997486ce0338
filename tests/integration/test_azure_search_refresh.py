"""Azure AI Search is near-real-time: an acknowledged write reaches reads only after a refresh (about 1 s). With the
fake's ``indexing_delay`` on, the writer must still delete every stale chunk, delete what it wrote a moment ago, and
a migration must verify the whole build, not the part that happened to be visible."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion import wiring
from ingestion.deployment import lifecycle
from ingestion.deployment.migrate import migrate, plan_migration
from ingestion.errors import TransientError
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.indexing.azure.visibility import OwnWrites
from ingestion.keys import chunk_key, document_key
from ingestion.settings import Settings
from ingestion.sources.local import LocalFolderSource
from tests.contract.index_contract import DIMENSIONS, FOX, make_document, put
from tests.fakes.search_server import FakeSearchServer
from tests.integration.test_azure_search_faults import chunk_keys, make_index, parts
from tests.integration.test_schema_local import Embedder
from tests.support.schema_versions import TOPICS

DELAY = 0.4


@pytest.fixture
def server() -> Iterator[FakeSearchServer]:
    with FakeSearchServer(indexing_delay=DELAY) as server:
        yield server


@pytest.fixture
async def index(server: FakeSearchServer) -> AsyncIterator[AzureSearchIndex]:
    index = make_index(server, settle_seconds=5.0)
    await index.ensure()
    yield index
    await index.close()


async def settled(server: FakeSearchServer, index: AzureSearchIndex) -> dict[str, str]:
    """What reads see once every write so far is visible: chunk key -> content."""
    await asyncio.sleep(DELAY + 0.1)
    return {key: doc["content"] for key, doc in server.visible_documents(index.name).items()}


async def test_the_fake_shows_a_write_only_after_the_delay(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    record = await put(index, FOX, *parts(2))
    assert set(server.documents(index.name)) == chunk_keys(FOX, 2)  # acknowledged and durable
    assert await index.get_document(record.key) is None  # not visible yet, not even by key
    assert [r async for r in index.list_documents()] == []
    await asyncio.sleep(DELAY + 0.1)
    assert await index.get_document(record.key) == record
    assert (await index.stats()).chunks == 2


async def test_a_quick_second_version_leaves_no_stale_tail(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    await put(index, FOX, *parts(6, word="first"))
    second = parts(2, word="second")
    await put(index, FOX, *second, content_version="sha256:v2")  # at once: the first version is not visible yet
    assert await settled(server, index) == {chunk_key(document_key(FOX), n): t for n, (t, _) in enumerate(second)}


async def test_a_document_written_a_moment_ago_can_be_deleted(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    record = await put(index, FOX, *parts(3))
    assert await index.delete_document(record.key) is True
    assert await settled(server, index) == {}
    assert await index.delete_document(record.key) is False  # long gone: one listing, no wait


async def test_documents_written_long_ago_are_listed_once(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    await put(index, FOX, *parts(4))
    await asyncio.sleep(DELAY + 0.1)
    credential = AzureKeyCredential(server.api_key)  # another process: no memory of the first write
    other = AzureSearchIndex(server.url, index.name, DIMENSIONS, credential=credential, settle_seconds=5.0)
    searches = server.counters().get("requests_search", 0)
    record, chunks = make_document(FOX, parts(1), content_version="sha256:v2")
    await other.replace_document(record, chunks)
    await other.close()
    assert server.counters()["requests_search"] - searches == 1
    assert set(await settled(server, index)) == chunk_keys(FOX, 1)


async def test_own_writes_wait_no_longer_than_the_settle_time() -> None:
    now = [0.0]
    writes = OwnWrites(1.0, clock=lambda: now[0])
    writes.wrote("doc", present={"doc_0", "doc_1"}, absent={"doc_2"})
    reads = []

    async def never_refreshed() -> set[str]:
        reads.append(now[0])
        now[0] += 0.25
        return {"doc_2"}

    assert await writes.listing("doc", never_refreshed) == {"doc_2"}
    assert reads == [0.0, 0.25, 0.5, 0.75]  # given up once the settle time is over
    assert await writes.listing("other", never_refreshed) == {"doc_2"} and len(reads) == 5
    with pytest.raises(ValueError):
        OwnWrites(-1)


async def test_a_migration_verifies_the_whole_build_not_what_is_visible_yet(azure, v4: int) -> None:
    root, server = azure
    server.indexing_delay = 0.5
    settings = replace(Settings.from_env(), max_concurrency=1)
    admin = wiring.build_admin(settings)
    config = lifecycle.SchemaConfig(dimensions=384, retention=timedelta(hours=72))
    try:
        await lifecycle.apply(admin, config)
        plan = await plan_migration(admin, config, version=4)

        def pipeline_for(index, schema_version, live):  # type: ignore[no-untyped-def]
            return wiring.build_pipeline(
                settings, index=index, embedder=Embedder(384), schema_version=schema_version, reuse_from=live
            )

        done = await migrate(admin, config, plan, source=LocalFolderSource(root), pipeline_for=pipeline_for)
        assert done.verification.problems == [] and done.swapped
        assert done.verification.documents == len(TOPICS)
    finally:
        await admin.close()


async def test_after_a_failed_write_the_next_one_lists_once(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    old = await put(index, FOX, *parts(4, word="old"))
    record, chunks = make_document(FOX, parts(2, word="new"), content_version="sha256:v2")
    server.fail_items([chunk_key(old.key, 0)], status=503, times=5)
    with pytest.raises(TransientError):
        await index.replace_document(record, chunks)
    await asyncio.sleep(DELAY + 0.1)  # the failed attempt's deletes are visible: the old version is no more
    searches = server.counters()["requests_search"]
    await index.replace_document(record, chunks)  # nothing to wait for: that write's outcome was never expected
    assert server.counters()["requests_search"] - searches == 1
    assert set(await settled(server, index)) == chunk_keys(FOX, 2)


async def test_own_writes_are_forgotten_after_the_settle_time() -> None:
    now = [0.0]
    writes = OwnWrites(1.0, clock=lambda: now[0])
    for name in ("a", "b", "c"):
        writes.wrote(name, present={f"{name}_0"}, absent=set())
    now[0] = 0.5
    writes.wrote("b", present={"b_0", "b_1"}, absent=set())  # rewritten: now the newest entry
    now[0] = 1.2
    writes.wrote("d", present={"d_0"}, absent=set())  # a and c expire here; b (written at 0.5) does not
    assert len(writes) == 2  # memory holds only the settle window's writes
    reads: list[float] = []

    async def empty() -> set[str]:
        reads.append(now[0])
        now[0] += 0.2
        return set()

    await writes.listing("b", empty)
    assert reads == [1.2, 1.4]  # still remembered: read again until its settle time (1.5) was over
    for name in ("a", "c"):
        assert await writes.listing(name, empty) == set()
    assert len(reads) == 4  # forgotten: one read each
