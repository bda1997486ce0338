"""Every embedder runs the shared Embedder contract: the deterministic hash embedder, the local ONNX model and
Azure OpenAI through the real openai SDK on the fake service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ingestion.embedding.azure_openai import AzureOpenAIEmbedder
from ingestion.embedding.hashing import HashEmbedder
from ingestion.embedding.local import LocalEmbedder
from ingestion.embedding.ratelimit import Backoff
from ingestion.tokenizer import get_tokenizer
from tests.contract.embedder_contract import EmbedderContract
from tests.fakes.openai_server import FakeOpenAIServer


class TestHashEmbedderContract(EmbedderContract):
    @pytest.fixture
    async def embedder(self) -> AsyncIterator[HashEmbedder]:
        embedder = HashEmbedder(dimensions=64)
        yield embedder
        await embedder.close()


@pytest.fixture(scope="module")
def local_model() -> LocalEmbedder:
    """One loaded model for the module (loading it is the slow part)."""
    return LocalEmbedder(threads=2)


class TestLocalEmbedderContract(EmbedderContract):
    @pytest.fixture
    async def embedder(self, local_model: LocalEmbedder) -> LocalEmbedder:
        return local_model


@pytest.fixture(scope="module")
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(deployments={"embed": "text-embedding-3-small"}) as server:
        yield server


class TestAzureOpenAIEmbedderContract(EmbedderContract):
    @pytest.fixture
    async def embedder(self, openai_server: FakeOpenAIServer) -> AsyncIterator[AzureOpenAIEmbedder]:
        embedder = AzureOpenAIEmbedder(
            endpoint=openai_server.url,
            deployment="embed",
            tokenizer=get_tokenizer(),
            dimensions=256,
            api_key=openai_server.api_key,
            max_batch_inputs=128,  # several requests for the large batch: order must survive the split
            backoff=Backoff(base=0.01, cap=0.05),
        )
        yield embedder
        await embedder.close()
