"""Settings of the schema commands: retention of retired indexes and the embedding price of a dry run."""

from __future__ import annotations

import pytest

from ingestion.errors import ConfigurationError
from ingestion.schema.estimate import price_per_million
from ingestion.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.schema_retention_hours == 72
    assert settings.embedding_price_per_million is None


def test_values_are_read() -> None:
    settings = Settings.from_env({"SCHEMA_RETENTION_HOURS": "0", "EMBEDDING_PRICE_PER_MILLION": "0.13"})
    assert (settings.schema_retention_hours, settings.embedding_price_per_million) == (0, 0.13)
    assert Settings.from_env({"SCHEMA_RETENTION_HOURS": "1_000"}).schema_retention_hours == 1000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCHEMA_RETENTION_HOURS", "-1"),
        ("SCHEMA_RETENTION_HOURS", "three days"),
        ("SCHEMA_RETENTION_HOURS", "9000"),
        ("SCHEMA_RETENTION_HOURS", "1.5"),
        ("EMBEDDING_PRICE_PER_MILLION", "-0.02"),
        ("EMBEDDING_PRICE_PER_MILLION", "cheap"),
        ("EMBEDDING_PRICE_PER_MILLION", "inf"),
        ("EMBEDDING_PRICE_PER_MILLION", "nan"),
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
