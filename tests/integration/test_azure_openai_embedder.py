"""The Azure OpenAI embedder through the real openai SDK against the in-process fake service."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import openai
import pytest
from azure.core.credentials import AccessToken

from ingestion.embedding.azure_openai import AzureOpenAIEmbedder
from ingestion.embedding.ratelimit import Backoff
from ingestion.errors import (
    BadInputError,
    ConfigurationError,
    DocumentRejectedError,
    ThrottledError,
    TransientError,
)
from ingestion.tokenizer import get_tokenizer
from tests.fakes.openai_server import FakeOpenAIServer, expected_vector

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
WORDS += ("india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")


def words(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(count))


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(deployments={"embed": "text-embedding-3-small", "ada": "text-embedding-ada-002"}) as fake:
        yield fake


def embedder_for(server: FakeOpenAIServer, **options: Any) -> AzureOpenAIEmbedder:
    options.setdefault("api_key", server.api_key)
    options.setdefault("backoff", Backoff(base=0.01, cap=0.05))
    return AzureOpenAIEmbedder(
        endpoint=server.url, deployment=options.pop("deployment", "embed"), tokenizer=get_tokenizer(), **options
    )


def assert_vectors(
    actual: np.ndarray, texts: list[str], dimensions: int, model: str = "text-embedding-3-small"
) -> None:
    assert actual.shape == (len(texts), dimensions)
    assert actual.dtype == np.float32
    expected = np.stack([expected_vector(t, dimensions, model=model) for t in texts])
    np.testing.assert_allclose(actual, expected, atol=1e-6)


async def test_vectors_come_back_in_input_order_even_when_the_response_is_shuffled(server: FakeOpenAIServer) -> None:
    server.shuffle_order = True
    texts = [words(n, seed=n) for n in random.Random(7).sample(range(1, 400), 60)]
    embedder = embedder_for(server, max_batch_tokens=8191)
    try:
        vectors = await embedder.embed(texts)
    finally:
        await embedder.close()
    assert_vectors(vectors, texts, 1536)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert all(r.body["encoding_format"] == "base64" for r in server.records)


async def test_float_encoding_and_base64_decode_to_the_same_vector(server: FakeOpenAIServer) -> None:
    # The service's base64 is little-endian float32: decoding must give the exact floats, not a byte-swapped mess.
    embedder = embedder_for(server, dimensions=8)
    try:
        vectors = await embedder.embed(["one", "two"])
    finally:
        await embedder.close()
    expected = np.stack([expected_vector("one", 8), expected_vector("two", 8)])
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)
    assert server.records[0].body == {"model": "text-embedding-3-small", "dimensions": 8, "encoding_format": "base64"}


async def test_batches_hold_at_most_2048_inputs(server: FakeOpenAIServer) -> None:
    texts = [f"item {i}" for i in range(4100)]
    embedder = embedder_for(server, dimensions=16)
    try:
        vectors = await embedder.embed(texts)
    finally:
        await embedder.close()
    assert sorted(r.inputs for r in server.records) == [4, 2048, 2048]
    assert_vectors(vectors, texts, 16)


async def test_batches_respect_the_token_budget(server: FakeOpenAIServer) -> None:
    texts = [words(1000, seed=i) for i in range(20)]
    counts = [get_tokenizer().count(t) for t in texts]
    embedder = embedder_for(server, dimensions=32, max_batch_tokens=8191)
    try:
        vectors = await embedder.embed(texts)
    finally:
        await embedder.close()
    assert all(r.tokens <= 8191 for r in server.records)
    assert sum(r.tokens for r in server.records) == sum(counts)
    assert len(server.records) >= sum(counts) // 8191 + 1
    assert_vectors(vectors, texts, 32)


async def test_requests_run_concurrently(server: FakeOpenAIServer) -> None:
    server.latency = 0.1
    texts = [words(2000, seed=i) for i in range(8)]
    embedder = embedder_for(server, dimensions=8, max_batch_tokens=8191)
    try:
        await embedder.embed(texts)
    finally:
        await embedder.close()
    assert len(server.records) >= 4
    assert server.max_in_flight >= 3


async def test_an_over_long_input_fails_before_any_request(server: FakeOpenAIServer) -> None:
    embedder = embedder_for(server)
    try:
        with pytest.raises(BadInputError, match=r"input 1 of 2 has \d+ tokens, over the 8191-token limit"):
            await embedder.embed(["short", "word " * 9000])
        with pytest.raises(BadInputError, match="empty"):
            await embedder.embed(["fine", ""])
    finally:
        await embedder.close()
    assert server.records == []


async def test_empty_batch_calls_nothing(server: FakeOpenAIServer) -> None:
    embedder = embedder_for(server)
    assert (await embedder.embed([])).shape == (0, 1536)
    await embedder.close()
    assert server.records == []


async def test_a_429_storm_still_embeds_everything_within_the_window_quota() -> None:
    # 10,000 tokens per 0.5 s sliding window; 60 inputs of ~400 tokens need at least three windows.
    with FakeOpenAIServer(tokens_per_minute=1_200_000, window_seconds=0.5) as server:
        texts = [words(400, seed=i) for i in range(60)]
        embedder = embedder_for(server, dimensions=8, max_batch_tokens=8191)
        try:
            vectors = await embedder.embed(texts)
        finally:
            await embedder.close()
        counters = server.counters()
    assert_vectors(vectors, texts, 8)
    assert counters["throttled"] >= 1
    assert counters["inputs_accepted"] == 60
    # honouring retry-after keeps the storm short: no hammering with a 10 ms backoff
    assert counters["throttled"] <= 3 * counters["accepted"]


async def test_retry_after_is_honoured(server: FakeOpenAIServer) -> None:
    server.fail_next(2, status=429, retry_after=0.3)
    embedder = embedder_for(server, dimensions=8)
    try:
        vectors = await embedder.embed(["a", "b"])
    finally:
        await embedder.close()
    assert_vectors(vectors, ["a", "b"], 8)
    statuses = [r.status for r in server.records]
    assert statuses == [429, 429, 200]
    gaps = np.diff([r.at for r in server.records])
    assert all(gap >= 0.29 for gap in gaps)  # the backoff alone would be 10-50 ms


async def test_server_errors_are_retried(server: FakeOpenAIServer) -> None:
    server.fail_next(1, status=500)
    server.fail_next(1, status=503)
    server.fail_next(1, status=408)
    server.fail_next(1, status=409)
    embedder = embedder_for(server, dimensions=8)
    try:
        vectors = await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert [r.status for r in server.records] == [500, 503, 408, 409, 200]
    assert_vectors(vectors, ["x"], 8)


async def test_a_timeout_is_retried(server: FakeOpenAIServer) -> None:
    server.delay_next(1, 1.0)
    embedder = embedder_for(server, dimensions=8, request_timeout=0.2)
    try:
        vectors = await embedder.embed(["slow"])
    finally:
        await embedder.close()
    assert_vectors(vectors, ["slow"], 8)
    # The first attempt was abandoned at the timeout and sent again: with a timeout longer than the delay the one
    # slow request would simply have been waited for.
    assert server.arrivals == 2


async def test_retries_stop_at_the_time_budget(server: FakeOpenAIServer) -> None:
    server.fail_next(1000, status=503)
    embedder = embedder_for(server, retry_budget_seconds=0.3)
    try:
        with pytest.raises(TransientError, match="HTTP 503") as caught:
            await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert not isinstance(caught.value, ThrottledError)
    assert 2 <= len(server.records) < 1000


async def test_endless_throttling_becomes_throttled_error_with_retry_after(server: FakeOpenAIServer) -> None:
    server.fail_next(1000, status=429, retry_after=0.1)
    embedder = embedder_for(server, retry_budget_seconds=0.35)
    try:
        with pytest.raises(ThrottledError) as caught:
            await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert caught.value.retry_after == pytest.approx(0.1)
    assert 2 <= len(server.records) <= 5


async def test_connection_refused_is_transient() -> None:
    with FakeOpenAIServer() as gone:
        url = gone.url
    embedder = AzureOpenAIEmbedder(
        endpoint=url,
        deployment="embed",
        tokenizer=get_tokenizer(),
        api_key="k",
        retry_budget_seconds=0.2,
        backoff=Backoff(base=0.01, cap=0.05),
    )
    try:
        with pytest.raises(TransientError, match="connection failed"):
            await embedder.embed(["x"])
    finally:
        await embedder.close()


async def test_a_400_is_not_retried_and_carries_the_service_message(server: FakeOpenAIServer) -> None:
    server.fail_next(5, status=400)
    embedder = embedder_for(server)
    try:
        with pytest.raises(DocumentRejectedError, match=r"HTTP 400\): The server had an error"):
            await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert len(server.records) == 1


async def test_wrong_key_is_a_configuration_error_that_never_shows_the_key(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-wrong-but-secret-7f3a9c"
    caplog.set_level(logging.DEBUG)
    embedder = embedder_for(server, api_key=secret)
    try:
        with pytest.raises(ConfigurationError, match="refused the credentials") as caught:
            await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert len(server.records) == 1
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.__cause__)
    assert caplog.records, "expected the SDK's debug logging to be captured"
    assert secret not in caplog.text
    assert all(secret not in str(r.args) for r in caplog.records)


async def test_unknown_deployment_is_a_configuration_error(server: FakeOpenAIServer) -> None:
    embedder = embedder_for(server, deployment="nope")
    try:
        with pytest.raises(ConfigurationError, match=r"'nope'.*not found"):
            await embedder.embed(["x"])
    finally:
        await embedder.close()


async def test_a_response_without_an_index_is_retried_once_then_fails(server: FakeOpenAIServer) -> None:
    server.malform_next(2)
    embedder = embedder_for(server, dimensions=8)
    try:
        with pytest.raises(TransientError, match="malformed response"):
            await embedder.embed(["a", "b", "c"])
        assert len(server.records) == 2
        server.malform_next(1)
        vectors = await embedder.embed(["a", "b", "c"])
    finally:
        await embedder.close()
    assert len(server.records) == 4
    assert_vectors(vectors, ["a", "b", "c"], 8)


async def test_dimensions_are_sent_only_to_text_embedding_3_models(server: FakeOpenAIServer) -> None:
    small = embedder_for(server, dimensions=256)
    ada = embedder_for(server, deployment="ada", model="text-embedding-ada-002")
    try:
        small_vectors = await small.embed(["hello"])
        ada_vectors = await ada.embed(["hello"])
    finally:
        await small.close()
        await ada.close()
    assert [r.body.get("dimensions") for r in server.records] == [256, None]
    assert "dimensions" not in server.records[1].body
    assert_vectors(small_vectors, ["hello"], 256)
    assert_vectors(ada_vectors, ["hello"], 1536, model="text-embedding-ada-002")


class FakeCredential:
    """An async TokenCredential standing in for DefaultAzureCredential."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass


