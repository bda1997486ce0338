"""Concurrent invocations of one Functions instance share its embedder: chunks of several documents per request."""

from __future__ import annotations

import pytest

from ingestion.functions import reindex
from ingestion.functions.services import get_services
from ingestion.keys import chunk_key, document_key
from ingestion.sources.blob import blob_source_id
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.search_server import FakeSearchServer
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost
from tests.functions.test_reindex_runs import indexed_paths, paths, start_by_http, status, summary, upload_docs

pytestmark = pytest.mark.azurite

DOCUMENTS = 16


async def test_concurrent_reindex_invocations_share_embedding_requests(
    app_env: AppEnv, host: FunctionsHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(latency=0.3) as openai:  # a request takes a while: invocations overlap, as in a host
        monkeypatch.setenv("EMBEDDING_BACKEND", "azure_openai")
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", openai.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", openai.api_key)
        monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "embed")
        monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DIMENSIONS", "64")
        monkeypatch.delenv("REINDEX_DOCUMENTS_PER_MESSAGE")  # the default: several documents per message
        names = await upload_docs(host, DOCUMENTS)
        await start_by_http()
        assert await host.drain(reindex.reindex_worker, concurrency=8) == []  # the host's queue batch size
        run = (await status())["last"]
        assert summary(run) == ("done", DOCUMENTS, DOCUMENTS, 0, 0)
        assert await indexed_paths() == paths(app_env, names)
        embedded = [r for r in openai.records if r.status == 200]
        assert sum(r.inputs for r in embedded) == DOCUMENTS  # one chunk each
        assert len(embedded) < DOCUMENTS  # not one request per document: invocations shared requests
        assert max(r.inputs for r in embedded) > 1


async def test_concurrent_reindex_invocations_share_indexing_requests_on_azure_search(
    app_env: AppEnv, host: FunctionsHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Functions reindex path on Azure OpenAI and Azure AI Search (their fakes), with faults injected: the
    instance's invocations write through one shared sender, each document still committing (chunk 0) after its
    other chunks, and nothing is lost."""
    with FakeSearchServer() as search, FakeOpenAIServer(latency=0.2) as openai:
        monkeypatch.setenv("EMBEDDING_BACKEND", "azure_openai")
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", openai.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", openai.api_key)
        monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "embed")
        monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DIMENSIONS", "64")
        monkeypatch.setenv("INDEX_BACKEND", "azure_search")
        monkeypatch.setenv("AZURE_SEARCH_ENDPOINT", search.url)
        monkeypatch.setenv("AZURE_SEARCH_API_KEY", search.api_key)
        monkeypatch.setenv("CHUNK_MAX_TOKENS", "16")  # several chunks per document
        monkeypatch.setenv("CHUNK_OVERLAP_TOKENS", "0")
        monkeypatch.delenv("REINDEX_DOCUMENTS_PER_MESSAGE")  # the default: several documents per message
        names = await upload_docs(host, DOCUMENTS)
        await start_by_http()
        openai.fail_next(2, status=429, retry_after=0.1)
        openai.fail_next(1, status=500)
        search.fail_requests(2, kind="index", status=503, retry_after=0.1)
        flaky = chunk_key(document_key(blob_source_id("devstoreaccount1", app_env.container, names[3])), 0)
        search.fail_items([flaky], status=503, times=2)
        assert await host.drain(reindex.reindex_worker, concurrency=8) == []
        run = (await status())["last"]
        assert summary(run) == ("done", DOCUMENTS, DOCUMENTS, 0, 0)
        assert await indexed_paths() == paths(app_env, names)
        assert [(r.kind, r.status) for r in search.records].count(("index", 503)) == 2
        assert 207 in [batch.status for batch in search.batches]
        uploads = [batch for batch in search.batches if batch.status in (200, 207) and batch.actions]
        assert sum(key == flaky for batch in uploads for _, key in batch.actions) == 3  # refused twice, then applied
        stored = search.documents((await get_services()).pipeline.index.name)
        assert sum(key.endswith("_0") for key in stored) == DOCUMENTS
        assert len(stored) >= 2 * DOCUMENTS  # several chunks per document
        assert len(uploads) < DOCUMENTS  # not two requests per document: invocations shared requests
        assert search.counters()["duplicate_key_batches"] == 0
        position = {key: i for i, batch in enumerate(uploads) for _, key in batch.actions}
        for key in stored:
            if key.endswith("_0"):  # a commit: every other chunk of its document went in an earlier request
                parent = key.removesuffix("_0")
                others = [k for k in stored if k.startswith(parent + "_") and k != key]
                assert others and all(position[k] < position[key] for k in others)
