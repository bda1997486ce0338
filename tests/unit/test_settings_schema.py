"""Settings of the schema commands: retention, the dry run's embedding price, and the compression and vectorizer
of Azure AI Search definitions."""

from __future__ import annotations

import pytest

from index_schemas import SchemaParams, VectorizerParams, v1
from ingestion import wiring
from ingestion.deployment.estimate import price_per_million
from ingestion.errors import ConfigurationError
from ingestion.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.schema_retention_hours == 72
    assert settings.embedding_price_per_million is None
    assert settings.schema_migration_max_failures == 0
    assert Settings.from_env({"SCHEMA_MIGRATION_MAX_FAILURES": "3"}).schema_migration_max_failures == 3


def test_values_are_read() -> None:
    settings = Settings.from_env({"SCHEMA_RETENTION_HOURS": "0", "EMBEDDING_PRICE_PER_MILLION": "0.13"})
    assert (settings.schema_retention_hours, settings.embedding_price_per_million) == (0, 0.13)
    assert Settings.from_env({"SCHEMA_RETENTION_HOURS": "1000"}).schema_retention_hours == 1000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCHEMA_RETENTION_HOURS", "-1"),
        ("SCHEMA_RETENTION_HOURS", "three days"),
        ("SCHEMA_RETENTION_HOURS", "9000"),
        ("SCHEMA_RETENTION_HOURS", "1.5"),
        ("SCHEMA_RETENTION_HOURS", "1_000"),  # Python syntax, not a number a person writes (issue 15)
        ("EMBEDDING_PRICE_PER_MILLION", "-0.02"),
        ("EMBEDDING_PRICE_PER_MILLION", "cheap"),
        ("EMBEDDING_PRICE_PER_MILLION", "inf"),
        ("EMBEDDING_PRICE_PER_MILLION", "nan"),
        ("SCHEMA_MIGRATION_MAX_FAILURES", "-1"),
        ("SCHEMA_MIGRATION_MAX_FAILURES", "some"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("model_id", "configured", "price"),
    [
        ("azure_openai/text-embedding-3-small", None, 0.02),
        ("azure_openai/text-embedding-3-large", None, 0.13),
        ("azure_openai/text-embedding-ada-002", None, 0.10),
        ("azure_openai/my-fine-tuned-model", None, None),
        ("azure_openai/text-embedding-3-small", 0.015, 0.015),
        ("all-MiniLM-L6-v2-onnx-int8", None, 0.0),
        ("hash-sha256", 1.0, 1.0),
    ],
)
def test_price_per_million_tokens(model_id: str, configured: float | None, price: float | None) -> None:
    assert price_per_million(model_id, configured) == price


# ---- AZURE_SEARCH_VECTOR_COMPRESSION and AZURE_SEARCH_VECTORIZER ---------------------------------------------------

AZURE_SEARCH = {"INDEX_BACKEND": "azure_search", "AZURE_SEARCH_ENDPOINT": "https://search.example.net"}
AZURE_OPENAI = {
    "AZURE_OPENAI_ENDPOINT": "https://aoai.example.net",
    "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "embed",
    "AZURE_OPENAI_EMBEDDING_MODEL": "text-embedding-3-large",
}


def test_compression_and_vectorizer_are_off_by_default() -> None:
    settings = Settings.from_env(AZURE_SEARCH)
    assert (settings.azure_search_vector_compression, settings.azure_search_vectorizer) == (None, False)
    assert wiring.schema_params(settings, name="grounding-v1", dimensions=8) == SchemaParams("grounding-v1", 8)


@pytest.mark.parametrize(("value", "compression"), [("none", None), ("scalar", "scalar"), ("binary", "binary")])
def test_compression_is_read(value: str, compression: str | None) -> None:
    settings = Settings.from_env({**AZURE_SEARCH, "AZURE_SEARCH_VECTOR_COMPRESSION": value})
    assert settings.azure_search_vector_compression == compression
    params = wiring.schema_params(settings, name="grounding-v1", dimensions=8)
    assert params == SchemaParams("grounding-v1", 8, compression=compression)


def test_the_vectorizer_is_the_embedding_deployment_without_a_key() -> None:
    env = {**AZURE_SEARCH, **AZURE_OPENAI, "AZURE_OPENAI_API_KEY": "sk-secret", "AZURE_SEARCH_VECTORIZER": "true"}
    settings = Settings.from_env(env)
    assert settings.azure_search_vectorizer is True
    params = wiring.schema_params(settings, name="grounding-v1", dimensions=8)
    assert params.vectorizer == VectorizerParams("https://aoai.example.net", "embed", "text-embedding-3-large")
    vectorizers = v1.build(params).to_wire()["vectorSearch"]["vectorizers"]
    assert vectorizers == [
        {
            "name": v1.VECTORIZER,
            "kind": "azureOpenAI",
            "azureOpenAIParameters": {
                "resourceUri": "https://aoai.example.net",
                "deploymentId": "embed",
                "modelName": "text-embedding-3-large",
            },
        }
    ]
    assert "sk-secret" not in repr(v1.build(params).to_wire())


