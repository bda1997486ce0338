"""Concurrent invocations of one Functions instance share its embedder: chunks of several documents per request."""

from __future__ import annotations

import pytest

from ingestion.functions import reindex
from tests.fakes.openai_server import FakeOpenAIServer
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