async def test_entra_id_sends_a_bearer_token_from_the_credential() -> None:
    with FakeOpenAIServer(bearer_tokens=("entra-token-1",)) as server:
        credential = FakeCredential("entra-token-1")
        embedder = embedder_for(server, api_key=None, credential=credential, dimensions=8)
        try:
            vectors = await embedder.embed(["hello"])
        finally:
            await embedder.close()
    assert credential.scopes[0] == ("https://cognitiveservices.azure.com/.default",)
    assert [r.auth for r in server.records] == ["bearer:entra-token-1"]
    assert_vectors(vectors, ["hello"], 8)


async def test_a_refused_entra_token_is_a_configuration_error() -> None:
    with FakeOpenAIServer(bearer_tokens=("the-right-one",)) as server:
        embedder = embedder_for(server, api_key=None, credential=FakeCredential("stale"))
        try:
            with pytest.raises(ConfigurationError, match="HTTP 401"):
                await embedder.embed(["hello"])
        finally:
            await embedder.close()
        assert [r.auth for r in server.records] == ["invalid"]


@pytest.mark.parametrize("version", ["2024-10-22", "2099-01-01", "2024-10-21-preview", "latest", ""])
async def test_an_api_version_the_service_does_not_have_is_a_configuration_error(
    server: FakeOpenAIServer, version: str
) -> None:
    embedder = embedder_for(server, api_version=version)
    try:
        with pytest.raises(ConfigurationError, match="404") as caught:
            await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert f"API version {version}" in str(caught.value)
    assert server.counters()["accepted"] == 0


@pytest.mark.parametrize("version", ["2024-06-01", "2024-10-21", "2025-04-01-preview"])
async def test_real_api_versions_are_accepted(server: FakeOpenAIServer, version: str) -> None:
    embedder = embedder_for(server, dimensions=8, api_version=version)
    try:
        vectors = await embedder.embed(["x"])
    finally:
        await embedder.close()
    assert_vectors(vectors, ["x"], 8)


async def test_the_fake_serves_the_v1_endpoint_without_an_api_version(server: FakeOpenAIServer) -> None:
    client = openai.AsyncOpenAI(base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0)
    try:
        response = await client.embeddings.create(model="embed", input=["alpha", "bravo"], dimensions=8)
        vectors = np.array([item.embedding for item in response.data], dtype=np.float32)
        assert_vectors(vectors, ["alpha", "bravo"], 8)
        with pytest.raises(openai.NotFoundError):
            await client.embeddings.create(model="missing", input=["alpha"])
        with pytest.raises(openai.BadRequestError, match="API version not supported"):
            await client.embeddings.create(model="embed", input=["a"], extra_query={"api-version": "2024-10-21"})
    finally:
        await client.close()
    assert [r.auth for r in server.records] == ["api-key"] * 3
