"""Concurrent invocations of one Functions instance share its embedder: chunks of several documents per request."""

from __future__ import annotations

import pytest

from ingestion.functions import reindex
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
    """The Functions reindex path on Azure AI Search (its fake): the instance's invocations write through one
    shared sender, each document still committing (chunk 0) after its other chunks."""
    with FakeSearchServer() as search:
        monkeypatch.setenv("INDEX_BACKEND", "azure_search")
        monkeypatch.setenv("AZURE_SEARCH_ENDPOINT", search.url)
        monkeypatch.setenv("AZURE_SEARCH_API_KEY", search.api_key)
        monkeypatch.setenv("CHUNK_MAX_TOKENS", "16")  # several chunks per document
        monkeypatch.setenv("CHUNK_OVERLAP_TOKENS", "0")
        names = await upload_docs(host, DOCUMENTS)
        await start_by_http()
        assert await host.drain(reindex.reindex_worker, concurrency=8) == []
        run = (await status())["last"]
        assert summary(run) == ("done", DOCUMENTS, DOCUMENTS, 0, 0)
        assert await indexed_paths() == paths(app_env, names)
        uploads = [batch for batch in search.batches if batch.status == 200 and batch.actions]
        actions = sum(len(batch.actions) for batch in uploads)
        assert actions >= 2 * DOCUMENTS  # chunks, then each document's chunk 0
        assert len(uploads) < DOCUMENTS  # not two requests per document: invocations shared requests
        assert search.counters()["duplicate_key_batches"] == 0
        position = {key: i for i, batch in enumerate(uploads) for _, key in batch.actions}
        for key, at in position.items():
            if key.endswith("_0"):  # a commit: every other chunk of its document went in an earlier request
                parent = key.removesuffix("_0")
                assert all(i < at for k, i in position.items() if k.startswith(parent + "_") and k != key)
