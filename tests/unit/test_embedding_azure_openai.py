"""Pure parts of the Azure OpenAI embedder: batching plan, dimensions, retry-after parsing, construction."""

from __future__ import annotations

import email.utils
import time

import pytest

from ingestion.cloud.retry_after import parse_retry_after
from ingestion.embedding.azure_openai import AzureOpenAIEmbedder, plan_batches, resolve_dimensions
from ingestion.errors import ConfigurationError
from ingestion.settings import Secret, Settings
from ingestion.tokenizer import get_tokenizer


def test_plan_splits_by_input_count() -> None:
    batches = plan_batches([1] * 5000, max_inputs=2048, max_tokens=10**9)
    assert [len(b) for b in batches] == [2048, 2048, 904]
    assert [b.start for b in batches] == [0, 2048, 4096]


def test_plan_splits_by_token_budget_and_keeps_order() -> None:
    counts = [3000, 3000, 3000, 8191, 1, 5000, 5000]
    batches = plan_batches(counts, max_inputs=2048, max_tokens=8191)
    assert [list(b) for b in batches] == [[0, 1], [2], [3], [4, 5], [6]]
    assert all(sum(counts[i] for i in b) <= 8191 for b in batches)


def test_plan_of_nothing_is_empty() -> None:
    assert plan_batches([], max_inputs=10, max_tokens=10) == []


@pytest.mark.parametrize(
    ("model", "requested", "expected"),
    [
        ("text-embedding-3-small", None, (1536, True)),
        ("text-embedding-3-small", 256, (256, True)),
        ("text-embedding-3-large", None, (3072, True)),
        ("text-embedding-ada-002", None, (1536, False)),
        ("text-embedding-ada-002", 1536, (1536, False)),
        ("some-future-model", 768, (768, False)),
    ],
)
def test_dimensions_per_model(model: str, requested: int | None, expected: tuple[int, bool]) -> None:
    assert resolve_dimensions(model, requested) == expected


@pytest.mark.parametrize(
    ("model", "requested"),
    [("text-embedding-ada-002", 512), ("text-embedding-3-small", 2000), ("some-future-model", None)],
)
def test_impossible_dimensions_are_configuration_errors(model: str, requested: int | None) -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_EMBEDDING_DIMENSIONS"):
        resolve_dimensions(model, requested)


def test_retry_after_prefers_milliseconds_then_seconds_then_a_date() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "junk", "retry-after": "2"}) == 2.0
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 < parse_retry_after({"retry-after": in_ten}) <= 10.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_from_settings_carries_every_azure_openai_setting() -> None:
    settings = Settings(
        embedding_backend="azure_openai",
        azure_openai_endpoint="https://example.openai.azure.com",
        azure_openai_embedding_deployment="emb",
        azure_openai_embedding_model="text-embedding-3-large",
        azure_openai_embedding_dimensions=1024,
        azure_openai_api_key=Secret("k"),
        azure_openai_tpm=600_000,
        azure_openai_max_batch_tokens=50_000,
    )
    embedder = AzureOpenAIEmbedder.from_settings(settings, get_tokenizer())
    assert (embedder.model_id, embedder.dimensions, embedder.max_input_tokens) == (
        "azure_openai/text-embedding-3-large",
        1024,
        8191,
    )
    assert (embedder.endpoint, embedder.deployment) == ("https://example.openai.azure.com", "emb")


def test_from_settings_requires_endpoint_and_deployment() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_EMBEDDING_DEPLOYMENT"):
        AzureOpenAIEmbedder.from_settings(Settings(azure_openai_endpoint="https://x"), get_tokenizer())