def test_the_local_store_gets_neither() -> None:
    """Both settings are for Azure AI Search only: a local deployment keeps plain definitions, and is not refused."""
    env = {"AZURE_SEARCH_VECTOR_COMPRESSION": "binary", "AZURE_SEARCH_VECTORIZER": "true", "EMBEDDING_BACKEND": "hash"}
    settings = Settings.from_env(env)
    assert settings.index_backend == "local"
    assert wiring.schema_params(settings, name="grounding-v1", dimensions=8) == SchemaParams("grounding-v1", 8)


def test_the_writer_creates_the_deployment_definition() -> None:
    """``ingest`` creates a missing index from the writer's definition: it carries the compression and vectorizer."""
    env = {**AZURE_SEARCH, **AZURE_OPENAI, "AZURE_SEARCH_VECTOR_COMPRESSION": "binary", "AZURE_SEARCH_VECTORIZER": "1"}
    settings = Settings.from_env(env)
    index = wiring.build_index(settings, dimensions=8, name="grounding-v1", version=1)
    expected = v1.build(wiring.schema_params(settings, name="grounding-v1", dimensions=8))
    assert index.definition == expected  # type: ignore[attr-defined]
    assert expected.to_wire()["vectorSearch"]["profiles"][0]["compression"] == "binary"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({**AZURE_SEARCH, "AZURE_SEARCH_VECTOR_COMPRESSION": "int8"}, "AZURE_SEARCH_VECTOR_COMPRESSION"),
        ({**AZURE_SEARCH, "AZURE_SEARCH_VECTOR_COMPRESSION": "Scalar"}, "AZURE_SEARCH_VECTOR_COMPRESSION"),
        ({"AZURE_SEARCH_VECTOR_COMPRESSION": "pq"}, "AZURE_SEARCH_VECTOR_COMPRESSION"),
        ({**AZURE_SEARCH, "AZURE_SEARCH_VECTORIZER": "maybe"}, "AZURE_SEARCH_VECTORIZER"),
        ({**AZURE_SEARCH, "AZURE_SEARCH_VECTORIZER": "true"}, "AZURE_OPENAI_ENDPOINT"),
        (
            {**AZURE_SEARCH, **AZURE_OPENAI, "EMBEDDING_BACKEND": "hash", "AZURE_SEARCH_VECTORIZER": "true"},
            "EMBEDDING_BACKEND=azure_openai",
        ),
        (
            {**AZURE_SEARCH, **AZURE_OPENAI, "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": " ", "AZURE_SEARCH_VECTORIZER": "on"},
            "AZURE_OPENAI_EMBEDDING_DEPLOYMENT",
        ),
        (
            {
                **AZURE_SEARCH,
                **AZURE_OPENAI,
                "AZURE_OPENAI_EMBEDDING_MODEL": "my-model",
                "AZURE_SEARCH_VECTORIZER": "1",
            },
            "AZURE_OPENAI_EMBEDDING_MODEL",
        ),
    ],
)
def test_bad_compression_or_vectorizer_names_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named) as caught:
        Settings.from_env(env)
    assert "\n" not in str(caught.value)


class _SmallModel:
    model_id, dimensions, max_input_tokens = "small-model", 8, 300


def test_a_chunk_cap_above_the_azure_models_input_limit_is_refused() -> None:
    """``Embedder.max_input_tokens``: the chunker counts in the model's tokenizer, so a larger cap cannot work."""
    over = Settings.from_env({**AZURE_OPENAI, "EMBEDDING_BACKEND": "azure_openai", "CHUNK_MAX_TOKENS": "512"})
    with pytest.raises(ConfigurationError, match=r"CHUNK_MAX_TOKENS=512 is above the 300 tokens .*small-model"):
        wiring.check_chunk_cap(over, _SmallModel())  # type: ignore[arg-type]
    within = Settings.from_env({**AZURE_OPENAI, "EMBEDDING_BACKEND": "azure_openai", "CHUNK_MAX_TOKENS": "300"})
    wiring.check_chunk_cap(within, _SmallModel())  # type: ignore[arg-type]
    hashing = Settings.from_env({"EMBEDDING_BACKEND": "hash", "CHUNK_MAX_TOKENS": "512"})
    wiring.check_chunk_cap(hashing, _SmallModel())  # type: ignore[arg-type]  # only azure_openai shares the tokenizer
